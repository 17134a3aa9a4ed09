"""Benchmark: evaluating each whole stack under the mock engine, as a ratio to the floor.

The floor is a fresh interpreter that imports pulumi and pulumi_aws and registers one resource
of each type the stack uses, under the same mocks. Both sides run as fresh processes (imports
dominate), in pairs whose first side alternates; the ratio is the median of the per-pair ratios,
so load that comes and goes hits both halves of a pair alike (a ratio of two minimums taken
minutes apart measured the machine as much as the program). Goal: ratio <= 1.5.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
GOAL = 1.5

STACK = """
from mock_engine import run_program
run_program({stack!r})
"""

FLOOR = """
import asyncio
import importlib
import pulumi, pulumi_aws  # noqa: F401
from mock_engine import use_mocks
from pulumi.runtime.stack import run_pulumi_func

types = {types!r}
# Load each type's class as the program does (pulumi_aws loads its submodules lazily).
for token in types:
    package, rest = token.split(":", 1)
    module, cls = rest.split(":")
    module_name = {{"aws": "pulumi_aws", "command": "pulumi_command"}}.get(package)
    if module_name:
        mod = importlib.import_module(module_name + "." + module.split("/")[0].replace("index", ""))
        getattr(mod, cls)

class One(pulumi.CustomResource):
    def __init__(self, token, name):
        super().__init__(token, name, {{}})

loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
use_mocks("staging")
def program():
    for i, token in enumerate(types):
        One(token, f"r{{i}}")
loop.run_until_complete(run_pulumi_func(program))
"""


def timed(code: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return time.perf_counter() - start


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from mock_engine import run_program

    for stack in ("staging", "production"):
        types = sorted({r.type for r in run_program(stack).registrations
                        if r.custom and not r.type.startswith("pulumi-python:dynamic")})
        floor, full = [], []
        for i in range(RUNS):
            if i % 2:
                full.append(timed(STACK.format(stack=stack)))
                floor.append(timed(FLOOR.format(types=types)))
            else:
                floor.append(timed(FLOOR.format(types=types)))
                full.append(timed(STACK.format(stack=stack)))
        ratio = statistics.median(f / b for f, b in zip(full, floor, strict=True))
        print(f"{stack}: stack {statistics.median(full):.3f}s median, floor "
              f"{statistics.median(floor):.3f}s median for {len(types)} types; best runs "
              f"{min(full) / min(floor):.2f}x -> ratio (median of {RUNS} pairs) {ratio:.2f} "
              f"(goal <= {GOAL}) {'OK' if ratio <= GOAL else 'OVER'}")


if __name__ == "__main__":
    main()
