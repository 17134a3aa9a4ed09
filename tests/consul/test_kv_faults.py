"""KV sync after a Consul fault partway through, against the Consul HTTP double.

For syncs of 1, 2 and 3 transactions (128 operations each), a fault is injected before each
transaction (500, or a connection reset), after one commits (its answer is lost), or by a
concurrent writer between transactions (409). Each case checks the error (one line: the cause
and exactly what is left written), the KV after the failure, and that a retry by a fresh provider
with the same inputs converges to exactly the desired keys, no other key touched.
The provider runs in-process; Consul is the double (tests/consul_double.py + consul_double_faults).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from components.consul.client import ConsulClient
from components.consul.kv_provider import ConsulKvProvider
from components.consul.kv_sync import ConsulKvError
from tests.consul_double import ConsulDouble
from tests.consul_double_faults import FaultKind, TxnFault, TxnFaults

pytestmark = pytest.mark.integration

TOKEN = "faults-token-7c1d"
PREFIX = "app/staging"
SECRET_KEY = "database/master-password"
SECRET, NEW_SECRET = "s3cret-pw-before-41aa", "s3cret-pw-after-93bf"
# Not this stack's: under the prefix, and beside it.
FOREIGN = {f"{PREFIX}/zz-foreign": "theirs", "app/other/x": "elsewhere"}
OPS = {1: 80, 2: 200, 3: 300}
"""Operations each sync sends, by the transactions (of 128, Consul's limit) they take."""
CHUNK = 128


@dataclass(frozen=True)
class Case:
    op: str
    chunks: int
    kind: FaultKind
    at: int
    sticky: bool = False
    concurrent: str = ""
    """concurrent-write: "same" (the value this run writes) or "other"."""

    def __str__(self) -> str:
        extra = "-consul-stays-down" if self.sticky else (f"-{self.concurrent}-value"
                                                           if self.concurrent else "")
        return f"{self.op}-{self.chunks}txn-{self.kind}-at-txn{self.at}{extra}"


def cases() -> Iterator[Case]:
    for op in ("create", "update"):
        for chunks in (1, 2, 3):
            for at in range(1, chunks + 1):
                for kind in ("error", "reset", "commit-then-reset"):
                    yield Case(op, chunks, kind, at)  # type: ignore[arg-type]
                    yield Case(op, chunks, kind, at, sticky=True)  # type: ignore[arg-type]
                yield Case(op, chunks, "concurrent-write", at, concurrent="same")
                yield Case(op, chunks, "concurrent-write", at, concurrent="other")


def values(case: Case, phase: str) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, secret) values, OPS[chunks] operations in all. An update changes every value,
    the secret too, and drops a key its `before` holds."""
    if case.op == "create":
        return {f"k{i:03}": "v2" for i in range(OPS[case.chunks] - 1)}, {SECRET_KEY: SECRET}
    keys = [f"k{i:03}" for i in range(OPS[case.chunks] - 2)]
    if phase == "after":
        return dict.fromkeys(keys, "v2"), {SECRET_KEY: NEW_SECRET}
    return dict.fromkeys(keys, "v1") | {"gone": "x"}, {SECRET_KEY: SECRET}


def props(double: ConsulDouble, plain: dict[str, str], secret: dict[str, str]) -> dict[str, Any]:
    return {"prefix": PREFIX, "address": double.address, "datacenter": "", "caCert": "",
            "token": TOKEN, "values": plain, "secretValues": secret}


def txn_chunks(case: Case) -> list[list[str]]:
    """The full keys each transaction of the sync carries: every op, in key order, by 128."""
    plain, secret = values(case, "after")
    keys = {**plain, **secret}
    if case.op == "update":
        old_plain, _ = values(case, "before")
        keys.update({k: "" for k in old_plain if k not in plain})
    ops = sorted(f"{PREFIX}/{k}" for k in keys)
    return [ops[i:i + CHUNK] for i in range(0, len(ops), CHUNK)]


def kv(double: ConsulDouble) -> dict[str, str | None]:
    return {k: double.value(k) for k in double.kv}


@dataclass
class Run:
    double: ConsulDouble
    case: Case
    state: dict[str, Any]
    news: dict[str, Any]
    before: dict[str, str | None]
    foreign_indexes: dict[str, int]


@pytest.fixture(params=list(cases()), ids=str)
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    case: Case = request.param
    with ConsulDouble(token=TOKEN) as double:
        for key, value in FOREIGN.items():
            double.put(key, value)
        state: dict[str, Any] = {}
        if case.op == "update":
            first = props(double, *values(case, "before"))
            state = {**first, **ConsulKvProvider().create(first).outs}
        yield Run(double, case, state, props(double, *values(case, "after")), kv(double),
                  {k: double.kv[k].modify_index for k in FOREIGN})


def sync(run: Run) -> dict[str, Any]:
    """One `pulumi up` of the resource by a fresh provider: create, or diff then update."""
    provider = ConsulKvProvider()
    if run.case.op == "create":
        return dict(provider.create(run.news).outs)
    assert provider.diff(PREFIX, run.state, run.news).changes
    return dict(provider.update(PREFIX, run.state, run.news).outs)


def failing_sync(run: Run, monkeypatch: pytest.MonkeyPatch) -> str:
    """The error of a sync under the case's fault, as raised before any redaction."""
    case = run.case
    faults = TxnFaults(run.double)
    fault = faults.add(TxnFault(
        at=case.at, kind=case.kind, sticky=case.sticky,
        value=None if case.concurrent == "same" else "written-by-someone-else"))
    with monkeypatch.context() as patched:
        patched.setattr(ConsulClient, "scrub", lambda _self, text: text)
        with pytest.raises(ConsulKvError) as err:
            sync(run)
    assert fault.fired, f"the fault at write txn {case.at} never fired"
    run.double.faults = None
    return str(err.value)


