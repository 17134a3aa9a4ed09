"""Loading: the running program's config (through the SDK adapter) and the committed stack files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pulumi
import yaml

from components import pulumi_sdk
from components.settings.model import StackSettings
from components.settings.parse import parse_settings
from components.settings.reader import SettingsError
from contracts.names import PROJECT, STACKS


def stack_file_kv_keys(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The KV keys (and environment-specific keys) a committed stack file declares."""
    doc = yaml.safe_load(path.read_text()) or {}
    kv = (doc.get("config") or {}).get(f"{PROJECT}:kv") or {}
    keys = set((kv.get("values") or {}).keys()) | set(kv.get("secretKeys") or [])
    return frozenset(keys), frozenset(kv.get("environmentSpecific") or [])


def load_settings(root: Path,
                  extra_checks: Callable[[StackSettings], list[str]] | None = None
                  ) -> StackSettings:
    """Read the running stack's config (via the Pulumi runtime) and validate it."""
    stack = pulumi.get_stack()
    raw, secret_keys = pulumi_sdk.running_config()
    others = {
        path.name.split(".")[1]: stack_file_kv_keys(path)
        for path in sorted(root.glob("Pulumi.*.yaml"))
        if path.name.split(".")[1] in STACKS and path.name.split(".")[1] != stack
    }
    settings = parse_settings(stack, raw, secret_keys, others)
    if extra_checks is not None and (problems := extra_checks(settings)):
        raise SettingsError(stack, problems)
    return settings
