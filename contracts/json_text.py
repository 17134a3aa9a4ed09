"""The one JSON reader for text from outside (config values, Consul answers, KV values): nesting
too deep for Python's decoder is a decode error like any other, not a RecursionError."""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    """json.loads; json.JSONDecodeError (a ValueError) for bad JSON and for too deep nesting."""
    try:
        return json.loads(text)
    except RecursionError:
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise json.JSONDecodeError("nested too deeply", shown[:1], 0) from None
