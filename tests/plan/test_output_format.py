"""The plan prints plain text to a terminal and Markdown only when asked: `--markdown`, or
GITHUB_STEP_SUMMARY set (a GitHub Actions step, whose summary renders Markdown)."""

from __future__ import annotations

import pytest

from plan.cli import main
from plan.plain_text import from_markdown


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_bootstrap_status_is_plain_text_by_default(
        capsys: pytest.CaptureFixture[str], terminal: None) -> None:
    out = run(capsys, "staging", "--bootstrap-status")
    assert "###" not in out
    assert "```" not in out
    assert "`staging`" not in out
    assert out.startswith("Stack staging is not bootstrapped yet: no preview ran\n"), out
    # The commands stay, indented, ready to copy.
    assert "\n    pulumi config set --secret consulGossipKey --stack staging\n" in out, out


def test_markdown_when_asked(capsys: pytest.CaptureFixture[str], terminal: None) -> None:
    out = run(capsys, "staging", "--bootstrap-status", "--markdown")
    assert out.startswith("### Stack `staging` is not bootstrapped yet"), out
    assert "```sh\n" in out


def test_markdown_in_a_github_step(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "/tmp/summary")
    out = run(capsys, "staging", "--bootstrap-status")
    assert out.startswith("### Stack `staging`"), out


def test_tree_in_markdown_is_fenced_and_plain_otherwise(
        capsys: pytest.CaptureFixture[str], terminal: None) -> None:
    plain = run(capsys, "staging")
    fenced = run(capsys, "staging", "--markdown")
    assert plain.startswith("Offline plan for stack staging:")
    assert fenced == f"```\n{plain}```\n"


def test_tables_become_aligned_columns() -> None:
    md = ("#### Two rows\n\n| only in | resource |\n|---|---|\n| `staging` | `a-long-name` |\n"
          "| `production` | `b` |\n")
    assert from_markdown(md) == ("Two rows\n\nonly in     resource\n"
                                 "staging     a-long-name\nproduction  b\n")


def test_emphasis_quotes_and_code_marks_are_dropped() -> None:
    md = "> **The stacks differ**: 8 resource(s) in `staging` only; *(none)* set\n"
    assert from_markdown(md) == "The stacks differ: 8 resource(s) in staging only; (none) set\n"


def test_a_mermaid_chart_is_left_out_of_plain_text() -> None:
    md = "Capacity\n\n```mermaid\nxychart-beta\n  line [1, 2]\n```\nafter\n"
    assert from_markdown(md) == "Capacity\n\nafter\n"


def test_html_details_tags_are_dropped() -> None:
    md = "<details><summary>37 inputs</summary>\n\ntext\n\n</details>\n"
    assert from_markdown(md) == "37 inputs\n\ntext\n\n"
