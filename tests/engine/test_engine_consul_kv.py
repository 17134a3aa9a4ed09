"""ConsulKv under the REAL Pulumi engine (CLI v3.260.0, file backend, passphrase secrets).

Real: the Pulumi CLI and engine, the Automation API, the dynamic provider plugin process (our shim
scripts/shims/pulumi-resource-pulumi-python), the Consul client over HTTP, and Consul 1.14.11
(tests/real_consul.py, ACLs default-deny, a key_prefix-write token). One stack for the module;
tests run in file order and each leaves it converged. Only the fault test uses the HTTP double
(tests/consul_double.py), on a stack of its own: a real agent cannot be made to fail one txn.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from pulumi import automation as auto

from tests.consul_double import ConsulDouble
from tests.engine.kv_stack import (
    ENTRIES_TYPE,
    PLAIN,
    PROJECT,
    SECRET,
    SECRET_KEY,
    KvStack,
    kv_stack,
    kv_stack_on_double,
)
from tests.engine.workspace import ROOT, SECRET_SIG, SIG_KEY, resource_outputs, state_text
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@pytest.fixture(scope="module")
def kv(tmp_path_factory: pytest.TempPathFactory, consul_agent: ConsulAgent) -> Iterator[KvStack]:
    with kv_stack(tmp_path_factory.mktemp("engine-kv"), "kv", consul_agent) as stack:
        yield stack


def test_up_writes_every_entry_and_the_secret_to_consul(kv: KvStack) -> None:
    # With a token that may write only this prefix: anonymous writes would have been refused.
    stored = {k: kv.consul.value(f"{kv.prefix}/{k}") for k in [*PLAIN, SECRET_KEY]}
    assert stored == {**PLAIN, SECRET_KEY: SECRET}


def test_second_up_changes_nothing_and_writes_nothing(kv: KvStack) -> None:
    before = kv.consul.write_index()
    result = kv.up()
    assert result.summary.resource_changes == {"same": 3}
    assert kv.consul.write_index() == before


def test_preview_of_a_changed_value_writes_nothing(kv: KvStack) -> None:
    kv.desired["feature/flag"] = "off"
    before = kv.consul.write_index()
    try:
        preview = kv.stack.preview(on_output=kv.capture())
    finally:
        kv.desired["feature/flag"] = PLAIN["feature/flag"]
    assert preview.change_summary.get("update") == 1, preview.change_summary
    assert kv.consul.write_index() == before
    assert kv.consul.value(f"{kv.prefix}/feature/flag") == "on"


def test_the_policy_pack_runs_under_the_real_engine(kv: KvStack) -> None:
    # Through our analyzer shim; its rules target AWS types, which this stack has none of.
    captured = kv.capture()
    preview = kv.stack.preview(policy_packs=[str(ROOT / "policy")], on_output=captured)
    assert preview.change_summary == {"same": 3}
    assert "webtier-policy@v0.1.0 (local: " in captured.text


def test_refresh_reads_a_hand_made_change_and_up_puts_it_back(kv: KvStack) -> None:
    kv.consul.put(f"{kv.prefix}/service/port", "9090")
    refreshed = kv.stack.refresh(on_output=kv.capture())
    assert refreshed.summary.resource_changes == {"same": 2, "update": 1}
    assert resource_outputs(kv.stack, ENTRIES_TYPE)["values"]["service/port"] == "9090"

    restored = kv.up()
    assert restored.summary.resource_changes == {"same": 2, "update": 1}
    assert kv.consul.value(f"{kv.prefix}/service/port") == "8080"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KvStack, ConsulDouble]]:
    with kv_stack_on_double(tmp_path_factory.mktemp("engine-kv-fault"), "fault") as pair:
        yield pair


def test_a_consul_fault_mid_up_fails_with_a_one_line_cause_and_a_retry_converges(
        faulty: tuple[KvStack, ConsulDouble]) -> None:
    kv, double = faulty
    kv.desired["feature/flag"] = "off"
    double.fail_txn_after = double.txn_writes_applied  # the next write txn fails (500)
    try:
        with pytest.raises(auto.CommandError) as failed:
            kv.up()
    finally:
        double.fail_txn_after = None
    # The SDK's dynamic provider host reports any provider error as traceback.format_exc()
    # (pulumi/dynamic/__main__.py); components/provider_errors.py cuts it to the cause alone.
    assert "Traceback" not in str(failed.value), str(failed.value)
    marker = "error: components.consul.kv_sync.ConsulKvError:"
    causes = {line.split(marker, 1)[1].strip() for line in str(failed.value).splitlines()
              if marker in line}
    assert len(causes) == 1, str(failed.value)
    cause = causes.pop()
    assert f"failed at key {kv.prefix}/feature/flag: Consul answered 500" in cause
    assert "No cluster leader." in cause
    assert cause.endswith("Nothing was written.")
    assert kv.consul.value(f"{kv.prefix}/feature/flag") == "on"

    retried = kv.up()
    assert retried.summary.resource_changes == {"same": 2, "update": 1}
    assert kv.consul.value(f"{kv.prefix}/feature/flag") == "off"
    assert kv.up().summary.resource_changes == {"same": 3}


def test_state_and_output_hold_no_secret_in_plain_text(kv: KvStack) -> None:
    text = state_text(kv.tmp) + kv.all_output()
    for secret in (SECRET, kv.consul.token):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text
    stack_file = json.loads((kv.tmp / "state").joinpath(
        ".pulumi", "stacks", PROJECT, "kv.json").read_text())
    entries = [r for r in stack_file["checkpoint"]["latest"]["resources"]
               if r["type"] == ENTRIES_TYPE]
    # Present, but as ciphertext: the test would pass vacuously if the value were just missing.
    for prop in ("secretValues", "token"):
        sealed = entries[0]["outputs"][prop]
        assert sealed.get(SIG_KEY) == SECRET_SIG, prop
        assert sealed.get("ciphertext"), prop
