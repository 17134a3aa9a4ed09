"""Loading: the running program's config (through the SDK adapter) and the committed stack files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pulumi

from components import pulumi_sdk
from components.settings.model import StackSettings
from components.settings.parse import parse_settings
from components.settings.reader import SettingsError
from contracts.names import PROJECT, STACKS
from contracts.stack_file import StackFileError, load_stack_config


def stack_file_kv_keys(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The KV keys (and environment-specific keys) a committed stack file declares."""
    kv = load_stack_config(path).get(f"{PROJECT}:kv") or {}
    if not isinstance(kv, dict):
        return frozenset(), frozenset()  # that stack's own run reports its bad kv section
    values, secret, specific = (kv.get(k) for k in ("values", "secretKeys",
                                                     "environmentSpecific"))
    keys = {str(k) for k in values} if isinstance(values, dict) else set()
    keys |= {str(k) for k in secret} if isinstance(secret, list) else set()
    specific_keys = {str(k) for k in specific} if isinstance(specific, list) else set()
    return frozenset(keys), frozenset(specific_keys)


def load_settings(root: Path,
                  extra_checks: Callable[[StackSettings], list[str]] | None = None
                  ) -> StackSettings:
    """Read the running stack's config (via the Pulumi runtime) and validate it."""
    stack = pulumi.get_stack()
    raw, secret_keys = pulumi_sdk.running_config()
    try:
        others = {
            path.name.split(".")[1]: stack_file_kv_keys(path)
            for path in sorted(root.glob("Pulumi.*.yaml"))
            if path.name.split(".")[1] in STACKS and path.name.split(".")[1] != stack
        }
    except StackFileError as e:
        raise SettingsError(stack, [str(e)]) from None
    settings = parse_settings(stack, raw, secret_keys, others)
    if extra_checks is not None and (problems := extra_checks(settings)):
        raise SettingsError(stack, problems)
    return settings
