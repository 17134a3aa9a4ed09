"""`python -m plan STACK --capacity` as an operator runs it: before and after a change with
`--base REF` (a real git repository in a temp dir), plain text on a terminal, Markdown with a
chart when piped (the PR job summary), and one-line errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mock_engine import ROOT
from plan import cli
from tests.plan.test_plan_cli_base import commit, git

FILES = ("Pulumi.yaml", "Pulumi.production.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    commit(tmp_path, {name: (ROOT / name).read_text() for name in FILES}, "original")
    return tmp_path


def test_base_shows_the_committed_settings_before_and_the_working_tree_after(
        repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")[:12]
    stack = repo / "Pulumi.production.yaml"
    stack.write_text(stack.read_text().replace("    mode: simple\n",
                                               "    mode: target-tracking\n"))
    text = cli.capacity_base("production", "HEAD", root=repo)
    assert text.startswith(f"### Capacity: `HEAD` ({sha}) and this tree\n\n"
                           f"|  | `HEAD` ({sha}) | this tree |\n|---|---|---|\n"
                           "| policies | CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s | "
                           "CPU target tracking: 50% |\n")
    # The original's 7-14 minutes before, target tracking's one-minute alarms after.
    assert "| first new capacity in service | 7 min 15 s to 14 min | 7 min 15 s to 12 min |\n" \
        in text
    assert text.count("xychart-beta") == 2


def test_base_without_the_stack_file_is_a_one_line_error(repo: Path) -> None:
    (repo / "Pulumi.staging.yaml").write_text((ROOT / "Pulumi.staging.yaml").read_text())
    with pytest.raises(cli.PlanError, match=r"^--base 'HEAD' has no Pulumi.staging.yaml: "
                                            "nothing to compare the capacity with$"):
        cli.capacity_base("staging", "HEAD", root=repo)


def test_a_bad_stack_file_at_the_base_names_the_revision(repo: Path) -> None:
    stack = repo / "Pulumi.production.yaml"
    good = stack.read_text()
    commit(repo, {"Pulumi.production.yaml": good.replace("period: 300", "period: 45")}, "bad")
    stack.write_text(good)
    with pytest.raises(cli.PlanError, match=r"^at HEAD: .*webtier:scaling.period = 45"):
        cli.capacity_base("production", "HEAD", root=repo)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Bytes(io.StringIO):
    """stdout as main writes it: bytes to .buffer."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.buffer = io.BytesIO()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(("argv", "summary", "first", "chart"), [
    ([], "", "Capacity of production: 2..20 x t3.medium in ap-northeast-1", False),
    (["--markdown"], "", "### Capacity of `production`: 2..20 x t3.medium in ap-northeast-1", True),
    ([], "/tmp/summary", "### Capacity of `production`: 2..20 x t3.medium in ap-northeast-1",
     True)])
def test_plain_text_unless_markdown_is_asked_for_or_a_job_summary_reads_it(
        argv: list[str], summary: str, first: str, chart: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Piped output stays plain (`| less`, a log); a job step sets GITHUB_STEP_SUMMARY.
    out = Bytes(tty=False)
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", summary)
    assert cli.main(["production", "--capacity", *argv]) == 0
    text = out.buffer.getvalue().decode()
    assert text.split("\n")[0] == first
    assert ("```mermaid\nxychart-beta\n" in text) is chart
    assert ("| policy |" in text) is chart


def test_capacity_base_with_an_unknown_revision_exits_2_with_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["production", "--capacity", "--base", "no-such-ref-xyz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plan: --base 'no-such-ref-xyz' is not a commit")
    assert err.count("\n") == 1
