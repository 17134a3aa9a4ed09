"""The fleet lock: held against another process, re-entrant within one (the bare nodes and the
session fleet of one run), released when the last holder leaves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fleet_harness.host_lock import fleet_lock

PROBE = ("import fcntl, sys\nf = open(sys.argv[1], 'w')\n"
         "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n"
         "    sys.exit(3)\n")


def other_process_gets(path: Path) -> bool:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], timeout=30, check=False)
    assert done.returncode in (0, 3)
    return done.returncode == 0


def test_another_process_waits_while_a_fleet_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "fleet.lock"
    with fleet_lock(path):
        assert not other_process_gets(path)
    assert other_process_gets(path)


def test_a_nested_hold_in_the_same_process_neither_waits_nor_releases_early(
        tmp_path: Path) -> None:
    path = tmp_path / "fleet.lock"
    with fleet_lock(path):
        with fleet_lock(path):  # would wait for itself with a second flock
            assert not other_process_gets(path)
        assert not other_process_gets(path)
    assert other_process_gets(path)
