"""The one adapter over private Pulumi SDK internals; tests/test_pulumi_sdk.py is its contract.

The public SDK offers no way to read the whole config with its secret flags, nor to look inside
wire-format property values. Everything that needs those goes through here, and `pulumi` is
pinned exactly (pyproject.toml), so an SDK upgrade breaks that contract test and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import pulumi
from pulumi.runtime import config as _runtime_config
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _runtime_settings

# The SDK release these internals were checked against; tests/test_pulumi_sdk.py fails on any other,
# so an upgrade re-checks this file before anything else runs on it.
VERIFIED_SDK_VERSION = "3.260.0"


def running_config() -> tuple[dict[str, object], set[str]]:
    """The running stack's whole config, and which of its keys are secret."""
    raw: dict[str, object] = dict(_runtime_config.get_config_env())
    raw.update(_runtime_config.CONFIG.get())
    secret_keys = set(_runtime_config.get_config_secret_keys_env())
    secret_keys |= {k for k in raw if _runtime_config.is_config_secret(k)}
    return raw, secret_keys


# Signatures that mark special values in wire-format properties.
SIG_KEY: str = _rpc._special_sig_key
SECRET_SIG: str = _rpc._special_secret_sig
RESOURCE_SIG: str = _rpc._special_resource_sig
OUTPUT_VALUE_SIG: str = _rpc._special_output_value_sig
ASSET_SIGS: frozenset[str] = frozenset({_rpc._special_asset_sig, _rpc._special_archive_sig})
UNKNOWN: Any = _rpc.UNKNOWN


def reset_root_stack() -> None:
    """Forget the root stack resource, so the next mock run registers a fresh one."""
    _runtime_settings.ROOT.set(None)


def clear_pending_work() -> None:
    """Drop RPCs and outputs a previous run in this process left registered."""
    _runtime_settings.SETTINGS.rpc_manager.clear()
    _runtime_settings.SETTINGS.outputs.clear()


@contextmanager
def recording_exports(into: MutableMapping[str, Any]) -> Iterator[None]:
    """Also record every `pulumi.export` of the program into ``into`` (the SDK keeps no list)."""
    original = pulumi.export

    def record(name: str, value: Any) -> None:
        into[name] = value
        original(name, value)

    pulumi.export = record
    try:
        yield
    finally:
        pulumi.export = original
