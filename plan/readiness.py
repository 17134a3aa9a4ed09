"""Whether a stack file is ready for `pulumi preview` / `up`: created with the KMS secrets
provider and holding every required secret as `secure:` ciphertext. The workflows call it first
(`python -m plan STACK --bootstrap-status`) so a stack not bootstrapped yet gets the commands to
run in the job summary instead of a failing preview."""

from __future__ import annotations

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

    @property
    def ready(self) -> bool:
        return bool(self.secrets_provider) and not self.missing and not self.plaintext


def readiness(stack: str, root: Path) -> Readiness:
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
    provider = doc.get("secretsprovider")
    return Readiness(stack, root, str(config.get("aws:region", "<region>")),
                     str(provider) if provider and doc.get("encryptedkey") else None,
                     missing, plaintext)


def markdown(r: Readiness) -> str:
    """The job summary: one line when ready, else what is wrong and the commands that fix it."""
    if r.ready:
        return f"Stack `{r.stack}`: bootstrapped (secrets provider `{r.secrets_provider}`).\n"
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
