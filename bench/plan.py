"""Benchmark: the offline plan of each stack, as a ratio to the mock-engine run it is built on.

Baseline: `mock_engine.run_stack(stack)`, what the tests evaluate. Measured: the plan tree
(`plan.tree_text(stack)`: the same run, plus model, leak check and rendering). Both run in
this one process after a warm-up, alternated so drift hits both alike; the median of RUNS is
compared. Goal: ratio <= 1.2 for every stack.

    venv/bin/python bench/plan.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_engine import run_stack
from plan import cli as plan

STACKS = ("staging", "production")
RUNS = 15
GOAL = 1.2


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    worst = 0.0
    for stack in STACKS:
        run_stack(stack)  # warm-up: imports, provider modules, stack file
        plan.tree_text(stack)
        base: list[float] = []
        planned: list[float] = []
        for _ in range(RUNS):
            base.append(seconds(lambda s=stack: run_stack(s)))
            planned.append(seconds(lambda s=stack: plan.tree_text(s)))
        b, p = statistics.median(base), statistics.median(planned)
        ratio = p / b
        worst = max(worst, ratio)
        print(f"{stack:<11} run_stack {b * 1000:7.1f} ms   offline plan {p * 1000:7.1f} ms   "
              f"ratio {ratio:.2f}")
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"worst ratio {worst:.2f} (goal <= {GOAL}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
