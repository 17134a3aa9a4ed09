"""The one reader of committed stack files (Pulumi.<stack>.yaml): bounded, safe, one-line errors.

Every tool that reads a stack file (settings, the mock engine and plan, the deploy CLI) goes
through ``load_stack_config``, so a hostile or broken file fails the same way everywhere: a 2 KB
alias bomb ("billion laughs") is refused while parsing, before anything expands it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A stack file is a few KB; these leave room for large ones and stop a bomb long before it costs.
MAX_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_NODES = 100_000
# Real stack files nest 4-5 levels; past this PyYAML (and any reader after it) would recurse
# until RecursionError.
MAX_DEPTH = 50


class StackFileError(ValueError):
    """The stack file cannot be used; the message is one line naming the file."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and depth while composing, before any value is expanded,
    and refuses a key given twice in one mapping (YAML says keys are unique; PyYAML keeps the
    last one silently, so a reviewer would read the first)."""

    aliases = 0
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Bomb(f"more than {MAX_ALIASES} YAML aliases (*name)")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise StackFileError(f"nests deeper than {MAX_DEPTH} levels at line "
                                     f"{mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise StackFileError(f"the key {key!r} is given twice in one mapping (line "
                                     f"{key_node.start_mark.line + 1}): keep one")
            seen.add(key)
        return super().construct_mapping(node, deep)


class _Bomb(StackFileError):
    """Too many aliases: a possible alias bomb."""


def _expanded_nodes(value: object, budget: int) -> int:
    """Nodes left of ``budget`` after walking ``value`` with aliases expanded; <0 = too many."""
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return budget
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return budget


def load_stack_config(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file ({} when it has none); StackFileError if unusable."""
    doc = load_stack_file(path)
    config = doc.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: `config` is a {type(config).__name__}; it must be a "
                             "mapping of `<namespace>:<key>: value`")
    return config


def load_stack_file(path: Path) -> dict[str, Any]:
    """The whole stack file (secretsprovider, encryptedkey, config); StackFileError if unusable."""
    where = path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise StackFileError(f"{where}: cannot be read ({e.strerror})") from None
    if len(data) > MAX_BYTES:
        raise StackFileError(f"{where}: {len(data)} bytes is over the {MAX_BYTES}-byte limit "
                             "for a stack file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StackFileError(f"{where}: is not UTF-8 text (byte {e.start}); is it a binary "
                             "file?") from None
    if "\x00" in text:
        raise StackFileError(f"{where}: holds NUL bytes; is it a binary file?")
    try:
        doc = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except _Bomb as e:
        raise StackFileError(f"{where}: {e}: refusing a possible alias bomb") from None
    except StackFileError as e:
        raise StackFileError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise StackFileError(f"{where}: is not valid YAML{at}: {problem}") from None
    if _expanded_nodes(doc, MAX_NODES) < 0:
        raise StackFileError(f"{where}: expands to over {MAX_NODES} values: refusing a possible "
                             "alias bomb")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise StackFileError(f"{where}: the top level is a {type(doc).__name__}; it must be a "
                             "mapping with a `config:` mapping")
    return doc
