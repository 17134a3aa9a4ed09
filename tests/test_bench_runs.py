"""The quick benchmarks still run against the code they measure (a changed signature once left
bench/deploy_upload.py failing at its first call, unnoticed, because nothing ran it). Their
ratios are judged by whoever runs them (docs/testing.md), not here: this only runs them small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
@pytest.mark.parametrize(("bench", "args", "says"), [
    ("deploy_upload.py", ["--runs", "1", "--mib", "1"], "ratio (median of pairs): "),
    ("kv_sync.py", ["--repeat", "1"], "worst request ratio: "),
    ("image_hash.py", [], "no-change path"),
])
def test_a_quick_benchmark_runs_to_its_result_line(bench: str, args: list[str],
                                                   says: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / bench), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert says in done.stdout, done.stdout
    assert "Traceback" not in done.stderr
