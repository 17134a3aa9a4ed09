"""What a failed deploy tells the user: what happened, and what was left as it was."""

from __future__ import annotations

UNCHANGED = "the deploy pointer was not changed"


class DeployError(Exception):
    """A failure the user can act on; the message says what happened and what was left as is."""


class EventError(DeployError):
    """The pointer moved but the instances were not told."""
