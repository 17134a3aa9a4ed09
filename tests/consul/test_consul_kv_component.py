"""The ConsulKv component under Pulumi mocks: wiring, and that secrets stay secret.

No Consul here: the dynamic provider never runs under mocks. What is checked is what the engine
would receive and store: which properties are secret, what the pickled provider carries.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.consul.client import normalize_address, resolve_connection
from components.consul.kv import ConsulConnection, ConsulKv, ConsulKvArgs
from components.consul.kv_provider import ENTRIES_TYPE, ConsulKvProvider
from tests.mocks import SECRET, Registration, use_mocks

T = TypeVar("T")
PASSWORD = "PLACEHOLDER-db-password-1c9e"
TOKEN = "PLACEHOLDER-kv-token-77ab"
ADDRESS = "https://consul.staging.internal:8501"


def args(**overrides: Any) -> ConsulKvArgs:
    base: dict[str, Any] = {
        "prefix": "app/staging",
        "entries": {"database/master-user": "webapp",
                    "database/master-password": pulumi.Output.secret(PASSWORD)},
        "connection": ConsulConnection(address=ADDRESS, datacenter="staging",
                                       token=pulumi.Output.secret(TOKEN)),
    }
    return ConsulKvArgs(**{**base, **overrides})


def run(build: Callable[[], T], inspect: Callable[[T], Any] | None = None
        ) -> tuple[list[Registration], Any]:
    """Build under fresh mocks; return the registrations and what `inspect` awaited."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        monitor = use_mocks("staging", preview=False)
        from pulumi.runtime.stack import run_pulumi_func

        built: list[T] = []
        loop.run_until_complete(run_pulumi_func(lambda: built.append(build())))
        seen = loop.run_until_complete(inspect(built[0])) if inspect else None
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return monitor.registrations, seen


def entries_of(regs: list[Registration]) -> Registration:
    found = [r for r in regs if r.type == ENTRIES_TYPE]
    assert len(found) == 1, f"expected one {ENTRIES_TYPE}, got {[r.urn for r in found]}"
    return found[0]


def component() -> ConsulKv:
    return ConsulKv("webapp-staging-kv", args())


@pytest.fixture(autouse=True)
def _no_consul_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_CACERT", "CONSUL_HTTP_SSL"):
        monkeypatch.delenv(name, raising=False)


# --- wiring ------------------------------------------------------------------------------------

def test_entries_resource_is_a_child_of_the_component() -> None:
    regs, _ = run(component)
    parent = next(r for r in regs if r.type == "webtier:consul_kv:ConsulKv")
    assert entries_of(regs).parent == parent.urn, entries_of(regs).urn


def test_entries_resource_is_named_for_the_component() -> None:
    regs, _ = run(component)
    assert entries_of(regs).name == "webapp-staging-kv-entries"


def test_entries_carry_prefix_address_and_datacenter() -> None:
    inputs = entries_of(run(component)[0]).inputs
    assert (inputs["prefix"], inputs["address"], inputs["datacenter"]) == (
        "app/staging", ADDRESS, "staging")


def test_component_keys_are_the_full_consul_keys() -> None:
    async def keys(kv: ConsulKv) -> Any:
        return await kv.keys.future()

    _, seen = run(component, keys)
    assert seen == ["app/staging/database/master-password", "app/staging/database/master-user"]


# --- secrecy -----------------------------------------------------------------------------------

def test_plain_values_hold_only_the_non_secret_entries() -> None:
    inputs = entries_of(run(component)[0]).inputs
    assert inputs["values"] == {"database/master-user": "webapp"}


def test_secret_entries_travel_as_a_secret_property() -> None:
    assert entries_of(run(component)[0]).inputs["secretValues"] is SECRET


def test_token_travels_as_a_secret_property() -> None:
    assert entries_of(run(component)[0]).inputs["token"] is SECRET


def test_secret_properties_are_declared_secret_outputs() -> None:
    options = entries_of(run(component)[0]).options
    assert options["additionalSecretOutputs"] == ["secretValues", "token"]


def test_secret_values_output_is_secret() -> None:
    async def secret(kv: ConsulKv) -> bool:
        return await kv.entries.secretValues.is_secret()

    assert run(component, secret)[1] is True


def test_plain_values_output_is_not_secret() -> None:
    async def secret(kv: ConsulKv) -> bool:
        return await kv.entries.values.is_secret()

    assert run(component, secret)[1] is False


def test_a_plain_string_listed_in_secret_keys_is_sent_as_secret() -> None:
    regs, _ = run(lambda: ConsulKv("kv", args(
        entries={"database/master-password": PASSWORD, "database/master-user": "webapp"},
        secret_keys=frozenset({"database/master-password"}))))
    inputs = entries_of(regs).inputs
    assert inputs["secretValues"] is SECRET
    assert inputs["values"] == {"database/master-user": "webapp"}


def test_no_secret_appears_in_plain_text_in_any_registration() -> None:
    regs, _ = run(component)
    text = json.dumps([(r.inputs, r.outputs) for r in regs], default=repr)
    assert PASSWORD not in text
    assert TOKEN not in text


def test_pickled_provider_captures_no_state() -> None:
    # The provider is pickled into state as-is: any attribute would be stored with it.
    provider = ConsulKvProvider()
    blob = base64.b64decode(serialize_provider(provider))
    assert vars(provider) == {}
    assert b"ConsulKvProvider" in blob


def test_token_from_the_environment_is_never_an_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", TOKEN)
    regs, _ = run(lambda: ConsulKv("kv", args(connection=ConsulConnection(address=ADDRESS))))
    assert TOKEN not in json.dumps(entries_of(regs).inputs, default=repr)


# --- connection --------------------------------------------------------------------------------

def test_address_falls_back_to_consul_http_addr() -> None:
    resolved = resolve_connection(ConsulConnection(), {"CONSUL_HTTP_ADDR": "10.0.0.5:8500"})
    assert resolved.address == "http://10.0.0.5:8500"


def test_consul_http_ssl_makes_a_bare_address_https() -> None:
    env = {"CONSUL_HTTP_ADDR": "consul.internal:8501", "CONSUL_HTTP_SSL": "true"}
    assert resolve_connection(ConsulConnection(), env).address == "https://consul.internal:8501"


def test_missing_address_names_the_setting_and_the_variable() -> None:
    with pytest.raises(ValueError, match=r"webtier:consul\.address.*CONSUL_HTTP_ADDR"):
        resolve_connection(ConsulConnection(), {})


def test_address_with_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="http\\(s\\)://host:port"):
        normalize_address("https://consul.internal:8501/v1/kv")


def test_ca_cert_path_is_read_into_pem(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_text(pem)
    conn = ConsulConnection(address=ADDRESS, ca_cert=str(tmp_path / "ca.pem"))
    assert resolve_connection(conn, {}).ca_pem == pem


def test_ca_cert_falls_back_to_consul_cacert(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    env: Mapping[str, str] = {"CONSUL_CACERT": str(tmp_path / "ca.pem")}
    assert resolve_connection(ConsulConnection(address=ADDRESS), env).ca_pem.startswith("-----")


def test_missing_ca_file_names_the_setting(tmp_path: Path) -> None:
    conn = ConsulConnection(address=ADDRESS, ca_cert=str(tmp_path / "nope.pem"))
    with pytest.raises(ValueError, match=r"ca_cert=.*neither PEM text nor a readable file"):
        resolve_connection(conn, {})


def test_component_refuses_an_absolute_key() -> None:
    with pytest.raises(ValueError, match="'/database/x' must be relative"):
        run(lambda: ConsulKv("kv", args(entries={"/database/x": "1"})))
