"""Benchmark: the offline plan of each stack, as a ratio to the mock-engine run it is built on.

Baseline: `mock_engine.run_stack(stack)`, what the tests evaluate. Measured: the plan tree
(`plan.tree_text(stack)`: the same run, plus model, leak check and rendering). Both run in
this one process after a warm-up, in RUNS pairs (which goes first alternates), so load from
other processes hits both halves of a pair alike; the headline is the median of the per-pair
ratios, as in bench/deploy_upload.py. Goal: ratio <= 1.2 for every stack.

Garbage collection is billed to the call that made the garbage. A run leaves cyclic garbage
(asyncio futures, outputs) that only a full collection frees, and a full collection costs about
as much as a run; left to the interpreter, it fell on whichever call crossed the threshold, in
this alternation mostly the plan's (2026-12-07: production 1.92x, with each of the plan's runs
that paid one taking 0.3-0.4 s longer). So each timed call starts from a collected heap and
ends with `gc.collect()` inside its timing. The import-time heap (pulumi_aws: ~220,000 objects,
shared by both sides) is frozen after the warm-up, so those collections scan only the garbage.

    venv/bin/python bench/plan.py
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_engine import run_stack
from plan import cli as plan

STACKS = ("staging", "production")
RUNS = 21
GOAL = 1.2


def seconds(fn: Callable[[], object]) -> float:
    """One call and the collection of the garbage it left, from a collected heap."""
    gc.collect()
    start = time.perf_counter()
    fn()
    gc.collect()
    return time.perf_counter() - start


def main() -> int:
    worst = 0.0
    for stack in STACKS:  # warm-up: imports, provider modules, stack files
        run_stack(stack)
        plan.tree_text(stack)
    gc.collect()
    gc.freeze()
    for stack in STACKS:
        base: list[float] = []
        planned: list[float] = []
        for i in range(RUNS):
            if i % 2:
                planned.append(seconds(lambda s=stack: plan.tree_text(s)))
                base.append(seconds(lambda s=stack: run_stack(s)))
            else:
                base.append(seconds(lambda s=stack: run_stack(s)))
                planned.append(seconds(lambda s=stack: plan.tree_text(s)))
        b, p = statistics.median(base), statistics.median(planned)
        ratio = statistics.median(x / y for x, y in zip(planned, base, strict=True))
        worst = max(worst, ratio)
        print(f"{stack:<11} run_stack {b * 1000:7.1f} ms   offline plan {p * 1000:7.1f} ms   "
              f"ratio {ratio:.2f} (median of {RUNS} pairs; of medians {p / b:.2f})")
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"worst ratio {worst:.2f} (goal <= {GOAL}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
