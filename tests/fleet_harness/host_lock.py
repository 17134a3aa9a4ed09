"""The host-wide lock every fleet takes: nodes share one bridge, node names and 198.18.0.0/24,
so two pytest runs on one machine (two checkouts, or a run beside CI) must not overlap.

flock(2) locks belong to an open file description, so a second open of the file in the same
process would wait for itself: the bare nodes and the session fleet of one run share one hold."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK = Path("/run/lock/webtier-fleet.lock")
_held: list[IO[str]] = []


@contextmanager
def fleet_lock(path: Path = LOCK) -> Iterator[None]:
    if _held:
        _held.append(_held[0])
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w")  # noqa: SIM115 (closed when the last holder leaves)
        fcntl.flock(handle, fcntl.LOCK_EX)
        _held.append(handle)
    try:
        yield
    finally:
        last = _held.pop()
        if not _held:
            last.close()
