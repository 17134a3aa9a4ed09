"""ConsulKv under the REAL Pulumi engine (CLI v3.260.0, file backend, passphrase secrets).

Real: the Pulumi CLI and engine, the Automation API, the dynamic provider plugin process (our shim
scripts/shims/pulumi-resource-pulumi-python), py-consul over HTTP. Double: Consul
(tests/consul_double.py on loopback). One stack for the module; tests run in file order and each
leaves it converged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from pulumi import automation as auto

from tests.engine.kv_stack import (
    ENTRIES_TYPE,
    PLAIN,
    PREFIX,
    PROJECT,
    SECRET,
    SECRET_KEY,
    TOKEN,
    KvStack,
    kv_stack,
)
from tests.engine.workspace import ROOT, SECRET_SIG, SIG_KEY, resource_outputs, state_text

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@pytest.fixture(scope="module")
def kv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvStack]:
    with kv_stack(tmp_path_factory.mktemp("engine-kv"), "kv") as stack:
        yield stack


def test_up_writes_every_entry_and_the_secret_to_consul(kv: KvStack) -> None:
    stored = {k: kv.consul.value(f"{PREFIX}/{k}") for k in [*PLAIN, SECRET_KEY]}
    assert stored == {**PLAIN, SECRET_KEY: SECRET}
    txns = [r for r in kv.first_up if r.path == "/v1/txn"]
    assert txns, "the first up wrote through no /v1/txn"
    assert all(r.headers.get("x-consul-token") == TOKEN for r in txns)


def test_second_up_changes_nothing_and_writes_nothing(kv: KvStack) -> None:
    kv.consul.reset_requests()
    result = kv.up()
    assert result.summary.resource_changes == {"same": 3}
    assert kv.writes() == []


def test_preview_of_a_changed_value_writes_nothing(kv: KvStack) -> None:
    kv.desired["feature/flag"] = "off"
    kv.consul.reset_requests()
    try:
        preview = kv.stack.preview(on_output=kv.capture())
    finally:
        kv.desired["feature/flag"] = PLAIN["feature/flag"]
    assert preview.change_summary.get("update") == 1, preview.change_summary
    assert kv.writes() == []
    assert kv.consul.value(f"{PREFIX}/feature/flag") == "on"


def test_the_policy_pack_runs_under_the_real_engine(kv: KvStack) -> None:
    # Through our analyzer shim; its rules target AWS types, which this stack has none of.
    captured = kv.capture()
    preview = kv.stack.preview(policy_packs=[str(ROOT / "policy")], on_output=captured)
    assert preview.change_summary == {"same": 3}
    assert "webtier-policy@v0.1.0 (local: " in captured.text


def test_refresh_reads_a_hand_made_change_and_up_puts_it_back(kv: KvStack) -> None:
    kv.consul.put(f"{PREFIX}/service/port", "9090")
    refreshed = kv.stack.refresh(on_output=kv.capture())
    assert refreshed.summary.resource_changes == {"same": 2, "update": 1}
    assert resource_outputs(kv.stack, ENTRIES_TYPE)["values"]["service/port"] == "9090"

    restored = kv.up()
    assert restored.summary.resource_changes == {"same": 2, "update": 1}
    assert kv.consul.value(f"{PREFIX}/service/port") == "8080"


def test_a_consul_fault_mid_up_fails_with_a_one_line_cause_and_a_retry_converges(
        kv: KvStack) -> None:
    kv.desired["feature/flag"] = "off"
    kv.consul.fail_txn_after = kv.consul.txn_writes_applied  # the next write txn fails (500)
    try:
        with pytest.raises(auto.CommandError) as failed:
            kv.up()
    finally:
        kv.consul.fail_txn_after = None
    # The SDK's dynamic provider host reports any provider error as traceback.format_exc()
    # (pulumi/dynamic/__main__.py); components/provider_errors.py cuts it to the cause alone.
    assert "Traceback" not in str(failed.value), str(failed.value)
    marker = "error: components.consul.kv_sync.ConsulKvError:"
    causes = {line.split(marker, 1)[1].strip() for line in str(failed.value).splitlines()
              if marker in line}
    assert len(causes) == 1, str(failed.value)
    cause = causes.pop()
    assert f"failed at key {PREFIX}/feature/flag: Consul answered 500" in cause
    assert "No cluster leader." in cause
    assert cause.endswith("Nothing was written.")
    assert kv.consul.value(f"{PREFIX}/feature/flag") == "on"

    retried = kv.up()
    assert retried.summary.resource_changes == {"same": 2, "update": 1}
    assert kv.consul.value(f"{PREFIX}/feature/flag") == "off"
    assert kv.up().summary.resource_changes == {"same": 3}


def test_state_and_output_hold_no_secret_in_plain_text(kv: KvStack) -> None:
    text = state_text(kv.tmp) + kv.all_output()
    for secret in (SECRET, TOKEN):
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
