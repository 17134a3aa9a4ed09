"""The parsing framework: reads one config object field by field, collecting every problem.

Section parsers (one file per section) use it; nothing here knows a setting's meaning.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast, get_args

import pulumi

from contracts import json_text
from contracts.aws_ids import IdRule

T = TypeVar("T")
S = TypeVar("S", bound=str)


class SettingsError(pulumi.RunError):
    """The stack's config is invalid; the message lists every problem found."""

    def __init__(self, stack: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:  # one problem, one line
            super().__init__(f"stack '{stack}' has invalid settings: {self.problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"stack '{stack}' has invalid settings:\n{lines}")


@dataclass(frozen=True)
class Secret:
    """A secret config value. Prints as [secret]; becomes a Pulumi secret output on the way out."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "[secret]"

    def __repr__(self) -> str:
        return "Secret([secret])"

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self.value)


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` type, so no list of choices is written twice."""
    return tuple(get_args(literal))


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: object, allowed: str) -> None:
        shown = "[secret]" if isinstance(value, Secret) else json.dumps(value, default=str)
        self.items.append(f"{key} = {shown}: {allowed}")

    def note(self, text: str) -> None:
        self.items.append(text)


class ConfigObject:
    """Reads the fields of one structured config value, remembering which were used."""

    def __init__(self, key: str, raw: object, problems: Problems) -> None:
        self.key = key
        self.problems = problems
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.add(key, raw, "must be an object (a YAML mapping)")
            raw = {}
        self.raw: dict[str, Any] = raw
        self.used: set[str] = set()
        self.refused: set[str] = set()
        """Fields whose value was refused: their default stands in, and no later check may
        report that default as if the user had set it."""

    def valid(self, *names: str) -> bool:
        """Whether none of ``names`` was refused, so a check across them compares what was set."""
        return not self.refused.intersection(names)

    def _refuse(self, name: str, value: object, allowed: str) -> None:
        self.refused.add(name)
        self.problems.add(f"{self.key}.{name}", value, allowed)

    def _get(self, name: str, default: T, kinds: tuple[type, ...], kind_name: str) -> T:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        # bool is an int in Python; a YAML `true` is never a valid number.
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return cast(T, value)
        self._refuse(name, value, f"must be {kind_name}")
        return default

    def required(self, name: str) -> bool:
        if name in self.raw:
            return True
        self.used.add(name)
        self.problems.note(f"{self.key}.{name} is missing: it is required")
        return False

    def text(self, name: str, default: str, pattern: re.Pattern[str] | IdRule | None = None,
             allowed: str = "") -> str:
        value: str = self._get(name, default, (str,), "a string")
        if isinstance(pattern, IdRule):
            allowed = allowed or pattern.allowed
            pattern = pattern.pattern
        if pattern is not None and name in self.raw and isinstance(value, str) \
                and not pattern.fullmatch(value):
            self._refuse(name, value, allowed or f"must match {pattern.pattern}")
            return default
        return value

    def opt_text(self, name: str, pattern: re.Pattern[str] | IdRule | None = None,
                 allowed: str = "") -> str | None:
        if name not in self.raw or self.raw[name] is None:
            self.used.add(name)
            return None
        value = self.text(name, "", pattern, allowed)
        return value or None

    def choice(self, name: str, default: S, literal: Any) -> S:
        """One of the values of the ``Literal`` type ``literal``."""
        allowed = choices(literal)
        value = self.text(name, default)
        if value not in allowed:
            self._refuse(name, value, f"must be one of {', '.join(allowed)}")
            return default
        return cast(S, value)

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value: int = self._get(name, default, (int,), "a whole number")
        if not lo <= value <= hi:
            self._refuse(name, value, f"must be between {lo} and {hi}")
            return default
        return value

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        value: float = self._get(name, default, (int, float), "a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            self._refuse(name, value, f"must be between {lo:g} and {hi:g}")
            return default
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        return self._get(name, default, (bool,), "true or false")

    def items(self, name: str) -> list[Any]:
        return self._get(name, [], (list,), "a list")

    def mapping(self, name: str) -> dict[str, Any]:
        return self._get(name, {}, (dict,), "a mapping")

    def child(self, name: str) -> ConfigObject:
        self.used.add(name)
        return ConfigObject(f"{self.key}.{name}", self.raw.get(name), self.problems)

    def done(self) -> None:
        # The value is never shown: a secret pasted under a mistyped field would be echoed.
        for unknown in sorted(set(self.raw) - self.used):
            self.problems.note(f"{self.key}.{unknown} is not a known setting (known: "
                               f"{', '.join(sorted(self.used))}); its value is not shown")


def decode(key: str, raw: object, problems: Problems) -> object:
    """Config values arrive as strings; structured ones are JSON."""
    if isinstance(raw, str):
        text = raw.strip()
        if text[:1] in "{[":
            try:
                return json_text.loads(text)
            except json.JSONDecodeError as err:
                problems.add(key, raw, f"is not valid JSON ({err.msg})")
                return None
    return raw
