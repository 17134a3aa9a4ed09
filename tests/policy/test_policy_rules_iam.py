"""iam_no_wildcards called directly: empty and invalid documents, every statement read, and the
exact message for each kind of over-broad grant."""

from __future__ import annotations

import json
from typing import Any

from policy.rules import ROLE_POLICY, iam_no_wildcards


def check(*statements: dict[str, Any]) -> list[str]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return iam_no_wildcards(ROLE_POLICY, {"role": "r", "policy": json.dumps(document)})


def test_an_empty_or_absent_policy_has_nothing_to_check() -> None:
    assert iam_no_wildcards(ROLE_POLICY, {"role": "r", "policy": ""}) == []
    assert iam_no_wildcards(ROLE_POLICY, {"role": "r"}) == []


def test_a_policy_that_is_not_json_names_where_parsing_stopped() -> None:
    assert iam_no_wildcards(ROLE_POLICY, {"role": "r", "policy": "{not json"}) == [
        "policy is not valid JSON (Expecting property name enclosed in double quotes at 1), so "
        "it cannot be checked"]


def test_statements_after_a_deny_are_still_checked() -> None:
    assert check({"Effect": "Deny", "Action": "*", "Resource": "*"},
                 {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}) == [
        "policy statement 1 allows action '*': name the actions the instance needs"]


def test_not_action_and_not_resource_each_have_their_own_message() -> None:
    assert check({"Sid": "Broad", "Effect": "Allow", "NotAction": "iam:*",
                  "NotResource": "arn:aws:s3:::b"}) == [
        "policy statement Broad allows NotAction, i.e. every action but a few: list the actions "
        "instead",
        "policy statement Broad allows NotResource, i.e. every resource but a few: list the "
        "resources instead",
    ]
    assert check({"Sid": "S", "Effect": "Allow", "Action": "s3:GetObject",
                  "NotResource": "arn:aws:s3:::b"}) == [
        "policy statement S allows NotResource, i.e. every resource but a few: list the "
        "resources instead"]


def test_restrictable_actions_on_star_are_listed_together() -> None:
    assert check({"Sid": "S", "Effect": "Allow", "Resource": "*",
                  "Action": ["s3:GetObject", "ec2:DescribeInstances", "ssm:GetParameter"]}) == [
        "policy statement S grants s3:GetObject, ssm:GetParameter on Resource \"*\": these "
        "actions support resource ARNs, so scope them"]
