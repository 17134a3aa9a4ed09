"""A one-line rollout progress bar: redrawn in place on a terminal, else a line per change."""

from __future__ import annotations

from typing import TextIO

WIDTH = 24


class RolloutProgress:
    def __init__(self, what: str, stream: TextIO) -> None:
        self._what = what
        self._stream = stream
        self._tty = stream.isatty()
        self._last = ""

    def update(self, done: int, total: int, detail: str = "") -> None:
        filled = WIDTH * done // total if total else 0
        line = (f"{self._what} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"
                f"{'  ' + detail if detail else ''}")
        if line == self._last:
            return
        self._last = line
        if self._tty:
            self._stream.write(f"\r\x1b[K{line}")
        else:
            self._stream.write(f"{line}\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()
