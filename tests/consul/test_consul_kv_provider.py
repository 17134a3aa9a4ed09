"""The KV provider's create/diff/update/delete/read over HTTP, against Consul.

Every test in the first part runs against a real Consul 1.14.11 agent (tests/real_consul.py:
ACLs default-deny, each test its own prefix and a token with key_prefix write on it). The tests
that inject faults, or count and inspect the requests the provider sends (the double records every
request; an agent does not), use the HTTP double (tests/consul_double.py) and say so in their name.
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import dill
import pytest
import requests

from components.consul.kv_provider import ConsulKvProvider
from components.consul.kv_sync import ConsulKvError
from tests.consul_double import ConsulDouble, iter_txn_sizes
from tests.real_consul import ConsulAgent

TOKEN = "test-acl-token-5f1e0c2a"
SECRET = "s3cret-db-password-9d2b"
provider = ConsulKvProvider()
"""Replaced before each test: a fresh provider keeps no read from another test."""


@dataclass
class Backend:
    """A Consul to test against, reached only over HTTP so the double and an agent look alike."""

    address: str
    token: str
    prefix: str
    double: ConsulDouble | None = None
    admin: str = ""
    """The token an operator's own writes and reads use; "" means the provider's token."""

    def _headers(self) -> dict[str, str]:
        token = self.admin or self.token
        return {"X-Consul-Token": token} if token else {}

    def props(self, values: dict[str, str], secret_values: dict[str, str] | None = None,
              **extra: Any) -> dict[str, Any]:
        return {"prefix": self.prefix, "address": self.address, "datacenter": "",
                "caCert": "", "token": self.token, "values": values,
                "secretValues": secret_values or {}, **extra}

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def value(self, rel: str) -> str | None:
        r = requests.get(f"{self.address}/v1/kv/{self.key(rel)}?raw", headers=self._headers(),
                         timeout=5)
        return None if r.status_code == 404 else r.text

    def modify_index(self, rel: str) -> int:
        r = requests.get(f"{self.address}/v1/kv/{self.key(rel)}", headers=self._headers(),
                         timeout=5)
        return int(r.json()[0]["ModifyIndex"])

    def write(self, rel: str, value: str) -> None:
        """A write by someone else: an operator, another tool."""
        r = requests.put(f"{self.address}/v1/kv/{self.key(rel)}", data=value.encode(),
                         headers=self._headers(), timeout=5)
        assert r.json() is True

    def remove(self, rel: str) -> None:
        requests.delete(f"{self.address}/v1/kv/{self.key(rel)}", headers=self._headers(),
                        timeout=5)

    def listed(self) -> list[str]:
        r = requests.get(f"{self.address}/v1/kv/{self.prefix}/?keys", headers=self._headers(),
                         timeout=5)
        return [] if r.status_code == 404 else [k[len(self.prefix) + 1:] for k in r.json()]

    def wipe(self) -> None:
        requests.delete(f"{self.address}/v1/kv/{self.prefix}/?recurse", headers=self._headers(),
                        timeout=5)


@pytest.fixture(autouse=True)
def _fresh_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # As each `pulumi up` starts its own provider host.
    monkeypatch.setattr(sys.modules[__name__], "provider", ConsulKvProvider())


@pytest.fixture
def double() -> Iterator[ConsulDouble]:
    with ConsulDouble(token=TOKEN) as d:
        yield d


@pytest.fixture
def backend(consul_agent: ConsulAgent, kv_prefix: str) -> Backend:
    """The real agent, reached with a token that may write this test's prefix and nothing else;
    `admin` (the management token) plays the operator writing by hand."""
    token = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "write" }}')
    return Backend(consul_agent.address, token, kv_prefix,
                   admin=consul_agent.management_token)


def created(backend: Backend, values: dict[str, str],
            secret_values: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """Create through the provider; return the state the engine would keep."""
    props = backend.props(values, secret_values, **extra)
    return {**props, **provider.create(props).outs}


# --- create ------------------------------------------------------------------------------------

def test_kv_create_writes_every_key_under_the_prefix(backend: Backend) -> None:
    created(backend, {"database/master-user": "webapp", "app/log-level": "debug"},
            {"database/master-password": SECRET})
    assert {k: backend.value(k) for k in backend.listed()} == {
        "app/log-level": "debug", "database/master-password": SECRET,
        "database/master-user": "webapp"}


def test_kv_create_records_each_key_modify_index(backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    assert state["indexes"] == {"a": backend.modify_index("a"), "b": backend.modify_index("b")}


def test_kv_create_of_more_keys_than_one_txn_holds_writes_them_all(
        backend: Backend) -> None:
    values = {f"bulk/k{i:03}": str(i) for i in range(150)}
    state = created(backend, values)
    assert (len(backend.listed()), len(state["indexes"])) == (150, 150)


def test_kv_create_over_a_key_the_stack_did_not_write_fails_and_writes_nothing(
        backend: Backend) -> None:
    backend.write("b", "someone else's")
    with pytest.raises(ConsulKvError, match=r"b already exists in Consul \(ModifyIndex \d+\) "
                       "and this stack did not write it"):
        created(backend, {"a": "1", "b": "2"})
    assert (backend.listed(), backend.value("b")) == (["b"], "someone else's")


def test_kv_create_over_a_foreign_key_in_a_later_txn_writes_nothing(
        backend: Backend) -> None:
    # Create reads the prefix first, so the clash stops it before any transaction
    # (faults between transactions: tests/consul/test_kv_faults.py).
    backend.write("bulk/k140", "someone else's")
    values = {f"bulk/k{i:03}": str(i) for i in range(150)}
    with pytest.raises(ConsulKvError, match="bulk/k140 already exists in Consul"):
        created(backend, values)
    assert backend.listed() == ["bulk/k140"]


# --- diff --------------------------------------------------------------------------------------

def test_kv_diff_reports_no_change_when_config_and_consul_match_state(
        backend: Backend) -> None:
    state = created(backend, {"a": "1"})
    assert provider.diff(backend.prefix, state, backend.props({"a": "1"})).changes is False


def test_kv_diff_reports_a_changed_value(backend: Backend) -> None:
    state = created(backend, {"a": "1"})
    assert provider.diff(backend.prefix, state, backend.props({"a": "2"})).changes is True


def test_kv_diff_reports_drift_when_a_key_changed_outside_pulumi(
        backend: Backend) -> None:
    state = created(backend, {"a": "1"})
    backend.write("a", "manual")
    assert provider.diff(backend.prefix, state, backend.props({"a": "1"})).changes is True


def test_kv_diff_replaces_on_a_new_prefix(backend: Backend) -> None:
    state = created(backend, {"a": "1"})
    news = {**backend.props({"a": "1"}), "prefix": f"{backend.prefix}-moved"}
    assert provider.diff(backend.prefix, state, news).replaces == ["prefix"]


# --- update ------------------------------------------------------------------------------------

def test_kv_update_writes_the_new_value_and_records_its_index(backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    outs = provider.update(backend.prefix, state, backend.props({"a": "1", "b": "3"})).outs
    assert backend.value("b") == "3"
    assert outs["indexes"]["b"] == backend.modify_index("b")


def test_kv_update_leaves_unchanged_keys_untouched(backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    before = backend.modify_index("a")
    provider.update(backend.prefix, state, backend.props({"a": "1", "b": "3"}))
    assert backend.modify_index("a") == before


def test_kv_update_does_not_overwrite_a_value_changed_outside_pulumi(
        backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.write("a", "manual")
    with pytest.raises(ConsulKvError, match=f"{backend.prefix}/a was changed outside Pulumi"):
        provider.update(backend.prefix, state, backend.props({"a": "9", "b": "3"}))
    assert (backend.value("a"), backend.value("b")) == ("manual", "2")


def test_kv_update_cas_fails_on_a_change_made_after_the_diff_read(
        backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    news = backend.props({"a": "9", "b": "3"})
    provider.diff(backend.prefix, state, news)
    backend.write("a", "raced")
    with pytest.raises(ConsulKvError, match=r"rolled back \(409\).*changed outside Pulumi"):
        provider.update(backend.prefix, state, news)
    # The whole txn was refused: b, in the same txn as the conflicting a, was not written either.
    assert (backend.value("a"), backend.value("b")) == ("raced", "2")


def test_kv_update_deletes_keys_dropped_from_config_but_not_foreign_ones(
        backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.write("foreign", "x")
    provider.update(backend.prefix, state, backend.props({"a": "1"}))
    assert backend.listed() == ["a", "foreign"]


def test_kv_update_after_refresh_restores_the_configured_value(
        backend: Backend) -> None:
    state = created(backend, {"a": "1"})
    backend.write("a", "manual")
    refreshed = {**state, **provider.read(backend.prefix, state).outs}
    provider.update(backend.prefix, refreshed, backend.props({"a": "1"}))
    assert backend.value("a") == "1"


# --- read (refresh) ----------------------------------------------------------------------------

def test_kv_read_shows_the_live_value_of_a_drifted_key(backend: Backend) -> None:
    state = created(backend, {"a": "1"}, {"s": SECRET})
    backend.write("s", "rotated-by-hand")
    outs = provider.read(backend.prefix, state).outs
    assert outs["secretValues"] == {"s": "rotated-by-hand"}
    assert outs["indexes"]["s"] == backend.modify_index("s")


def test_kv_read_drops_a_key_deleted_outside_pulumi_from_ownership(
        backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.remove("b")
    outs = provider.read(backend.prefix, state).outs
    assert (sorted(outs["indexes"]), outs["values"]) == (["a"], {"a": "1"})


# --- delete ------------------------------------------------------------------------------------

def test_kv_delete_removes_only_the_keys_it_wrote(backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.write("foreign", "x")
    provider.delete(backend.prefix, state)
    assert backend.listed() == ["foreign"]


def test_kv_delete_refuses_a_key_changed_outside_pulumi_and_deletes_nothing(
        backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.write("b", "manual")
    with pytest.raises(ConsulKvError, match=f"{backend.prefix}/b was changed outside Pulumi"):
        provider.delete(backend.prefix, state)
    assert backend.listed() == ["a", "b"]


def test_kv_delete_succeeds_when_a_key_is_already_gone(backend: Backend) -> None:
    state = created(backend, {"a": "1", "b": "2"})
    backend.remove("a")
    provider.delete(backend.prefix, state)
    assert backend.listed() == []


def test_kv_delete_of_more_keys_than_one_txn_holds_removes_them_all(
        backend: Backend) -> None:
    state = created(backend, {f"k{i:03}": "v" for i in range(130)})
    provider.delete(backend.prefix, state)
    assert backend.listed() == []


# --- failures: unreachable, denied -------------------------------------------------------------

def test_kv_create_against_an_unreachable_address_names_address_key_and_cause() -> None:
    props = {"prefix": "app/staging", "address": "http://127.0.0.1:9", "datacenter": "",
             "caCert": "", "token": TOKEN, "values": {"a": "1"},
             "secretValues": {"database/master-password": SECRET}}
    with pytest.raises(ConsulKvError) as err:
        provider.create(props)
    message = str(err.value)
    assert "http://127.0.0.1:9" in message
    assert "app/staging/a" in message
    assert "unreachable" in message
    assert SECRET not in message
    assert TOKEN not in message


def test_kv_create_with_an_unknown_token_names_key_and_denial(backend: Backend) -> None:
    bogus = str(uuid.uuid4())
    props = {**backend.props({"a": "1"}), "token": bogus}
    with pytest.raises(ConsulKvError) as err:
        provider.create(props)
    message = str(err.value)
    assert all(s in message for s in (backend.address, f"{backend.prefix}/a", "denied", "403"))
    assert "ACL not found" in message
    assert bogus not in message
    assert backend.listed() == []


def test_kv_update_with_a_token_that_may_only_read_fails_in_txn(
        backend: Backend, consul_agent: ConsulAgent) -> None:
    state = created(backend, {"a": "1"})
    reader = consul_agent.make_token(f'key_prefix "{backend.prefix}/" {{ policy = "read" }}')
    news = {**backend.props({"a": "2"}), "token": reader}
    with pytest.raises(ConsulKvError, match="ACL token was denied") as err:
        provider.update(backend.prefix, {**state, "token": reader}, news)
    assert reader not in str(err.value)
    assert backend.value("a") == "1"


@pytest.mark.integration
def test_kv_failure_mid_sync_against_consul_double_reports_keys_left_written(
        double: ConsulDouble) -> None:
    backend = Backend(double.address, TOKEN, "app/staging", double)
    double.fail_txn_after = 1  # the second txn, and the rollback, find no leader
    with pytest.raises(ConsulKvError) as err:
        created(backend, {f"k{i:03}": "v" for i in range(200)})
    message = str(err.value)
    assert "failed at key app/staging/k128" in message
    left = message.split("keys hold what this run wrote: ")[1].split(". ")[0].split(", ")
    assert left == [f"app/staging/k{i:03}" for i in range(128)]


def test_kv_secret_value_never_appears_in_an_error(backend: Backend) -> None:
    backend.write(SECRET, "x")  # even a key that happens to equal the secret
    with pytest.raises(ConsulKvError) as err:
        created(backend, {}, {SECRET: SECRET})
    assert SECRET not in str(err.value)


# --- what goes over the wire -------------------------------------------------------------------

@pytest.mark.integration
def test_kv_txn_chunks_against_consul_double_never_exceed_the_op_limit(
        double: ConsulDouble) -> None:
    backend = Backend(double.address, TOKEN, "app/staging", double)
    created(backend, {f"k{i:03}": "v" for i in range(300)})
    assert list(iter_txn_sizes(double.recorded)) == [128, 128, 44]


@pytest.mark.integration
def test_kv_update_against_consul_double_is_one_read_and_one_txn(double: ConsulDouble) -> None:
    backend = Backend(double.address, TOKEN, "app/staging", double)
    state = created(backend, {f"k{i:03}": "v" for i in range(50)})
    news = backend.props({f"k{i:03}": "w" for i in range(50)})
    double.reset_requests()
    provider.diff("app/staging", state, news)
    provider.update("app/staging", state, news)
    assert double.requests == [("GET", "/v1/kv/app/staging/"), ("PUT", "/v1/txn")]


@pytest.mark.integration
def test_kv_token_travels_as_a_header_never_in_the_url_against_consul_double(
        double: ConsulDouble) -> None:
    backend = Backend(double.address, TOKEN, "app/staging", double)
    created(backend, {"a": "1"})
    txn = next(r for r in double.recorded if r.path == "/v1/txn")
    assert txn.headers.get("x-consul-token") == TOKEN
    assert all("token" not in r.query for r in double.recorded)


def test_kv_configured_token_wins_over_consul_http_token(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", str(uuid.uuid4()))  # unknown to Consul
    created(backend, {"a": "1"})
    assert backend.value("a") == "1"


def test_kv_without_a_configured_token_uses_consul_http_token(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", backend.token)
    state = created(replace(backend, token=""), {"a": "1"})
    assert (backend.value("a"), state["token"]) == ("1", "")


def test_kv_datacenter_is_sent_to_consul(backend: Backend) -> None:
    assert created(backend, {"a": "1"}, datacenter="dc1")["indexes"]["a"] > 0
    with pytest.raises(ConsulKvError, match="No path to datacenter"):
        provider.create(backend.props({"b": "1"}, datacenter="elsewhere"))


# --- the provider as Pulumi pickles it into state ---------------------------------------------

# serialize_provider(ConsulKvProvider()) when the class lived in components/consul/kv.py: stacks
# deployed then hold this in state, and refresh and destroy unpickle it.
EARLIER_PICKLE = "gASVMAAAAAAAAACMFGNvbXBvbmVudHMuY29uc3VsX2t2lIwQQ29uc3VsS3ZQcm92aWRlcpSTlCmBlC4="


@pytest.mark.integration
def test_kv_provider_pickles_without_what_it_read_against_consul_double(
        double: ConsulDouble) -> None:
    from pulumi.dynamic.dynamic import serialize_provider

    backend = Backend(double.address, TOKEN, "app/staging", double)
    state = created(backend, {"a": "1"}, {"s": SECRET})
    provider.diff("app/staging", state, backend.props({"a": "2"}, {"s": SECRET}))
    blob = serialize_provider(provider)
    assert SECRET not in base64.b64decode(blob).decode("latin-1")
    assert blob == serialize_provider(ConsulKvProvider())


@pytest.mark.integration
def test_kv_provider_pickled_by_the_earlier_layout_syncs_with_one_read_against_consul_double(
        double: ConsulDouble) -> None:
    earlier = dill.loads(base64.b64decode(EARLIER_PICKLE))  # noqa: S301 - a constant written above
    backend = Backend(double.address, TOKEN, "app/staging", double)
    state = created(backend, {"a": "1"})
    news = backend.props({"a": "2"})
    double.reset_requests()
    earlier.diff("app/staging", state, news)
    earlier.update("app/staging", state, news)
    assert isinstance(earlier, ConsulKvProvider)
    assert double.requests == [("GET", "/v1/kv/app/staging/"), ("PUT", "/v1/txn")]
    assert double.value("app/staging/a") == "2"


# --- previews: values not known yet ------------------------------------------------------------

def test_kv_check_accepts_values_unknown_during_preview() -> None:
    from pulumi.runtime import rpc

    news = {"prefix": "app/staging", "address": "http://127.0.0.1:8500", "values": rpc.UNKNOWN,
            "secretValues": {"a": rpc.UNKNOWN}}
    assert provider.check({}, news).failures == []


@pytest.mark.integration
def test_kv_diff_with_values_unknown_during_preview_reports_a_change_against_consul_double(
        double: ConsulDouble) -> None:
    from pulumi.runtime import rpc

    backend = Backend(double.address, TOKEN, "app/staging", double)
    state = created(backend, {"a": "1"})
    news = {**backend.props({"a": "1"}), "secretValues": rpc.UNKNOWN}
    assert provider.diff("app/staging", state, news).changes is True
