"""Which KV keys the consul-template templates read, and whether every stack defines them.

Templates read keys relative to the stack prefix, `{{ key (print (env "KV_PREFIX") "/a/b") }}`,
so one template serves every stack. `key` blocks rendering until the key exists, so a key a stack
lacks would leave its nodes without config: the program and the tests check it before any `up`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_SUFFIX = ".ctmpl"

_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_COMMENT = re.compile(r"^\s*/\*.*\*/\s*$", re.DOTALL)
_PREFIXED_READ = re.compile(
    r"\b(?P<fn>key|keyOrDefault|keyExists)\s+\(\s*print\s+\(\s*env\s+\"KV_PREFIX\"\s*\)\s+"
    r"\"/(?P<key>[^\"]+)\"\s*\)")
_KV_FUNCTION = re.compile(r"\b(?P<fn>key|keyOrDefault|keyExists|ls|safeLs|tree|safeTree)\s+"
                          r"(?P<arg>\"[^\"]*\"|\()")
# Functions that render without the key: a missing key is not an error for them.
_OPTIONAL = frozenset({"keyOrDefault", "keyExists"})


@dataclass(frozen=True)
class KeyRead:
    """One KV read in a template: the key relative to KV_PREFIX, and whether rendering needs it."""

    template: str
    key: str
    line: int
    required: bool


def template_reads(path: Path) -> tuple[list[KeyRead], list[str]]:
    """The KV reads in one template, and problems with reads the check cannot verify."""
    text = path.read_text()
    reads: list[KeyRead] = []
    problems: list[str] = []
    for action in _ACTION.finditer(text):
        body = action.group(1)
        if _COMMENT.match(body):
            continue
        line = text.count("\n", 0, action.start()) + 1
        for match in _PREFIXED_READ.finditer(body):
            reads.append(KeyRead(path.name, match.group("key"), line,
                                 match.group("fn") not in _OPTIONAL))
        rest = _PREFIXED_READ.sub("", body)
        for match in _KV_FUNCTION.finditer(rest):
            arg = match.group("arg")
            if arg.startswith('"'):
                problems.append(f"template {path.name} (line {line}) reads KV key {arg} outside "
                                "KV_PREFIX, so every stack would share it: read it as "
                                f"(print (env \"KV_PREFIX\") \"/{arg.strip(chr(34))}\")")
            else:
                problems.append(f"template {path.name} (line {line}) calls {match.group('fn')} "
                                "with a key the coverage check cannot read: use "
                                "(print (env \"KV_PREFIX\") \"/literal/key\")")
    return reads, problems


def templates(templates_dir: Path) -> list[Path]:
    return sorted(templates_dir.glob(f"*{TEMPLATE_SUFFIX}"))


def required_keys(templates_dir: Path) -> set[str]:
    """Every key some template cannot render without."""
    return {r.key for path in templates(templates_dir) for r in template_reads(path)[0]
            if r.required}


def template_coverage_errors(templates_dir: Path, kv_keys: set[str] | frozenset[str],
                             stack: str) -> list[str]:
    """One message per (template, key) the stack's KV lacks, plus unverifiable reads."""
    paths = templates(templates_dir)
    if not paths:
        return [f"no templates (*{TEMPLATE_SUFFIX}) in {templates_dir}: nothing to check the "
                f"KV of stack '{stack}' against"]
    errors: list[str] = []
    for path in paths:
        reads, problems = template_reads(path)
        errors += problems
        seen: set[str] = set()
        for read in reads:
            if not read.required or read.key in kv_keys or read.key in seen:
                continue
            seen.add(read.key)
            errors.append(f"template {read.template} reads KV key '{read.key}' (line {read.line}) "
                          f"but stack '{stack}' does not define it: add it under webtier:kv in "
                          f"Pulumi.{stack}.yaml (kv.values, or kv.secretKeys plus kvSecrets)")
    return errors


def kv_parity_errors(keys_by_stack: Mapping[str, set[str] | frozenset[str]],
                     environment_specific: Mapping[str, set[str] | frozenset[str]]) -> list[str]:
    """Keys some stacks define and others lack, unless a stack declares them environment-specific.

    A key is exempt when any stack lists it in kv.environmentSpecific: declaring it once says
    the difference is intended.
    """
    exempt = set().union(*environment_specific.values()) if environment_specific else set()
    stacks = sorted(keys_by_stack)
    errors: list[str] = []
    every = set().union(*keys_by_stack.values()) if keys_by_stack else set()
    for key in sorted(every - exempt):
        having = [s for s in stacks if key in keys_by_stack[s]]
        missing = [s for s in stacks if key not in keys_by_stack[s]]
        if missing:
            errors.append(f"KV key '{key}' is defined in stack {_names(having)} but not in "
                          f"{_names(missing)}: define it in every stack, or list it in "
                          "kv.environmentSpecific")
    return errors


def _names(stacks: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in stacks)
