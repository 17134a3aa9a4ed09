"""The one escaping rule for every value written into text another program parses.

Each writer of HCL (Consul's config), shell (the user data and its heredocs), env files (read by
bash, systemd's EnvironmentFile= and release-pull's shlex alike) or URL paths goes through one of
these functions, so a value can only ever come back out as itself, or be refused here with
UnsafeValue naming why. Settings refuse such values first, with their key; this is the last line.
"""

from __future__ import annotations

import re
import shlex


class UnsafeValue(ValueError):
    """The value cannot be written so that the reader gets it back unchanged."""


def hcl_string(value: str) -> str:
    """A quoted HCL string literal that both HCL 1 (Consul's config) and HCL 2 read as ``value``.

    HCL 1's scanner stops treating a quote as the string's end after ``${`` until the braces
    close (hashicorp/hcl v1 scanner.scanString), and HCL 2 starts a template at ``${``/``%{``: so
    ``$`` and ``%`` are written as ``\\u0024``/``\\u0025``, which both decode as plain characters.
    Everything outside printable ASCII is a ``\\u`` escape too, so the file stays one line per
    setting whatever the value holds. NUL is refused: no Consul name or URL can carry one.
    """
    if "\x00" in value:
        raise UnsafeValue("holds a NUL byte")
    out: list[str] = []
    for ch in value:
        code = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in "$%" or not 0x20 <= code < 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# Needs no quoting in bash, systemd's EnvironmentFile= or shlex: the three readers of env files.
_ENV_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+=,~-]*")
# Single quotes keep these literal in all three readers (systemd: no escapes inside '…').
_ENV_QUOTABLE = re.compile(r"[\x20-\x7e]*")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def env_value(value: str) -> str:
    """``value`` as the right-hand side of a KEY=value env-file line, read back unchanged by bash
    (``. file``), systemd (EnvironmentFile=) and Python's shlex.split."""
    if _ENV_PLAIN.fullmatch(value):
        return value
    if _ENV_QUOTABLE.fullmatch(value) and "'" not in value and "\\" not in value:
        return f"'{value}'"
    raise UnsafeValue("an env-file value must be printable ASCII without ' or \\")


def env_line(name: str, value: object) -> str:
    if not ENV_NAME.fullmatch(name):
        raise UnsafeValue(f"{name!r} is not an environment variable name")
    return f"{name}={env_value(str(value))}"


def shell_word(value: str) -> str:
    """``value`` as one shell word (bash gets exactly ``value``); NUL cannot be passed at all."""
    if "\x00" in value:
        raise UnsafeValue("holds a NUL byte, which no shell word can carry")
    return shlex.quote(value)


_TERMINATOR = re.compile(r"[A-Z][A-Z0-9_]*")


def heredoc(path: str, terminator: str, body: str) -> str:
    """``cat > path`` with a quoted (never expanded) heredoc holding ``body`` byte for byte.

    Refuses a body with a line equal to the terminator (it would end the heredoc early and run
    the rest as commands) or a NUL (bash drops it).
    """
    if not _TERMINATOR.fullmatch(terminator):
        raise UnsafeValue(f"{terminator!r} is not a heredoc terminator")
    if "\x00" in body:
        raise UnsafeValue("holds a NUL byte")
    if not body.endswith("\n"):
        body += "\n"
    if terminator in body.splitlines():
        raise UnsafeValue(f"a line of the body is the heredoc terminator {terminator}")
    return f"cat > {shell_word(path)} <<'{terminator}'\n{body}{terminator}\n"


# The characters both an ALB health-check path and RFC 3986 allow, without any a shell, HCL or URL
# parser reads as more than a character (no $, %, ?, #, &, quotes or spaces).
URL_PATH = re.compile(r"^/[A-Za-z0-9._~@:+/-]{0,254}\Z")
URL_PATH_ALLOWED = ("must start with / and hold at most 254 letters, digits and . _ ~ @ : + / - "
                    "(no spaces, quotes, $, %, ?, # or &)")


def url_path(value: str) -> str:
    if not URL_PATH.fullmatch(value):
        raise UnsafeValue(URL_PATH_ALLOWED)
    return value


def terminal_text(value: str) -> str:
    """``value`` safe to print on a terminal: every character that is not printable (escape
    sequences, bells, carriage returns, bidi overrides) shown as a Python escape instead."""
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)
