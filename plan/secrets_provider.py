"""How a stack file holds its secrets, for every secrets provider Pulumi supports.

What each provider leaves in `Pulumi.<stack>.yaml` (Pulumi's stack settings file reference,
https://www.pulumi.com/docs/iac/concepts/projects/stack-settings-file/):
- `encryptionsalt`: "the stack's base64 encoded encryption salt. Only used for passphrase-based
  secrets providers" (`secretsprovider` is then absent or `passphrase`);
- `secretsprovider` + `encryptedkey`: a cloud KMS (`awskms://`, `azurekeyvault://`,
  `gcpkms://`, `hashivault://`); `encryptedkey` is "the KMS-encrypted ciphertext for the data key
  used for secrets encryption. Only used for cloud-based secrets providers";
- none of the three (or `secretsprovider: default`): Pulumi Cloud's own per-stack key, which only
  the Pulumi Cloud backend (app.pulumi.com or a self-hosted service, https://) has;
- `environment`: "Environment definition or list of environments for Pulumi ESC integration";
  a list of `project/env` names (https://www.pulumi.com/docs/esc/guides/pulumi-iac/), or a
  definition whose `imports` lists them. ESC is a Pulumi Cloud service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contracts.stack_file import StackFileError, load_stack_file

KMS_SCHEMES = ("awskms", "azurekeyvault", "gcpkms", "hashivault")
SERVICE = "service (Pulumi Cloud's per-stack key)"
PASSPHRASE = "passphrase"
SELF_MANAGED = ("file://", "s3://", "gs://", "azblob://")


def provider(doc: Mapping[str, Any], backend: str | None) -> str | None:
    """The provider that encrypted the stack file's secrets; None when it has none usable.

    ``backend`` is the state backend URL, or None when it is not known here."""
    named = str(doc.get("secretsprovider") or "")
    if doc.get("encryptionsalt") and named in ("", PASSPHRASE):
        return PASSPHRASE
    scheme = named.split("://", 1)[0]
    if scheme in KMS_SCHEMES and "://" in named:
        return named if doc.get("encryptedkey") else None
    if named in ("", "default") and not doc.get("encryptedkey"):
        # Pulumi Cloud keeps the key itself: the file holds nothing, and no other backend can.
        return None if backend and backend.startswith(SELF_MANAGED) else SERVICE
    return None


def environments(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The ESC environments the stack imports, in order."""
    env = doc.get("environment")
    if isinstance(env, Mapping):
        env = env.get("imports")
    if not isinstance(env, list):
        return ()
    # An import may be `name` or `{name: {merge: false}}`.
    return tuple(str(next(iter(e))) if isinstance(e, Mapping) and e else str(e) for e in env)


def backend_url(environ: Mapping[str, str], root: Path) -> str | None:
    """Where the stack's state lives, as the CLI would pick it: PULUMI_BACKEND_URL, then the
    project's `backend.url`, then the backend `pulumi login` last chose; None if unknown."""
    if environ.get("PULUMI_BACKEND_URL"):
        return environ["PULUMI_BACKEND_URL"]
    try:
        # The bounded reader: Pulumi.yaml is as untrusted as a stack file.
        project = load_stack_file(root / "Pulumi.yaml")
        backend = project.get("backend")
        url = backend.get("url") if isinstance(backend, dict) else None
        if url:
            return str(url)
    except StackFileError:
        pass
    home = Path(environ.get("PULUMI_HOME") or Path(environ.get("HOME", "~")) / ".pulumi")
    try:
        current = json.loads((home.expanduser() / "credentials.json").read_text()).get("current")
        return str(current) if current else None
    except (OSError, ValueError, AttributeError):
        return None
