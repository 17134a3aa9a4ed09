"""The Pulumi side of the bootstrap: log in to the state bucket, create each stack with the KMS
secrets provider, and the commands that put the required secrets into the stack files."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from bootstrap import policies
from bootstrap.policies import NAMES
from components.settings.secrets import OPTIONAL_SECRETS, SECRET_KEYS
from contracts.names import APP_NAME, PROJECT, STACKS
from contracts.release_layout import default_release_bucket
from contracts.stack_file import load_stack_config

ROOT = Path(__file__).resolve().parent.parent


def login_command(bucket: str, region: str) -> list[str]:
    return ["pulumi", "login", policies.backend_url(bucket, region)]


def init_command(stack: str, region: str) -> list[str]:
    # Keeps the committed Pulumi.<stack>.yaml settings and adds the provider and its data key:
    # each stack its own key, so whoever may decrypt one stack's secrets cannot read the other's.
    return ["pulumi", "stack", "init", stack, "--secrets-provider",
            policies.secrets_provider(NAMES.key_alias(stack), region)]


def stack_names(stack: str, account: str, root: Path = ROOT) -> tuple[str, str]:
    """The stack's app name and release bucket, as the program derives them from the stack
    file (components/settings): the deploy role's grants are scoped to these names."""
    path = root / f"Pulumi.{stack}.yaml"
    config = load_stack_config(path) if path.is_file() else {}
    app = config.get(f"{PROJECT}:app")
    app = app if isinstance(app, str) and APP_NAME.match(app) else PROJECT
    release = config.get(f"{PROJECT}:release") or {}
    bucket = release.get("bucketName") if isinstance(release, Mapping) else None
    return app, bucket if isinstance(bucket, str) and bucket else \
        default_release_bucket(app, stack, account)


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
