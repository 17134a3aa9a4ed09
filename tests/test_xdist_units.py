"""The work units `scripts/test` hands to pytest-xdist's workers (tests/xdist_units.py), checked
on a real `pytest -n 2` run of a small suite laid out like ours: each test records the worker
that ran it."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.xdist_units import unit_of

ROOT = Path(__file__).resolve().parent.parent


def test_the_fleet_harness_is_one_unit_and_every_other_module_its_own() -> None:
    assert unit_of("tests/fleet_harness/test_a.py::test_x") == \
        unit_of("tests/fleet_harness/test_b.py::test_y[1]")
    assert unit_of("tests/plan/test_a.py::test_x") == unit_of("tests/plan/test_a.py::C::test_y")
    assert unit_of("tests/plan/test_a.py::test_x") != unit_of("tests/plan/test_b.py::test_x")


RECORD = """
import os, pathlib
def record(name):
    with open(pathlib.Path(__file__).parents[{up}] / "ran.txt", "a") as f:
        f.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {{name}}\\n")
"""


def write_suite(root: Path) -> None:
    (root / "tests" / "fleet_harness").mkdir(parents=True)
    # The real hook, as tests/conftest.py defines it.
    (root / "tests" / "conftest.py").write_text(
        "from tests.conftest import pytest_xdist_make_scheduler  # noqa: F401\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    for folder, up in (("tests", 1), ("tests/fleet_harness", 2)):
        # Distinct basenames: the modules are imported by name, not as a package.
        for module in (f"test_{up}_{n}" for n in ("one", "two", "three")):
            body = RECORD.format(up=up) + "".join(
                f"def test_{i}():\n    record('{folder}/{module}')\n" for i in range(6))
            (root / folder / f"{module}.py").write_text(body)


def test_a_parallel_run_keeps_each_unit_on_one_worker_and_uses_both(tmp_path: Path) -> None:
    write_suite(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "tests"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = defaultdict(set)
    for line in (tmp_path / "ran.txt").read_text().splitlines():
        worker, module = line.split()
        workers[unit_of(module + ".py::t")].add(worker)
    assert len(workers) == 4  # three top-level modules and the harness
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    assert len(set().union(*workers.values())) == 2
