"""The offline plan's CLI plumbing on small hand-built inputs: which modules count as the
program's, how git is run for --base and how its failures read, and that a stack file outside the
repository is the one read. (The whole-program paths are in tests/plan/test_plan_stack.py.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mock_engine import ROOT
from plan import capacity_report as _loaded_here  # noqa: F401  (not on the first test's clock)
from plan import cli


def test_program_packages_are_the_trees_packages_and_modules_but_not_the_plans_own(
        tmp_path: Path) -> None:
    for package in ("components", "contracts", "plan", "tests", "mock_engine"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "docs").mkdir()  # no __init__.py: not a package
    for name in ("__main__.py", "settings_check.py", "README.md", "bench.py"):
        (tmp_path / name).write_text("")
    assert cli._program_packages(tmp_path) == {"components", "contracts", "__main__",
                                               "settings_check"}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A one-commit git repository and its commit id."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t",
                               "-c", "user.email=t@example.com", *args], check=True,
                              capture_output=True, text=True).stdout
    git("init", "-q")
    (tmp_path / "Pulumi.yaml").write_text("name: webtier\n")
    git("add", "Pulumi.yaml")
    git("commit", "-q", "-m", "one")
    return tmp_path, git("rev-parse", "HEAD").strip()


def test_git_answers_with_its_stdout_in_the_given_tree(repo: tuple[Path, str]) -> None:
    root, sha = repo
    assert cli._git(root, "rev-parse", "HEAD") == f"{sha}\n".encode()


def test_git_failure_is_a_plan_error_with_the_command_and_gits_message(
        repo: tuple[Path, str]) -> None:
    root, _ = repo
    with pytest.raises(cli.PlanError) as caught:
        cli._git(root, "rev-parse", "--verify", "no-such-branch")
    assert str(caught.value) == "git rev-parse --verify no-such-branch: fatal: Needed a single " \
        "revision"


def test_git_message_that_is_not_utf8_still_reads(repo: tuple[Path, str]) -> None:
    # git echoes the argument's raw bytes; the error shows a replacement character, no traceback.
    root, _ = repo
    with pytest.raises(cli.PlanError) as caught:
        cli._git(root, "cat-file", "-t", "\udcff")
    assert str(caught.value) == "git cat-file -t \udcff: fatal: Not a valid object name \ufffd"


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """A `git` first on PATH that runs ``script``."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text(script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))


def test_git_advice_over_several_lines_is_one_line_of_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch,
             "#!/bin/sh\nprintf 'fatal: ambiguous argument\\n\\nUse -- to separate\\n' >&2\n"
             "exit 128\n")
    with pytest.raises(cli.PlanError) as caught:
        cli._git(tmp_path, "archive", "x")
    assert str(caught.value) == "git archive x: fatal: ambiguous argument; Use -- to separate"


def test_git_failing_silently_names_its_exit_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, "#!/bin/sh\nexit 3\n")
    with pytest.raises(cli.PlanError) as caught:
        cli._git(tmp_path, "archive", "x")
    assert str(caught.value) == "git archive x: exit 3"


def test_git_that_hangs_is_a_plan_error_naming_the_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, f"#!/bin/sh\nexec {shutil.which('sleep')} 2\n")
    monkeypatch.setattr(cli, "GIT_TIMEOUT", 0.03)
    with pytest.raises(cli.PlanError) as caught:
        cli._git(tmp_path, "archive", "--format=tar", "abc")
    assert str(caught.value) == f"git archive --format=tar abc: no answer after 0.03 s; run it " \
        f"in {tmp_path} to see why"


def test_plan_reads_the_stack_file_under_the_root_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.qa.yaml").write_text("config: {}\n")
    with pytest.raises(cli.PlanError) as caught:
        cli.plan("staging", root=tmp_path)
    assert str(caught.value) == "no stack file Pulumi.staging.yaml: stacks are qa"


def production_with(tmp_path: Path, fleet: dict[str, object]) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["webtier:fleet"].update(fleet)
    (tmp_path / "Pulumi.production.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_capacity_report_of_an_invalid_stack_file_is_the_settings_one_line_error(
        tmp_path: Path) -> None:
    with pytest.raises(cli.PlanError) as caught:
        cli.capacity_markdown(["production"], root=production_with(tmp_path, {"maxSize": 1}))
    assert str(caught.value) == "stack 'production' has invalid settings: " \
        "webtier:fleet.minSize = 2: must not exceed maxSize (1)"


def test_capacity_report_of_a_missing_stack_names_the_stacks_there(tmp_path: Path) -> None:
    with pytest.raises(cli.PlanError) as caught:
        cli.capacity_markdown(["staging"], root=production_with(tmp_path, {}))
    assert str(caught.value) == "no stack file Pulumi.staging.yaml: stacks are production"
