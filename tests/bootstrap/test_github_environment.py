"""Production's environment protection check, against recorded answers of GitHub's REST API.

GitHub cannot be reached from here, so `get` is a double that returns recorded answers. Their
shapes follow GitHub's REST reference (docs.github.com/en/rest/deployments/environments, "Get an
environment": `protection_rules` entries with `type` required_reviewers / wait_timer /
branch_policy, `deployment_branch_policy` null or {protected_branches, custom_branch_policies};
.../branch-policies, "List deployment branch policies": {total_count, branch_policies: [{name}]};
404 for an environment that does not exist, which the double answers as None like api_get).
"""

from __future__ import annotations

import io
import urllib.request
from typing import Any

import pytest

from bootstrap import cli
from bootstrap.github_environment import api_get, environment_problems
from bootstrap.report import Report

REPO = "acme/webtier"
BASE = f"/repos/{REPO}/environments/production"
REVIEWERS = {"id": 3755, "node_id": "MDQ6R2F0ZTM3NTU=", "prevent_self_review": False,
             "type": "required_reviewers",
             "reviewers": [{"type": "Team", "reviewer": {"id": 1, "slug": "platform"}}]}
WAIT = {"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": 30}
BRANCH_RULE = {"id": 3756, "node_id": "MDQ6R2F0ZTM3NTY=", "type": "branch_policy"}


def environment(rules: list[dict[str, Any]], branch: dict[str, bool] | None) -> dict[str, Any]:
    return {"id": 161088068, "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4", "name": "production",
            "url": f"https://api.github.com{BASE}", "created_at": "2020-11-23T22:00:40Z",
            "updated_at": "2020-11-23T22:00:40Z", "protection_rules": rules,
            "deployment_branch_policy": branch}


def recorded(answers: dict[str, Any]) -> Any:
    def get(path: str) -> Any:
        return answers.get(path)
    return get


def policies_answer(*names: str) -> dict[str, Any]:
    return {"total_count": len(names), "branch_policies": [
        {"id": 361471 + i, "node_id": "MDE2OkdhdGVCcmFuY2hQb2xpY3kzNjE0NzE=", "name": n,
         "type": "branch"} for i, n in enumerate(names)]}


CUSTOM = {"protected_branches": False, "custom_branch_policies": True}


def test_reviewers_and_main_only_is_protected() -> None:
    answers = {BASE: environment([WAIT, REVIEWERS, BRANCH_RULE], CUSTOM),
               f"{BASE}/deployment-branch-policies": policies_answer("main")}
    assert environment_problems(REPO, recorded(answers)) == []


def test_reviewers_and_protected_branches_is_protected() -> None:
    answers = {BASE: environment([REVIEWERS], {"protected_branches": True,
                                               "custom_branch_policies": False})}
    assert environment_problems(REPO, recorded(answers)) == []


@pytest.mark.parametrize(("answers", "phrase"), [
    ({}, "does not exist"),
    ({BASE: environment([WAIT], {"protected_branches": True, "custom_branch_policies": False})},
     "no required reviewers"),
    ({BASE: environment([{**REVIEWERS, "reviewers": []}], {"protected_branches": True,
                                                          "custom_branch_policies": False})},
     "no required reviewers"),
    ({BASE: environment([REVIEWERS], None)}, "every branch may deploy"),
    ({BASE: environment([REVIEWERS], CUSTOM),
      f"{BASE}/deployment-branch-policies": policies_answer("main", "release/*")},
     "admit more than `main`"),
    ({BASE: environment([REVIEWERS], CUSTOM),
      f"{BASE}/deployment-branch-policies": policies_answer()}, "admit more than `main`"),
])
def test_an_unprotected_production_environment_is_named(answers: dict[str, Any],
                                                        phrase: str) -> None:
    (problem,) = environment_problems(REPO, recorded(answers))
    assert phrase in problem


def test_bootstrap_reports_each_gap_as_a_problem_and_without_a_token_as_not_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    report = Report(dry_run=False, printer=lines.append)
    cli.check_github(REPO, report, recorded({BASE: environment([], None)}))
    assert [o.status for o in report.outcomes] == ["problem", "problem"]
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    unchecked = Report(dry_run=False, printer=lines.append)
    cli.check_github(REPO, unchecked)
    assert [o.status for o in unchecked.outcomes] == ["not checked"]
    assert "set GITHUB_TOKEN" in lines[-1]


def refused(_path: str) -> Any:
    raise OSError("HTTP Error 401: Bad credentials")


@pytest.mark.parametrize("get", [refused, recorded({BASE: ["not", "an", "environment"]})])
def test_an_api_that_does_not_answer_is_not_checked_not_passed(get: Any) -> None:
    report = Report(dry_run=False, printer=lambda _line: None)
    cli.check_github(REPO, report, get)
    assert [o.status for o in report.outcomes] == ["not checked"]


def test_tag_rules_do_not_count_as_branches_and_untyped_rules_are_branches() -> None:
    # "List deployment branch policies" returns tag rules too (`type: tag`); answers from before
    # tag rules existed carry no `type` at all, and those rules are branch rules.
    listed = {"total_count": 2, "branch_policies": [
        {"id": 1, "name": "main"}, {"id": 2, "name": "v*", "type": "tag"}]}
    answers = {BASE: environment([REVIEWERS], CUSTOM),
               f"{BASE}/deployment-branch-policies": listed}
    assert environment_problems(REPO, recorded(answers)) == []


def test_the_problem_names_the_branch_rules_beyond_main_or_all_of_them_without_main() -> None:
    def problem(*names: str) -> str:
        answers = {BASE: environment([REVIEWERS], CUSTOM),
                   f"{BASE}/deployment-branch-policies": policies_answer(*names)}
        (found,) = environment_problems(REPO, recorded(answers))
        return found
    assert problem("main", "release/*", "dev").startswith(
        "deployment branch rules ['dev', 'release/*'] admit more than `main`")
    assert problem("prod").startswith("deployment branch rules ['prod'] admit more than `main`")


def test_api_get_asks_githubs_api_at_the_given_base_with_a_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, object, dict[str, str]]] = []

    def urlopen(request: urllib.request.Request, timeout: object = None) -> io.BytesIO:
        seen.append((request.full_url, timeout, dict(request.header_items())))
        return io.BytesIO(b'{"name": "production"}')

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    # An Enterprise Server base with a trailing slash, as people paste it.
    get = api_get("t0ken", "https://ghe.example/api/v3/", timeout=7)
    assert get(f"{BASE}") == {"name": "production"}
    assert api_get("t0ken")("/x") == {"name": "production"}
    (url, timeout, headers), (default_url, default_timeout, _) = seen
    assert url == f"https://ghe.example/api/v3{BASE}"
    assert default_url == "https://api.github.com/x"
    assert timeout == 7
    assert isinstance(default_timeout, int | float)
    assert 0 < default_timeout <= 30
    assert headers["Authorization"] == "Bearer t0ken"
