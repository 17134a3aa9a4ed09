"""Whether a stack file is ready for `pulumi preview` / `up`: its secrets provider known (any
that Pulumi supports, plan/secrets_provider.py) and every required secret held as `secure:`
ciphertext or left to the stack's ESC environments. The workflows call it first
(`python -m plan STACK --bootstrap-status`) so a stack not bootstrapped yet gets the commands to
run in the job summary instead of a failing preview."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap import stacks
from components.settings.secrets import (
    OPTIONAL_SECRETS,
    SECRET_KEYS,
    plaintext_secrets_elsewhere,
)
from contracts.names import PROJECT
from contracts.stack_file import load_stack_config, load_stack_file
from mock_engine import is_encrypted
from plan import secrets_provider


@dataclass(frozen=True)
class Readiness:
    stack: str
    root: Path
    region: str
    secrets_provider: str | None
    missing: list[str]
    """Required secret keys not set."""
    plaintext: list[str]
    """Secret keys given in plain text (refused: the value would be stored unencrypted)."""
    environments: tuple[str, ...] = ()
    """ESC environments the stack imports."""
    from_environments: tuple[str, ...] = ()
    """Required secrets not in the file, left to the ESC environments (not checked offline)."""

    @property
    def ready(self) -> bool:
        return bool(self.secrets_provider) and not self.missing and not self.plaintext


def readiness(stack: str, root: Path, environ: Mapping[str, str] | None = None) -> Readiness:
    environ = os.environ if environ is None else environ
    path = root / f"Pulumi.{stack}.yaml"
    doc: dict[str, Any] = load_stack_file(path) if path.is_file() else {}
    config: dict[str, Any] = load_stack_config(path) if path.is_file() else {}
    required = [f"{PROJECT}:{k}" for k in SECRET_KEYS if k not in OPTIONAL_SECRETS]
    kv_keys = stacks.kv_secret_keys(stack, root)
    kv_values = config.get(f"{PROJECT}:kvSecrets")
    missing = [k for k in required if k not in config]
    missing += [f'{PROJECT}:kvSecrets["{k}"]' for k in kv_keys
                if not isinstance(kv_values, dict) or k not in kv_values]
    secret_keys = [*(f"{PROJECT}:{k}" for k in SECRET_KEYS), f"{PROJECT}:kvSecrets"]
    plaintext = sorted({k for k in secret_keys if k in config and not is_encrypted(config[k])})
    plaintext += plaintext_secrets_elsewhere(config, [k for k, v in config.items()
                                                      if is_encrypted(v)])
    imports = secrets_provider.environments(doc)
    provider = secrets_provider.provider(doc, secrets_provider.backend_url(environ, root))
    # A stack with neither secrets nor environments has no provider yet, whatever its backend.
    if provider == secrets_provider.SERVICE and not imports and not any(
            is_encrypted(v) for v in config.values()):
        provider = None
    left = tuple(missing) if imports else ()
    return Readiness(stack, root, str(config.get("aws:region", "<region>")), provider,
                     [] if imports else missing, plaintext, imports, left)


def markdown(r: Readiness) -> str:
    """The job summary: one line when ready, else what is wrong and the commands that fix it."""
    if r.ready:
        line = f"Stack `{r.stack}`: bootstrapped (secrets provider `{r.secrets_provider}`"
        if r.environments:
            line += ", ESC environments " + ", ".join(f"`{e}`" for e in r.environments)
        line += ").\n"
        if r.from_environments:
            line += ("\nNot checked offline: " + ", ".join(f"`{k}`" for k in r.from_environments)
                     + " must come from the environments' `pulumiConfig`.\n")
        if r.secrets_provider == secrets_provider.PASSPHRASE:
            line += ("\nThe passphrase provider: `pulumi` needs PULUMI_CONFIG_PASSPHRASE (a "
                     "repository secret passed to the pulumi steps as `env`).\n")
        return line
    lines = [f"### Stack `{r.stack}` is not bootstrapped yet: no preview ran", ""]
    if r.plaintext:
        lines.append("Stored in plain text (remove them from the stack file, then set them as "
                     "secrets): " + ", ".join(f"`{k}`" for k in r.plaintext))
        lines.append("")
    lines += ["Run once, with administrator credentials for the account "
              "(see docs/first-day.md):", "", "```sh",
              f"python -m bootstrap --region {r.region} --state-bucket <bucket> "
              "--github-repo <owner/name>"]
    if not r.secrets_provider:
        lines.append(stacks.shell(["pulumi", "login", f"s3://<bucket>?region={r.region}"]))
        lines.append(stacks.shell(stacks.init_command(r.stack, r.region)))
    lines += [stacks.shell(c) for c in stacks.secret_commands(r.stack, r.root)
              if _names_missing(c, r)]
    lines += [f"git add Pulumi.{r.stack}.yaml && git commit -m 'Bootstrap {r.stack}'", "```", ""]
    return "\n".join(lines)


def _names_missing(argv: list[str], r: Readiness) -> bool:
    name = argv[5] if argv[4] == "--path" else argv[4]
    key = f"{PROJECT}:{name}"
    return key in r.missing or key in r.plaintext or (
        name.startswith("kvSecrets") and f"{PROJECT}:kvSecrets" in r.plaintext)
