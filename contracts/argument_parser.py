"""The argument parser every command line of the project uses: flags are spelled out in full
and a refused command line never echoes a value.

argparse by default takes any unambiguous prefix of a flag, so `--consul-token SECRET` would
be read as `--consul-token-file SECRET`; and its "unrecognized arguments" error repeats every
extra word, which would print a token pasted onto the command line.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

UNRECOGNIZED = "unrecognized arguments: "
TOKEN_FLAGS = ("--consul-token", "--token")
TOKEN_HINT = ("never pass a token on the command line: put it in a file for "
              "--consul-token-file, or export CONSUL_HTTP_TOKEN")


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` without abbreviations whose errors show only flag names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith(UNRECOGNIZED):
            message = redact_unrecognized(message[len(UNRECOGNIZED):].split())
        super().error(message)


def redact_unrecognized(words: list[str]) -> str:
    """The flags among ``words`` (without any ``=value``); how many other words were hidden."""
    flags = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    hidden = len(words) - len(flags) + sum(1 for w in words if w.startswith("-") and "=" in w)
    parts = [" ".join(flags)] if flags else []
    if hidden:
        parts.append(f"({hidden} value{'s' if hidden > 1 else ''} not shown)")
    text = UNRECOGNIZED + " ".join(parts)
    if any(f in TOKEN_FLAGS for f in flags):
        text += f"; {TOKEN_HINT}"
    return text
