"""Hand-made mutants of the code that guards access (issue 23), each of a kind that once
survived the unit tests: a widened IAM resource, a dropped public-access flag, a token rule made
broader, a gate condition inverted. Each is applied to a copy of its package, which shadows the
work tree's (PYTHONPATH first, pytest's --import-mode=append puts the work tree last; the rest
of the work tree is linked beside it), and the unit tests named for it must fail; the same run on
the unmutated copy must pass, so a failure is the mutant's and not the harness's.
scripts/mutation measures the same per module, at scale."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent

# (name, file, text, mutated text, the unit tests that must catch it)
MUTANTS = [
    ("widened IAM resource: the deploy role may create any role, not only its stack's",
     "bootstrap/role_policies.py", '"Resource": role, "Condition": bounded},',
     '"Resource": a.iam("role", "*"), "Condition": bounded},',
     ["tests/bootstrap/test_role_policies_exact.py"]),
    ("dropped public-access flag: RestrictPublicBuckets no longer checked",
     "bootstrap/drift.py", '"BlockPublicPolicy": True, "RestrictPublicBuckets": True}',
     '"BlockPublicPolicy": True}', ["tests/bootstrap/test_drift_rules.py"]),
    ("token rule made broader: consul-template may write the stack's KV",
     "consul_tokens/model.py",
     '"read the stack\'s settings",\n                    Grant("key_prefix", s.prefix, "read")',
     '"read the stack\'s settings",\n                    Grant("key_prefix", s.prefix, "write")',
     ["tests/consul_tokens/test_token_rules_exact.py"]),
    ("gate condition inverted: an update waits only when nothing it watches changed",
     "components/fleet/rollout_gate_wait.py",
     "return any(olds.get(k) != news.get(k) for k in WATCHED)",
     "return any(olds.get(k) == news.get(k) for k in WATCHED)",
     ["tests/fleet/test_rollout_gate_wait.py"]),
]


def run_tests(shadow: Path, tests: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    # venv/bin/pytest, not `python -m pytest`, which would put the work tree first on sys.path.
    return subprocess.run(
        [str(ROOT / "venv/bin/pytest"), "-q", "-x", "-p", "no:cacheprovider",
         "--import-mode=append", "-m", "not integration", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("name", "source", "text", "mutated", "tests"), MUTANTS,
                         ids=[m[1] for m in MUTANTS])
def test_the_unit_tests_kill_the_hand_made_mutant(tmp_path: Path, name: str, source: str,
                                                  text: str, mutated: str,
                                                  tests: list[str]) -> None:
    package = source.split("/")[0]
    shutil.copytree(ROOT / package, tmp_path / package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    # What the code reads beside itself (the stack files, config/) is the work tree's.
    for entry in ROOT.iterdir():
        if entry.name not in {package, ".git", "mutants", "venv", "node_modules", ".tools"}:
            (tmp_path / entry.name).symlink_to(entry)
    copy = tmp_path / source
    original = copy.read_text()
    assert original.count(text) == 1, f"{name}: the text to mutate is no longer in {source}"
    clean = run_tests(tmp_path, tests)
    assert clean.returncode == 0, clean.stdout[-2000:]
    copy.write_text(original.replace(text, mutated))
    killed = run_tests(tmp_path, tests)
    # The clean copy passed, so a failure now is the mutant's (and proves the copy was the one
    # imported: the work tree's own package would pass again).
    assert killed.returncode == 1, f"{name} survived:\n{killed.stdout[-2000:]}"
