"""scripts/mutation's bookkeeping over mutmut's cache (mutants/*.py.meta)."""

from __future__ import annotations

import fnmatch
import json
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutation"


@pytest.fixture
def mutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = ModuleType("mutation_script")
    module.__file__ = str(SCRIPT)
    monkeypatch.setitem(sys.modules, "mutation_script", module)  # its dataclasses look it up
    SourceFileLoader("mutation_script", str(SCRIPT)).exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def test_recheck_forgets_only_undetected_verdicts(mutation: ModuleType, tmp_path: Path) -> None:
    meta = tmp_path / "mutants" / "plan" / "x.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"killed": 1, "survived": 0, "no_tests": 33, "none_ran": 5, "unchecked": None,
             "type_check": 37, "timeout": -24}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "other": "kept"}))
    assert mutation.forget_survivors() == 3
    assert json.loads(meta.read_text()) == {
        "exit_code_by_key": {"killed": 1, "survived": None, "no_tests": None, "none_ran": None,
                             "unchecked": None, "type_check": 37, "timeout": -24},
        "other": "kept"}
    assert mutation.forget_survivors() == 0


PYPROJECT = """
[tool.mutmut]
source_paths = ["components", "deploy", "bootstrap"]
do_not_mutate = ["*/__main__.py", "bootstrap/cli.py"]
"""


def fake_run(root: Path, codes_by_source: dict[str, dict[str, int | None]],
             equivalents: str = "") -> None:
    """A work tree with pyproject, sources, mutmut's cache (mutants/*.py.meta), equivalents."""
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "mutation_equivalents.txt").write_text(equivalents)
    for source, codes in codes_by_source.items():
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_text("")
        meta = root / "mutants" / f"{source}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes}))


def mutants(module: str, killed: int, survived: int) -> dict[str, int | None]:
    codes: dict[str, int | None] = {f"{module}.x_f__mutmut_{n}": 1 for n in range(killed)}
    codes |= {f"{module}.x_g__mutmut_{n}": 0 for n in range(survived)}
    return codes


CACHE = {
    "components/settings.py": mutants("components.settings", 99, 1),
    "deploy/canary.py": mutants("deploy.canary", 8, 2),
    "deploy/canary_lock.py": mutants("deploy.canary_lock", 10, 0),
    "bootstrap/policies.py": mutants("bootstrap.policies", 9, 1),
    "bootstrap/cli.py": mutants("bootstrap.cli", 0, 50),  # out of scope: never counted
}


def run_main(mutation: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
             capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(mutation, "EQUIVALENTS", tmp_path / "tests" / "mutation_equivalents.txt")
    monkeypatch.setattr("sys.argv", ["mutation", "--no-run", *argv])
    code = mutation.main()
    out, err = capsys.readouterr()
    return code, out, err


def test_the_report_gives_each_file_and_guard_group_its_own_score(
        mutation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, CACHE, equivalents="bootstrap.policies.x_g__mutmut_0  # same output\n")
    code, out, err = run_main(mutation, monkeypatch, tmp_path, capsys)
    lines = [line.strip() for line in out.splitlines()]
    assert "80.0 %      8 / 10     deploy/canary.py  <-- below goal" in lines
    assert "100.0 %     10 / 10     deploy/canary_lock.py" in lines
    assert "100.0 %      9 / 9      bootstrap/policies.py" in lines  # its survivor is equivalent
    assert "99.0 %     99 / 100    components/settings.py" in lines
    assert "90.0 %     18 / 20     canary" in lines  # both canary files together
    assert "100.0 %      9 / 9      bootstrap" in lines
    assert not any("bootstrap/cli.py" in line for line in lines)
    # 126 of 129 killed overall (97.7 %) reaches the goal, but the canary group alone is at 90.0
    assert "mutation score: 97.7 % = 126 killed / (130 total - 1 equivalent); 3 surviving" in out
    assert code == 0
    code, _, err = run_main(mutation, monkeypatch, tmp_path, capsys, "--goal", "95")
    assert code == 1
    assert err.strip() == "mutation: below 95 %: canary"


def test_only_scores_the_files_a_glob_or_group_names(
        mutation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, CACHE)
    code, out, _ = run_main(mutation, monkeypatch, tmp_path, capsys, "--only", "deploy/canary*.py")
    assert "mutation score: 90.0 % = 18 killed / (20 total - 0 equivalent)" in out
    assert "components/settings.py" not in out
    assert code == 0
    code, out, _ = run_main(mutation, monkeypatch, tmp_path, capsys, "--only", "bootstrap")
    assert "mutation score: 90.0 % = 9 killed / (10 total - 0 equivalent)" in out
    assert "deploy/canary.py" not in out
    code, out, _ = run_main(mutation, monkeypatch, tmp_path, capsys, "--only", "guards")
    assert "mutation score: 90.0 % = 27 killed / (30 total - 0 equivalent)" in out
    assert "components/settings.py" not in out


def test_only_naming_nothing_in_scope_is_one_line_and_exit_2(
        mutation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, CACHE)
    for word in ("deploy/canry*.py", "bootstrap/cli.py"):
        code, out, err = run_main(mutation, monkeypatch, tmp_path, capsys, "--only", word)
        assert code == 2
        assert out == ""
        assert len(err.splitlines()) == 1
        assert err.startswith(f"mutation: --only {word} names no file in [tool.mutmut]'s scope")


def test_a_path_glob_selects_exactly_that_modules_mutant_names(mutation: ModuleType) -> None:
    names = ["deploy.canary.x_canary_count__mutmut_1",
             "deploy.canary_lock.xǁCanaryLockǁtake__mutmut_2", "deploy.cli.x_main__mutmut_1",
             "bootstrap.policies.x_role_arn__mutmut_3",
             "components.fleet.rollout_gate_wait.x_watch__mutmut_1",
             "components.fleet.rollout_start.x_start__mutmut_1"]

    def picked(glob: str) -> list[str]:
        globs = mutation.mutant_globs([glob])
        return [n for n in names if any(fnmatch.fnmatch(n, g) for g in globs)]

    assert picked("deploy/canary*.py") == names[:2]
    assert picked("deploy/canary.py") == names[:1]
    assert picked("bootstrap/*.py") == [names[3]]
    assert picked("components/fleet/rollout_gate*.py") == [names[4]]


def test_a_stale_equivalent_fails_only_the_runs_whose_selection_holds_its_module(
        mutation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, CACHE, equivalents="components.settings.x_gone__mutmut_1  # was same\n")
    code, _, err = run_main(mutation, monkeypatch, tmp_path, capsys)
    assert code == 2
    assert "names components.settings.x_gone__mutmut_1, which mutmut no longer generates" in err
    code, _, err = run_main(mutation, monkeypatch, tmp_path, capsys, "--only", "canary")
    assert (code, err) == (0, "")
    code, _, err = run_main(mutation, monkeypatch, tmp_path, capsys, "--only",
                            "components/*.py")
    assert code == 2


def test_a_file_with_nothing_checked_yet_shows_no_score(mutation: ModuleType) -> None:
    line = mutation.score_line("deploy/canary.py", mutation.Score(counted=3, unchecked=3), 90.0)
    assert line == "      - %      0 / 0      deploy/canary.py  (3 not checked yet)"
    part = mutation.score_line("x.py", mutation.Score(killed=9, counted=12, unchecked=2), 90.0)
    assert part == "   90.0 %      9 / 10     x.py  (2 not checked yet)"
