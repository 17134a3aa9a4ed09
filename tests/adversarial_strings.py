"""Strings that end a line, a string, a heredoc or a template in one of the formats the stack
writes (shell, env files, HCL, URLs): every setting that reaches one is fed each of them."""

from __future__ import annotations

ADVERSARIAL = (
    "a\nb",                      # a newline: ends an env line, an HCL string, a heredoc line
    "a\r\nb",
    'a"b',                       # ends a double-quoted string (HCL, shell)
    "a'b",                       # ends a single-quoted shell word
    "a\\b",                      # escapes the next character
    "$(touch PWNED)",            # command substitution
    "`touch PWNED`",
    "${touch}",                  # HCL 2 interpolation; HCL 1 stops ending strings at a quote
    '${"}',
    "%{ if true }x%{ endif }",   # HCL 2 template directive
    "NODE_ENV",                  # the heredoc terminators the user data uses
    "x\nNODE_ENV\ntouch PWNED\n",
    "x\nAPP_SERVICE\ntouch PWNED\n",
    "x\nNODE_HCL\ntouch PWNED\n",
    "x\nLIFECYCLE_ENV\ntouch PWNED\n",
    "a\x00b",                    # NUL: no shell word or C string carries it
    "a\x1b[31mb",                # a raw escape sequence
    "é\u202eb",                  # non-ASCII, and a right-to-left override
    "a b",
    "a;touch PWNED",
    "a&touch PWNED",
    "a|touch PWNED",
    "a#b",
    "a?b",
    "",
    "a\n",                       # a trailing newline, which `$` in a regex accepts
)
