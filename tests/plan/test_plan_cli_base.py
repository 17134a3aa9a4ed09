"""`python -m plan STACK --base REF` on a small git repository with the program stubbed: the
revision's tree is the one planned "before", the working tree "after", and a revision without the
program or the stack file makes everything new. (tests/plan/test_plan_stack.py runs the real
program.)"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mock_engine import PLACEHOLDER_KV_SECRET as LEAK
from mock_engine import Registration
from plan import cli, model

PARAMETER = "aws:ssm/parameter:Parameter"
OVERRIDES = {"webtier:fleet.maxSize": 4}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t",
                           "-c", "user.email=t@example.com", *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def commit(root: Path, files: Mapping[str, str], message: str) -> str:
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")[:12]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    return tmp_path


Planned = list[tuple[str, bool, Mapping[str, Any] | None]]


@pytest.fixture
def planned(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Planned:
    """cli.plan stubbed: the tree's value.txt is the parameter's value ("broken" fails)."""
    seen: Planned = []

    def fake(stack: str, *, root: Path = cli.ROOT,
             config_overrides: Mapping[str, Any] | None = None) -> list[model.Resource]:
        seen.append((stack, root == repo, config_overrides))
        value = (root / "value.txt").read_text()
        if value == "broken":
            raise cli.PlanError("webtier:fleet.maxSize = 0: must be at least 1")
        return model.resources([Registration(PARAMETER, "p", f"urn:{PARAMETER}::p", "", True,
                                             {"value": value}, {})])
    monkeypatch.setattr(cli, "plan", fake)
    return seen


PROGRAM = {"__main__.py": "", "Pulumi.qa.yaml": "config: {}\n"}


def tree(repo: Path, files: Mapping[str, str], working_value: str) -> str:
    """Commit ``files`` (git runs here, in setup, not on the test's clock), then leave
    value.txt uncommitted at ``working_value``; the commit's short id."""
    sha = commit(repo, files, "the base")
    (repo / "value.txt").write_text(working_value)
    return sha


@pytest.fixture
def changed(repo: Path) -> str:
    return tree(repo, {**PROGRAM, "value.txt": "old"}, LEAK)


def test_base_diffs_the_revisions_tree_against_the_working_tree(
        changed: str, repo: Path, planned: Planned) -> None:
    lines = cli.base_markdown("qa", "HEAD", root=repo, config_overrides=OVERRIDES).splitlines()
    assert lines[0] == f"### Offline plan for `qa`: `HEAD ({changed})` → working tree"
    assert f"> **Secret in plain text**: `{PARAMETER} p: value`" in lines
    assert f"| update | `p` | `{PARAMETER}` | changes in place: value |" in lines
    assert "| `value` | `old` | `[secret]` |" in lines
    assert planned == [("qa", True, OVERRIDES), ("qa", False, None)]


def test_base_shows_the_placeholder_when_asked_not_to_redact(
        changed: str, repo: Path, planned: Planned) -> None:
    assert f"| `value` | `old` | `{LEAK}` |" in \
        cli.base_markdown("qa", "HEAD", root=repo, redact=False).splitlines()


@pytest.fixture(params=["no program", "no stack file"])
def unplanned(request: pytest.FixtureRequest, repo: Path) -> str:
    drop = "__main__.py" if request.param == "no program" else "Pulumi.qa.yaml"
    return tree(repo, {k: v for k, v in {**PROGRAM, "value.txt": "x"}.items() if k != drop},
                "new")


def test_revision_without_the_program_or_the_stack_file_makes_everything_new(
        unplanned: str, repo: Path, planned: Planned) -> None:
    lines = cli.base_markdown("qa", "HEAD", root=repo).splitlines()
    assert lines[:3] == [f"### Offline plan for `qa`: `HEAD ({unplanned})` → working tree", "",
                         "> `HEAD` has no program or no `Pulumi.qa.yaml`: everything is new."]
    assert f"| create | `p` | `{PARAMETER}` |  |" in lines
    assert planned == [("qa", True, None)]


@pytest.fixture
def broken(repo: Path) -> str:
    return tree(repo, {**PROGRAM, "value.txt": "broken"}, "fixed")


def test_revision_whose_plan_fails_names_the_revision(
        broken: str, repo: Path, planned: Planned) -> None:
    with pytest.raises(cli.PlanError) as caught:
        cli.base_markdown("qa", "HEAD", root=repo)
    assert str(caught.value) == "at HEAD: webtier:fleet.maxSize = 0: must be at least 1"


def test_unknown_revision_is_a_plan_error_with_the_fix(
        changed: str, repo: Path, planned: Planned) -> None:
    with pytest.raises(cli.PlanError) as caught:
        cli.base_markdown("qa", "origin/nope", root=repo)
    assert str(caught.value) == f"--base 'origin/nope' is not a commit in {repo}: give a " \
        "branch, tag or commit (e.g. origin/main; fetch it first in a shallow clone)"
