"""The Pulumi side of the bootstrap: log in to the state bucket, create each stack with the KMS
secrets provider, and the commands that put the required secrets into the stack files."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from bootstrap import policies
from bootstrap.policies import NAMES
from components.settings.secrets import OPTIONAL_SECRETS, SECRET_KEYS
from contracts.names import PROJECT, STACKS
from contracts.stack_file import load_stack_config

ROOT = Path(__file__).resolve().parent.parent


def login_command(bucket: str, region: str) -> list[str]:
    return ["pulumi", "login", policies.backend_url(bucket, region)]


def init_command(stack: str, region: str) -> list[str]:
    # Keeps the committed Pulumi.<stack>.yaml settings and adds the provider and its data key.
    return ["pulumi", "stack", "init", stack, "--secrets-provider",
            policies.secrets_provider(NAMES.key_alias, region)]


def select_command(stack: str) -> list[str]:
    return ["pulumi", "stack", "select", stack]


def kv_secret_keys(stack: str, root: Path = ROOT) -> list[str]:
    """The KV keys a stack file declares secret (kv.secretKeys): each needs a kvSecrets value."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return []
    config = load_stack_config(path)
    kv = config.get(f"{PROJECT}:kv") or {}
    keys = kv.get("secretKeys") if isinstance(kv, Mapping) else None
    return sorted(str(k) for k in keys or [])


def secret_commands(stack: str, root: Path = ROOT) -> list[list[str]]:
    """`pulumi config set --secret` for every secret the stack needs. No value on the command
    line: pulumi prompts for it, so it stays out of shell history."""
    out = [["pulumi", "config", "set", "--secret", name, "--stack", stack]
           for name in SECRET_KEYS if name not in OPTIONAL_SECRETS]
    out += [["pulumi", "config", "set", "--secret", "--path", f'kvSecrets["{key}"]', "--stack",
             stack] for key in kv_secret_keys(stack, root)]
    return out


def shell(argv: list[str]) -> str:
    return shlex.join(argv)


def stacks() -> tuple[str, ...]:
    return STACKS
