"""The evaluator's rules, each against the example or statement of AWS's IAM User Guide that
tests/bootstrap/iam_evaluator.py cites, and the search against the deploy policy this issue found
(iam:*Role on role/* and PassRole, no boundary): it must find the paths."""

from __future__ import annotations

from bootstrap.account import account_scope
from tests.bootstrap.attack_targets import targets
from tests.bootstrap.escalation import open_paths
from tests.bootstrap.iam_evaluator import Request, decide

ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def doc(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_explicit_deny_wins_and_nothing_allowed_is_an_implicit_deny() -> None:
    deny = doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert decide([ALLOW_ALL, deny], Request("s3:GetObject", "arn:aws:s3:::b/k")) == \
        "explicit deny"
    assert decide([doc()], Request("s3:GetObject", "arn:aws:s3:::b/k")) == "implicit deny"


def test_a_boundary_limits_the_identity_policy_to_the_intersection() -> None:
    boundary = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert decide([ALLOW_ALL], Request("s3:GetObject", "x"), boundary) == "allow"
    assert decide([ALLOW_ALL], Request("iam:CreateUser", "x"), boundary) == "implicit deny"


def test_actions_match_case_insensitively_with_wildcards_and_notaction() -> None:
    p = doc({"Effect": "Allow", "Action": "iam:*role?olicy", "Resource": "*"})
    assert decide([p], Request("iam:PutRolePolicy", "x")) == "allow"
    assert decide([p], Request("iam:PutUserPolicy", "x")) == "implicit deny"
    q = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide([q], Request("iam:PassRole", "x")) == "implicit deny"
    assert decide([q], Request("ec2:RunInstances", "x")) == "allow"


def test_resources_match_case_sensitively_and_notresource_inverts() -> None:
    p = doc({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:iam::1:role/app-*"})
    assert decide([p], Request("iam:GetRole", "arn:aws:iam::1:role/app-x")) == "allow"
    assert decide([p], Request("iam:GetRole", "arn:aws:iam::1:role/App-x")) == "implicit deny"
    q = doc({"Effect": "Deny", "Action": "kms:Decrypt", "NotResource": "k1"}, ALLOW_ALL[
        "Statement"][0])
    assert decide([q], Request("kms:Decrypt", "k2")) == "explicit deny"
    assert decide([q], Request("kms:Decrypt", "k1")) == "allow"


def test_absent_keys_fail_a_condition_but_pass_a_negated_one_or_ifexists() -> None:
    allow = doc({"Effect": "Allow", "Action": "*", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:ResourceTag/env": "staging"}}})
    assert decide([allow], Request("ec2:StopInstances", "i")) == "implicit deny"
    deny = doc(ALLOW_ALL["Statement"][0],
               {"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:ResourceTag/env": "staging"}}})
    assert decide([deny], Request("ec2:StopInstances", "i")) == "explicit deny"
    assert decide([deny], Request("ec2:StopInstances", "i",
                                  {"aws:resourcetag/env": "staging"})) == "allow"
    exists = doc({"Effect": "Allow", "Action": "*", "Resource": "*",
                  "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/env": "staging"}}})
    assert decide([exists], Request("ec2:StopInstances", "i")) == "allow"


def test_values_of_a_key_are_ored_and_nored_when_negated() -> None:
    p = doc({"Effect": "Allow", "Action": "*", "Resource": "*",
             "Condition": {"StringEquals": {"k": ["a", "b"]}}})
    assert decide([p], Request("s3:x", "r", {"k": "b"})) == "allow"
    n = doc({"Effect": "Allow", "Action": "*", "Resource": "*",
             "Condition": {"StringNotEquals": {"k": ["a", "b"]}}})
    assert decide([n], Request("s3:x", "r", {"k": "b"})) == "implicit deny"
    assert decide([n], Request("s3:x", "r", {"k": "c"})) == "allow"


def test_the_search_finds_the_paths_of_the_deploy_policy_the_issue_reported() -> None:
    scope = account_scope("123456789012", "b", {"staging": "k1", "production": "k2"})
    old = doc({"Effect": "Allow",
               "Action": ["iam:*Role", "iam:*RolePolicy", "iam:PassRole", "iam:TagRole"],
               "Resource": "arn:aws:iam::123456789012:role/*"},
              {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"],
               "Resource": "*"})  # PowerUserAccess's main statement
    found = {line.split(":", 1)[0] for line in open_paths([old], targets(scope, "staging"))}
    assert {"attach a policy to a role", "inline policy on a role", "rewrite a role's trust",
            "pass a role to a new EC2 instance", "pass a role to a new Lambda function",
            "edit an existing function's code", "run a command on an instance"} <= found
