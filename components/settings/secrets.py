"""The stack's secrets: set with `pulumi config set --secret`, refused when given in plain text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.consul.kv_payload import value_problem
from components.settings.kv import KvSettings
from components.settings.reader import Problems, Secret
from contracts import json_text
from contracts.names import PROJECT

# The secret keys, with what each holds (the message for a missing one names the command).
SECRET_KEYS: Mapping[str, str] = {
    "consulGossipKey": "the Consul gossip encryption key (`consul keygen`)",
    "consulAgentToken": "the ACL token the instances' Consul agents use",
    "consulTemplateToken": "the ACL token consul-template reads KV with",
    "consulKvToken": "the ACL token this program writes KV with (else CONSUL_HTTP_TOKEN)",
    "kvSecrets": "secret KV values, e.g. --path 'kvSecrets[\"database/master-password\"]'",
}
OPTIONAL_SECRETS = frozenset({"consulKvToken", "kvSecrets"})
# A config key (any namespace) whose name ends in a word that says it holds a secret:
# aws:secretKey, aws:token,
# a mistyped webtie:consulGossipKey, db:password ...
_SECRET_NAME = re.compile(r"(?i)(?:secret(?:[_-]?key)?|token|pass(?:word|wd)?|private[_-]?key|"
                          r"gossip[_-]?key|access[_-]?key|credentials?)\Z")


def plaintext_secrets_elsewhere(raw_keys: Iterable[str], secret_keys: Iterable[str]) -> list[str]:
    """Keys outside webtier: that name a secret but are not encrypted (not `--secret`).

    webtier:'s own keys are checked one by one (parse_secret); these would otherwise pass:
    Pulumi stores them in the stack file in plain text, where the repository shows them."""
    encrypted = set(secret_keys)
    own = f"{PROJECT}:"
    return sorted(k for k in raw_keys if not k.startswith(own) and k not in encrypted
                  and _SECRET_NAME.search(k.split(":", 1)[-1]))


def plaintext_secret_problem(key: str, stack: str) -> str:
    """The one line for such a key: never its value."""
    return (f"{key} looks like a secret stored in plaintext (its value is not shown): remove "
            f"it from Pulumi.{stack}.yaml, then `pulumi config set --secret {key} <value> "
            f"--stack {stack}`; a webtier secret belongs under {PROJECT}:")


@dataclass(frozen=True)
class StackSecrets:
    gossip_key: Secret
    agent_token: Secret
    template_token: Secret
    kv_token: Secret | None
    kv_values: Mapping[str, Secret]


def set_secret_command(name: str, stack: str) -> str:
    return f"`pulumi config set --secret {name} <value> --stack {stack}`"


def parse_secret(name: str, raw: Mapping[str, object], secret_keys: set[str], stack: str,
                 problems: Problems) -> Secret | None:
    full = f"{PROJECT}:{name}"
    how = f"{set_secret_command(name, stack)} ({SECRET_KEYS[name]})"
    if full not in raw:
        if name not in OPTIONAL_SECRETS:
            problems.note(f"{full} is not set: run {how}")
        return None
    if full not in secret_keys:
        # Never echo the value: it was meant to be secret.
        problems.add(full, "[redacted]", f"is stored in plaintext; remove it and run {how}")
        return None
    value = raw[full]
    if not isinstance(value, str) or not value:
        problems.add(full, "[secret]", "must be a non-empty string")
        return None
    return Secret(value)


def parse_kv_secrets(raw: Mapping[str, object], secret_keys: set[str], kv: KvSettings,
                     stack: str, problems: Problems) -> dict[str, Secret]:
    key = f"{PROJECT}:kvSecrets"

    def missing(name: str) -> str:
        return (f"{key}[\"{name}\"] is not set: run `pulumi config set --secret --path "
                f"'kvSecrets[\"{name}\"]' <value> --stack {stack}`")

    if key not in raw:
        for name in sorted(kv.secret_keys):
            problems.note(missing(name))
        return {}
    if key not in secret_keys:
        problems.add(key, "[redacted]", "is stored in plaintext; set each value with "
                     "`pulumi config set --secret --path 'kvSecrets[\"<key>\"]' … "
                     f"--stack {stack}`")
        return {}
    decoded = raw[key]
    if isinstance(decoded, str):
        try:
            decoded = json_text.loads(decoded)
        except json.JSONDecodeError:
            decoded = None
    if not isinstance(decoded, dict):
        problems.add(key, "[secret]", "must be an object of KV key -> secret value")
        return {}
    out = {str(k): Secret(str(v)) for k, v in decoded.items()}
    for name, secret in out.items():
        if (problem := value_problem(kv.prefix, name, secret.value)) is not None:
            problems.note(f"{key}: {problem}")
    for name in sorted(kv.secret_keys - set(out)):
        problems.note(missing(name))
    for name in sorted(set(out) - kv.secret_keys):
        problems.note(f"{key}[\"{name}\"] is not listed in kv.secretKeys: add it there, so every "
                      "stack declares the same keys")
    return out
