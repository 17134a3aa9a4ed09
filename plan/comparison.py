"""Two stacks of the same program side by side: which input values differ, and which resources
exist in one stack only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plan.model import Resource, _changed, tree_order
from plan.user_data_text import decoded_user_data


@dataclass(frozen=True)
class SettingDifference:
    label: str
    path: str
    left: Any
    right: Any
    only_stack_name: bool


@dataclass(frozen=True)
class Comparison:
    only_left: list[Resource]
    only_right: list[Resource]
    differences: list[SettingDifference]


def compare(left: Sequence[Resource], right: Sequence[Resource], left_stack: str,
            right_stack: str) -> Comparison:
    """Input values that differ between two stacks of the same program, and any resource that
    exists in one stack only (the stacks should differ in setting values, not in structure).

    Resources are matched by type and by name with the stack's name taken out, since names
    usually carry it (webapp-staging-fleet and webapp-production-fleet are the same resource).
    """
    lmap = {_stackless(r.key, left_stack): r for r in left}
    rmap = {_stackless(r.key, right_stack): r for r in right}
    diffs: list[SettingDifference] = []
    for res in tree_order(left):
        other = rmap.get(_stackless(res.key, left_stack))
        if other is None:
            continue
        label = f"{res.type} {res.name.replace(left_stack, '<stack>')}"
        for path, a, b in _changed(res.flat(), other.flat()):
            diffs.append(SettingDifference(label, path, a, b,
                                           _only_stack_name(a, b, left_stack, right_stack)))
    return Comparison(
        only_left=[r for r in tree_order(left) if _stackless(r.key, left_stack) not in rmap],
        only_right=[r for r in tree_order(right) if _stackless(r.key, right_stack) not in lmap],
        differences=diffs,
    )


def _stackless(key: str, stack: str) -> str:
    type_, sep, name = key.rpartition("::")
    return f"{type_}{sep}{name.replace(stack, '<stack>')}"


def _only_stack_name(a: Any, b: Any, left_stack: str, right_stack: str) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return any(x != y for x, y in zip(a, b, strict=True)) and all(
            x == y or _only_stack_name(x, y, left_stack, right_stack)
            for x, y in zip(a, b, strict=True))
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    a, b = decoded_user_data(a) or a, decoded_user_data(b) or b
    return left_stack in a and a.replace(left_stack, right_stack) == b
