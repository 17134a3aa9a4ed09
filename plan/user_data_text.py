"""User data as the text an instance runs: base64, gzip and MIME multipart unpacked, so the plan
shows (and diffs) every command line by line instead of an encoded blob or a hash."""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import io
import re


def decoded_user_data(value: str) -> str | None:
    """Base64 user data as text (launch templates take it encoded), or None if it is not.

    What cloud-init would run is shown, not its wrapping: gzip is unpacked and a MIME multipart
    document becomes each part's text under a `--- part N: <type> ---` line."""
    if len(value) < 16 or not re.fullmatch(r"[A-Za-z0-9+/=\s]+", value):
        return None
    try:
        data = base64.b64decode(value, validate=False)
    except binascii.Error:
        return None
    return user_data_text(data)


_MAX_UNPACKED = 1 << 20  # AWS takes 16 KB of user data; a gzip bomb stops here


def user_data_text(data: bytes) -> str | None:
    """User data bytes (plain, gzip, MIME multipart) as the text cloud-init runs, or None."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as z:
                data = z.read(_MAX_UNPACKED + 1)
        except (OSError, EOFError):
            return None
        if len(data) > _MAX_UNPACKED:
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.lstrip().lower().startswith(("content-type: multipart", "mime-version")):
        return text
    message = email.message_from_string(text)
    if not message.is_multipart():
        return text
    parts = []
    for n, part in enumerate((p for p in message.walk() if not p.is_multipart()), 1):
        payload = part.get_payload(decode=True)
        body = user_data_text(payload) if isinstance(payload, bytes) else None
        parts.append(f"--- part {n}: {part.get_content_type()} ---\n{body or ''}")
    return "\n".join(parts)
