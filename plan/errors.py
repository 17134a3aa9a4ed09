"""The plan's one error type, shared by the CLI and the checks it runs (policy, readiness)."""

from __future__ import annotations


class PlanError(Exception):
    """A problem the user can fix: bad arguments, an unknown revision, an invalid stack config."""
