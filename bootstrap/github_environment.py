"""Is production's GitHub environment protected? Required reviewers and a branch rule.

The production deploy role trusts every job that runs in the `production` environment, so the
environment's own rules are the gate: at least one required reviewer, and deployments only from
protected branches or from `main` alone. GitHub's REST API answers this to any token with read
access to the repository (GET /repos/{owner}/{repo}/environments/{name}; its
deployment-branch-policies list when the environment uses custom branch rules). Without a token
the check is reported `not checked`, never passed.

Answer shapes, from GitHub's REST reference ("Get an environment", "List deployment branch
policies", docs.github.com/en/rest/deployments): `protection_rules` is a list of objects with a
`type` of `required_reviewers` (with a `reviewers` list), `wait_timer` or `branch_policy`;
`deployment_branch_policy` is null when any branch may deploy, else
`{protected_branches: bool, custom_branch_policies: bool}`; the branch-policies list is
`{total_count, branch_policies: [{name, type?}]}`. A missing environment answers 404.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bootstrap.policies import PRODUCTION, PROTECTED_BRANCH

Get = Callable[[str], Any]
"""GET an API path; None when GitHub answers 404."""
DEFAULT_API = "https://api.github.com"
SETTINGS = "Settings -> Environments -> production"


def environment_problems(repo: str, get: Get, environment: str = PRODUCTION) -> list[str]:
    """What is missing from ``environment``'s protection, one phrase each (empty: protected)."""
    base = f"/repos/{repo}/environments/{environment}"
    env = get(base)
    if env is None:
        return [f"the environment does not exist: create it ({SETTINGS}) with required reviewers "
                f"and deployment branches `{PROTECTED_BRANCH}` only"]
    problems = []
    rules = env.get("protection_rules") or []
    if not any(r.get("type") == "required_reviewers" and r.get("reviewers") for r in rules):
        problems.append(f"no required reviewers: any job in it deploys unreviewed; add them "
                        f"({SETTINGS} -> Required reviewers)")
    branch = env.get("deployment_branch_policy")
    if not branch:
        problems.append(f"every branch may deploy to it: limit it to `{PROTECTED_BRANCH}` "
                        f"({SETTINGS} -> Deployment branches and tags)")
    elif branch.get("custom_branch_policies") and not branch.get("protected_branches"):
        listed = get(f"{base}/deployment-branch-policies") or {}
        names = {p.get("name") for p in listed.get("branch_policies", [])
                 if p.get("type", "branch") == "branch"}
        others = sorted(n for n in names if n != PROTECTED_BRANCH)
        if others or PROTECTED_BRANCH not in names:
            problems.append(f"deployment branch rules {others or sorted(names)} admit more than "
                            f"`{PROTECTED_BRANCH}`: keep `{PROTECTED_BRANCH}` only ({SETTINGS})")
    return problems


def api_get(token: str, api: str = DEFAULT_API, timeout: float = 10) -> Get:
    """A GET against GitHub's REST API with ``token``."""

    def get(path: str) -> Any:
        request = urllib.request.Request(f"{api.rstrip('/')}{path}", headers={
            "Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    return get


def token_from_env() -> tuple[str | None, str]:
    """GITHUB_TOKEN or GH_TOKEN, and the API URL (GITHUB_API_URL, as GitHub Actions sets it)."""
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    return token, os.environ.get("GITHUB_API_URL") or DEFAULT_API
