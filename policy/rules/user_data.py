"""User-data rules: no secret in user data, looked for through base64, gzip and MIME layers."""

from __future__ import annotations

import base64
import binascii
import email
import re
import zlib
from collections.abc import Mapping
from typing import Any

from policy.rules.values import LAUNCHES

# What a secret looks like in user data. The assignment pattern only fires on a literal value:
# shell expansions ($x, $(cmd), ${x}), printf/template placeholders (%s, {{ }}, <...>) and quotes
# around them are how values fetched at boot are written, and are not secrets.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id",
     re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])")),
    ("an AWS secret access key",
     re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}"
                r"(?![A-Za-z0-9/+])")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")),
    # 32 random bytes in base64 (what `consul keygen` prints): 43 characters, the last one
    # carrying only 2 significant bits, then one "=".
    ("a Consul gossip key",
     re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])")),
    ("a password, token or secret assignment",
     re.compile(r"(?i)[A-Za-z0-9_.-]*(?:password|passwd|secret|token)[\"']?[ \t]*[:=][ \t]*"
                r"[\"']?(?![\s\"'$%{<(`])[^\s\"']+")),
)


MAX_USER_DATA_BYTES = 1 << 20  # EC2 caps user data at 16 KiB; anything past 1 MiB is not ours.


GZIP_MAGIC = b"\x1f\x8b"


# --- user data -----------------------------------------------------------------------------

def _base64_payload(text: str) -> bytes | None:
    compact = "".join(text.split())
    if not compact or len(compact) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", compact):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    return inflater.decompress(data, MAX_USER_DATA_BYTES)


def _text_layers(value: str, *, depth: int = 0) -> list[str]:
    """The readable text of user data: base64 and gzip undone, MIME parts opened."""
    if depth > 3:
        return []
    payload = _base64_payload(value)
    if payload is not None:
        if payload.startswith(GZIP_MAGIC):
            try:
                payload = _gunzip(payload)
            except zlib.error:
                return [value]
        try:
            decoded = payload.decode("utf-8")
        except UnicodeDecodeError:
            return [value]  # binary after all: scan what was given
        return _text_layers(decoded, depth=depth + 1)
    layers = [value]
    head = value.lstrip()[:200].lower()
    if head.startswith(("content-type: multipart", "mime-version:")):
        message = email.message_from_string(value)
        for part in message.walk():
            if part.is_multipart():
                continue
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                if body.startswith(GZIP_MAGIC):
                    try:
                        body = _gunzip(body)
                    except zlib.error:
                        continue
                layers.extend(_text_layers(body.decode("utf-8", "replace"), depth=depth + 1))
    return layers


def user_data_texts(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, readable text) of every layer of a launch's user data."""
    return [(key, layer) for key in ("userData", "userDataBase64")
            if isinstance(props.get(key), str) and props.get(key)
            for layer in _text_layers(props[key])]


def secrets_in_text(text: str) -> list[tuple[int, str]]:
    """(line number, what it looks like) for every secret-shaped value; never the value."""
    found = []
    for kind, pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            found.append((text.count("\n", 0, match.start()) + 1, kind))
    return sorted(set(found))


def no_secrets_in_user_data(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """User data is readable by anyone who can describe the instance: no secrets in it."""
    if resource_type not in LAUNCHES:
        return []
    problems = []
    for key in ("userData", "userDataBase64"):
        value = props.get(key)
        if not isinstance(value, str) or not value:
            continue
        for layer in _text_layers(value):
            for line, kind in secrets_in_text(layer):
                problems.append(f"{key} line {line} holds what looks like {kind} (value "
                                "withheld): fetch it at boot from an SSM SecureString parameter")
    return sorted(set(problems))
