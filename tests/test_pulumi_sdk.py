"""Contract of components/pulumi_sdk.py, the one adapter over private Pulumi SDK internals.

An SDK upgrade that moves or changes any of them fails here, not silently in the plan or the mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components import pulumi_sdk


def test_the_installed_sdk_is_the_one_the_adapter_was_checked_against() -> None:
    assert version("pulumi") == pulumi_sdk.VERIFIED_SDK_VERSION, (
        "pulumi was upgraded: re-check components/pulumi_sdk.py against the new SDK, "
        "then update VERIFIED_SDK_VERSION")


def _serialized(make: Callable[[], Any]) -> Any:
    """``make()``'s value in wire format; made inside the loop that serializes it."""
    async def run() -> Any:
        return await rpc.serialize_property(make(), [], None)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


def test_a_wire_secret_carries_the_secret_signature() -> None:
    wire = rpc.wrap_rpc_secret("s3cr3t")
    assert wire[pulumi_sdk.SIG_KEY] == pulumi_sdk.SECRET_SIG
    assert wire["value"] == "s3cr3t"


def test_an_unknown_serializes_as_the_unknown_sentinel() -> None:
    assert _serialized(lambda: pulumi.Output(set(), _future(None), _future(False))) \
        == pulumi_sdk.UNKNOWN


def _future(value: Any) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    fut.set_result(value)
    return fut


def test_asset_signatures_are_the_ones_assets_serialize_with() -> None:
    wire = _serialized(lambda: pulumi.StringAsset("x"))
    assert wire[pulumi_sdk.SIG_KEY] in pulumi_sdk.ASSET_SIGS


def test_running_config_returns_values_and_their_secret_flags() -> None:
    pulumi.runtime.set_all_config({"webtier:a": "1", "webtier:b": "2"}, ["webtier:b"])
    try:
        raw, secret_keys = pulumi_sdk.running_config()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert raw["webtier:a"] == "1"
    assert raw["webtier:b"] == "2"
    assert "webtier:b" in secret_keys
    assert "webtier:a" not in secret_keys


def test_recording_exports_sees_every_export_and_restores_the_sdk_function() -> None:
    original = pulumi.export
    seen: dict[str, Any] = {}
    calls: list[tuple[str, Any]] = []
    def fake(name: str, value: Any) -> None:
        calls.append((name, value))

    pulumi.export = fake
    try:
        with pulumi_sdk.recording_exports(seen):
            pulumi.export("groupName", "g")
        assert seen == {"groupName": "g"}
        assert calls == [("groupName", "g")], "the SDK's own export must still run"
    finally:
        restored = pulumi.export
        pulumi.export = original
    assert restored is fake


def test_running_config_keeps_secret_flags_the_engine_passed_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine hands a program its config as PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS: a key
    # secret only there must stay secret beside the ones set in the running config.
    monkeypatch.setenv("PULUMI_CONFIG", '{"webtier:env": "e"}')
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", '["webtier:env"]')
    pulumi.runtime.set_all_config({"webtier:b": "2"}, ["webtier:b"])
    try:
        raw, secret_keys = pulumi_sdk.running_config()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert (raw, secret_keys) == ({"webtier:env": "e", "webtier:b": "2"},
                                  {"webtier:env", "webtier:b"})
