"""The one adapter over private Pulumi SDK internals; tests/test_pulumi_sdk.py is its contract.

The public SDK offers no way to read the whole config with its secret flags, nor to look inside
wire-format property values. Everything that needs those goes through here, and `pulumi` is
pinned exactly (pyproject.toml), so an SDK upgrade breaks that contract test and nothing else.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import config as _runtime_config
from pulumi.runtime import rpc as _rpc


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