def expected_left(case: Case) -> list[str]:
    """The keys (full) the failed run leaves changed, as each fault implies."""
    chunks = txn_chunks(case)
    earlier = [k for chunk in chunks[:case.at - 1] for k in chunk]
    if not case.sticky:
        return []  # the rollback goes through
    # Consul stays down for writes, so no rollback applies; a rollback that commits with its
    # answer lost undoes the last chunk (the one at `at`) and the sync stops there.
    return earlier


def wanted(run: Run) -> dict[str, str | None]:
    plain, secret = values(run.case, "after")
    return {f"{PREFIX}/{k}": v for k, v in {**plain, **secret}.items()}


def label(key: str) -> str:
    """A key as the error names it: the update's dropped key was deleted."""
    return f"{key} (deleted)" if key == f"{PREFIX}/gone" else key


def test_a_fault_gives_one_line_naming_the_cause_and_what_is_left(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    case = run.case
    message = failing_sync(run, monkeypatch)
    chunks = txn_chunks(case)
    assert "\n" not in message
    assert message.startswith(f"Consul KV write to {run.double.address} (datacenter of the "
                              f"agent) failed at key {chunks[case.at - 1][0]}: "), message
    cause = {"error": "Consul answered 500 rpc error making call: No cluster leader",
             "reset": "Consul is unreachable (", "commit-then-reset": "Consul is unreachable ("}
    if case.kind == "concurrent-write":
        assert ("already exists in Consul and this stack did not write it" if case.op == "create"
                else "was changed outside Pulumi since the last up") in message
    else:
        assert cause[case.kind] in message
    left = sorted(label(k) for k in expected_left(case))
    landed = case.kind == "commit-then-reset"
    rolled = sum(len(c) for c in chunks[:case.at if landed else case.at - 1])
    if case.sticky and rolled:
        assert f"Rolling back failed (Consul {'answered 500' if case.kind == 'error' else 'is'}" \
            in message
        assert message.endswith(
            f"; read back from Consul, {len(left)} keys hold what this run wrote: "
            f"{', '.join(left)}. Run `pulumi up` again once Consul answers: it adopts keys that "
            "already hold exactly the configured values and writes the rest." if left else
            "; read back from Consul, nothing this run wrote is left."), message
    elif rolled:
        assert message.endswith(f"Rolled back the {rolled} keys this run had written: nothing "
                                "changed."), message
    else:
        assert message.endswith("Nothing was written."), message
    if case.kind != "concurrent-write":
        # A 500 or a lost answer may follow a commit: Consul is asked before anything is said.
        verdict = "had landed all the same" if landed else "did not land"
        assert f"Read back, that transaction {verdict}. " in message


def test_a_fault_never_puts_a_secret_in_the_error_raw_or_base64(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    message = failing_sync(run, monkeypatch)
    for secret in (SECRET, NEW_SECRET):
        assert secret not in message
        assert base64.b64encode(secret.encode()).decode() not in message


def test_after_a_fault_kv_holds_the_previous_state_but_what_the_error_names(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    failing_sync(run, monkeypatch)
    expected = dict(run.before)
    new = wanted(run)
    for key in expected_left(run.case):
        if key in new:
            expected[key] = new[key]
        else:
            expected.pop(key)
    if run.case.kind == "concurrent-write":
        key = txn_chunks(run.case)[run.case.at - 1][0]
        expected[key] = new[key] if run.case.concurrent == "same" else "written-by-someone-else"
    assert kv(run.double) == expected


def test_a_retry_after_a_fault_converges_to_exactly_the_desired_keys(
        run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    failing_sync(run, monkeypatch)
    case = run.case
    if case.concurrent == "other":
        # Someone else's value is never overwritten: the retry stops naming the key, and goes
        # through once the operator settles it (delete a foreign key; refresh an owned one).
        key = txn_chunks(case)[case.at - 1][0]
        with pytest.raises(ConsulKvError, match=key):
            sync(run)
        assert run.double.value(key) == "written-by-someone-else"
        if case.op == "create":
            run.double.delete(key)
        else:
            run.state = {**run.state, **ConsulKvProvider().read(PREFIX, run.state).outs}
    outs = sync(run)
    assert {k: v for k, v in kv(run.double).items() if k not in FOREIGN} == wanted(run)
    assert {k: (run.double.value(k), run.double.kv[k].modify_index) for k in FOREIGN} == {
        k: (v, run.foreign_indexes[k]) for k, v in FOREIGN.items()}
    assert outs["indexes"] == {k.removeprefix(f"{PREFIX}/"): run.double.kv[k].modify_index
                               for k in wanted(run)}
    notes = capsys.readouterr().err
    assert SECRET not in notes
    assert NEW_SECRET not in notes


@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_when_consul_cannot_be_read_back_the_error_names_the_keys_that_may_be_written(
        chunks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    case = Case("create", chunks, "commit-then-reset", chunks)
    with ConsulDouble(token=TOKEN) as double:
        faults = TxnFaults(double)
        faults.add(TxnFault(at=chunks, kind="commit-then-reset", then_down=True))
        news = props(double, *values(case, "after"))
        with monkeypatch.context() as patched:
            patched.setattr(ConsulClient, "scrub", lambda _self, text: text)
            with pytest.raises(ConsulKvError) as err:
                ConsulKvProvider().create(news)
        message = str(err.value)
        # Earlier transactions cannot be rolled back either: every key may be written.
        maybe = [k for chunk in txn_chunks(case) for k in chunk]
        assert f"Consul could not be read back (Consul answered 500 No cluster leader), so " \
               f"{len(maybe)} keys may hold what this run wrote: {', '.join(maybe)}. Run " \
               "`pulumi up` again" in message
        assert SECRET not in message
        double.no_leader = False
        double.faults = None
        ConsulKvProvider().create(news)
        assert kv(double) == {f"{PREFIX}/{k}": v for k, v in
                              {**news["values"], **news["secretValues"]}.items()}
