"""A small evaluator of IAM identity policies and a permissions boundary, for one request.

Only the rules the bootstrap's documents need, each from AWS's IAM User Guide:

- Decision (reference_policies_evaluation-logic.html, "Determining whether a request is allowed
  or denied within an account"): an explicit Deny in any policy wins; otherwise the request is
  allowed only if an identity policy allows it AND, when the principal has a permissions
  boundary, the boundary allows it too (access_policies_boundaries.html: "the effective
  permissions are the intersection"); otherwise it is implicitly denied.
- Action (reference_policies_elements_action.html): matched case-insensitively; `*` and `?` are
  wildcards. NotAction (reference_policies_elements_notaction.html) matches every other action.
- Resource (reference_policies_elements_resource.html): ARNs with `*` and `?` wildcards in any
  segment, case-sensitive; NotResource matches every other resource.
- Condition (reference_policies_elements_condition_operators.html): several operators, and several
  keys under one operator, are ANDed; several values of one key are ORed, and NORed for a negated
  operator (reference_policies_multi-value-conditions.html). A key absent from the request context
  makes a condition false, and a negated one (StringNotEquals, ArnNotLike, ...) true; `...IfExists`
  makes an absent key true. Condition key names are case-insensitive; values of String* and Arn*
  operators case-sensitive. Bool compares "true"/"false".

An operator not listed here raises: the evaluator never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Decision = Literal["allow", "explicit deny", "implicit deny"]
Document = Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def action_matches(statement: Document, action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(p, action, True) for p in _list(statement["NotAction"]))
    return any(glob_match(p, action, True) for p in _list(statement["Action"]))


def resource_matches(statement: Document, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(glob_match(p, resource) for p in _list(statement["NotResource"]))
    return any(glob_match(p, resource) for p in _list(statement.get("Resource", "*")))


_BASE = {
    "StringEquals": (lambda want, got: want == got, False),
    "StringNotEquals": (lambda want, got: want == got, True),
    "StringLike": (lambda want, got: glob_match(want, got), False),
    "StringNotLike": (lambda want, got: glob_match(want, got), True),
    "ArnEquals": (lambda want, got: want == got, False),
    "ArnNotEquals": (lambda want, got: want == got, True),
    "ArnLike": (lambda want, got: glob_match(want, got), False),
    "ArnNotLike": (lambda want, got: glob_match(want, got), True),
    "Bool": (lambda want, got: want.lower() == got.lower(), False),
}


def _operator_holds(operator: str, keys: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _BASE:
        raise ValueError(f"condition operator {operator} is not implemented by this evaluator")
    compare, negated = _BASE[base]
    lowered = {k.lower(): v for k, v in context.items()}
    for key, wanted in keys.items():
        got = lowered.get(key.lower())
        if got is None:
            if if_exists or negated:
                continue
            return False
        hit = any(compare(str(w), got) for w in _list(wanted))
        if hit == negated:  # negated operators NOR their values
            return False
    return True


def condition_holds(statement: Document, context: Mapping[str, str]) -> bool:
    return all(_operator_holds(op, keys, context)
               for op, keys in statement.get("Condition", {}).items())


def applies(statement: Document, request: Request) -> bool:
    return (action_matches(statement, request.action)
            and resource_matches(statement, request.resource)
            and condition_holds(statement, request.context))


def _statements(documents: Iterable[Document]) -> list[Document]:
    out: list[Document] = []
    for doc in documents:
        body = doc["Statement"]
        out += [body] if isinstance(body, Mapping) else list(body)
    return out


def decide(identity: Sequence[Document], request: Request,
           boundary: Document | None = None) -> Decision:
    """The decision for ``request`` by a principal with these identity policies and boundary."""
    every = _statements([*identity, *([boundary] if boundary else [])])
    if any(s["Effect"] == "Deny" and applies(s, request) for s in every):
        return "explicit deny"
    allowed = any(s["Effect"] == "Allow" and applies(s, request)
                  for s in _statements(identity))
    if allowed and boundary is not None:
        allowed = any(s["Effect"] == "Allow" and applies(s, request)
                      for s in _statements([boundary]))
    return "allow" if allowed else "implicit deny"
