"""One line per item the bootstrap checks: what it did, would do, or found wrong.

A second run prints `already there` for everything it owns; a problem it will not fix itself
(drift that may be someone's intent, or that only an operator may undo) is one line naming the
command that fixes it, and makes the run exit 5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["created", "updated", "already there", "would create", "would update",
                 "problem", "not checked"]


DETAIL = " -- "
"""Between an item and what was changed or is wrong with it (item names hold colons)."""


@dataclass(frozen=True)
class Outcome:
    item: str
    status: Status


@dataclass
class Report:
    dry_run: bool
    printer: Callable[[str], None]
    outcomes: list[Outcome] = field(default_factory=list)

    def record(self, item: str, exists: bool, matches: bool, change: Callable[[], None],
               detail: str = "") -> None:
        """Apply ``change`` unless the item already is as wanted; report what was (or would be)
        done. ``exists``: the item (or the thing it belongs to) was there before this run.
        ``detail`` says what a change changes, when that is more than the item's name."""
        if matches:
            # Made with its parent in this run (exists=False), or found as wanted.
            status: Status = "already there" if exists else "created"
        elif self.dry_run:
            status = "would update" if exists else "would create"
        else:
            change()
            status = "updated" if exists else "created"
        self._add(item, status, detail if not matches else "")

    def problem(self, item: str, what: str, fix: str) -> None:
        """Drift the bootstrap reports and leaves: ``fix`` is the command that repairs it."""
        self._add(item, "problem", f"{what}; fix: {fix}")

    def unchecked(self, item: str, why: str) -> None:
        self._add(item, "not checked", why)

    @property
    def problems(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "problem"]

    def _add(self, item: str, status: Status, detail: str) -> None:
        self.outcomes.append(Outcome(item, status))
        self.printer(f"{status:>13}  {item}" + (f"{DETAIL}{detail}" if detail else ""))
