"""The bootstrap's report (bootstrap/report.py): when a change is applied, what each line says,
and which outcomes are problems (they make the run exit 5)."""

from __future__ import annotations

import pytest

from bootstrap.report import Outcome, Report


def run(dry_run: bool, exists: bool, matches: bool, detail: str = "") -> tuple[list[str], int]:
    lines: list[str] = []
    changes: list[str] = []
    report = Report(dry_run=dry_run, printer=lines.append)
    report.record("s3 bucket b: versioning", exists, matches, lambda: changes.append("x"),
                  detail=detail)
    # The status is right-aligned in 13 columns, then two spaces and the item.
    assert [(o.item, o.status) for o in report.outcomes] == \
        [("s3 bucket b: versioning", lines[0][:13].strip())]
    return lines, len(changes)


@pytest.mark.parametrize(("dry_run", "exists", "matches", "line", "changed"), [
    (False, True, True, "already there  s3 bucket b: versioning", 0),
    (False, False, True, "      created  s3 bucket b: versioning", 0),
    (False, True, False, "      updated  s3 bucket b: versioning -- turned on", 1),
    (False, False, False, "      created  s3 bucket b: versioning -- turned on", 1),
    (True, True, False, " would update  s3 bucket b: versioning -- turned on", 0),
    (True, False, False, " would create  s3 bucket b: versioning -- turned on", 0),
    (True, True, True, "already there  s3 bucket b: versioning", 0),
])
def test_a_change_is_applied_only_when_needed_and_not_in_a_dry_run(
        dry_run: bool, exists: bool, matches: bool, line: str, changed: int) -> None:
    assert run(dry_run, exists, matches, detail="turned on") == ([line], changed)


def test_a_line_without_detail_has_no_separator() -> None:
    lines, _ = run(False, True, False)
    assert lines == ["      updated  s3 bucket b: versioning"]


def test_problems_and_unchecked_items_are_reported_and_only_problems_count() -> None:
    lines: list[str] = []
    report = Report(dry_run=True, printer=lines.append)
    report.record("a", True, True, lambda: None)
    report.problem("iam role r: X", "attached by someone else", "aws iam detach-role-policy")
    report.unchecked("github environment production", "no GITHUB_TOKEN")
    assert lines[1:] == [
        "      problem  iam role r: X -- attached by someone else; fix: aws iam "
        "detach-role-policy",
        "  not checked  github environment production -- no GITHUB_TOKEN"]
    assert report.problems == [Outcome("iam role r: X", "problem")]
