"""pytest plugin for scripts/mutation runs only (pyproject's [tool.mutmut] loads it with -p).

Each mutant is judged by the unit tests that reach it and run in under SLOW seconds: the pure
tests of settings, specs, builders, rules and the plan. The whole-program tests (the stack under
the mock engine, ~0.4 s each) reach nearly every function, so a surviving mutant would rerun
hundreds of them: hours on 2 cores. They still run once, to measure, and in every normal run.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

SLOW = 0.1
# mutmut's own runs that are not a mutant: the clean run, coverage stats, the forced failure.
_NOT_A_MUTANT = {"", "stats", "fail", "mutant_generation"}
# The engine-toolchain checks start the plugin shims in scripts/, which find the venv beside them,
# the mutation script's own test reads scripts/mutation, and the CI checks read scripts/ and the
# workflows: mutants/ has neither, and they judge the toolchain, not code under
# mutation. (Kept here, not in pyproject's pytest args: mutmut drops every cached verdict when
# those change.)
# The plan run on a copied tree starts `python -m plan` there, whose trampolines cannot report
# to mutmut's stats run (it fails there), and at seconds each it never judges a mutant.
_NOT_RUN_HERE = ("tests/engine/test_engine_cli_required.py", "tests/test_mutation_script.py",
                 "tests/ci/", "tests/settings/test_plaintext_secrets_elsewhere.py::"
                 "test_the_plan_exits_non_zero_without_the_value")
# Tests that start a real Consul, the Pulumi engine or a fleet need the tools in .tools/, which
# mutants/ does not have (and take seconds each): the integration suite runs them.
_REAL_TOOLS = ("consul_agent", "engine", "fleet_harness")
# Nearly every unit test builds settings, so a settings mutant would rerun ~480 tests (minutes each
# on 2 cores): the settings tests judge it alone. This can only miss a kill, never invent one.
_OWN_TESTS = {"components.settings.": "settings"}


@cache
def _durations() -> dict[str, float]:
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from mutants/
    if not stats.exists():
        return {}
    return dict(json.loads(stats.read_text())["duration_by_test"])


def _deselect(config: pytest.Config, items: list[pytest.Item], drop: list[pytest.Item]) -> None:
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _deselect(config, items, [item for item in items if item.nodeid.startswith(_NOT_RUN_HERE)
                              or any(item.get_closest_marker(m) for m in _REAL_TOOLS)])
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if mutant in _NOT_A_MUTANT:
        return
    for prefix, marker in _OWN_TESTS.items():
        if mutant.startswith(prefix):
            _deselect(config, items, [item for item in items if marker not in item.path.name])
    _deselect(config, items, [item for item in items if _durations().get(item.nodeid, 0.0) > SLOW])
