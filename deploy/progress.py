"""A one-line rollout progress bar: redrawn in place on a terminal, else a line per change.

Every line says how long the wait has run and how long it may still run (the timeout; a
canary's bake time left). On a pipe (CI logs) a line is written when the state changes, and at
least every HEARTBEAT seconds while it does not, so a long wait never looks hung.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 24
HEARTBEAT = 30.0


def duration(seconds: float, *, up: bool = False) -> str:
    """``0 s``, ``59 s``, ``1 min``, ``9 min 48 s``: whole seconds, never below 0; rounded down
    (time elapsed), or ``up`` (time left: never claims less than there is)."""
    minutes, rest = divmod(max(0, math.ceil(seconds) if up else int(seconds)), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"


class RolloutProgress:
    def __init__(self, what: str, stream: TextIO, *, now: Callable[[], float] = time.monotonic,
                 timeout: float | None = None, heartbeat: float = HEARTBEAT) -> None:
        self._what = what
        self._stream = stream
        self._tty = stream.isatty()
        self._now = now
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._start = now()
        self._last = ""
        self._last_state = ""
        self._last_written = self._start

    def update(self, done: int, total: int, detail: str = "",
               bake_left: float | None = None) -> None:
        filled = WIDTH * done // total if total else 0
        state = (f"{self._what} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"
                 f"{'  ' + detail if detail else ''}")
        now = self._now()
        elapsed = now - self._start
        times = [f"{duration(elapsed)} elapsed"]
        if bake_left is not None:
            times.append(f"bake {duration(bake_left, up=True)} left")
        if self._timeout is not None:
            times.append(f"up to {duration(self._timeout - elapsed, up=True)} left")
        line = f"{state}  ({', '.join(times)})"
        if self._tty:
            if line == self._last:
                return
            self._stream.write(f"\r\x1b[K{line}")
        else:
            # A log gets a line per change, and a heartbeat while nothing changes.
            if self._last and state == self._last_state \
                    and now - self._last_written < self._heartbeat:
                return
            self._stream.write(f"{line}\n")
        self._last, self._last_state, self._last_written = line, state, now
        self._stream.flush()

    def finish(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()
