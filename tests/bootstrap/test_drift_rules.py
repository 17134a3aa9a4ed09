"""What bootstrap counts as drift (bootstrap/drift.py), each judgement both ways and each
problem line whole: the AWS answers are the shapes boto3 returns for GetBucketVersioning,
GetBucketEncryption, GetPublicAccessBlock and DescribeKey (the moto tests in
test_bootstrap_drift.py run the same judgements on real answers)."""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap.drift import (
    PUBLIC_ACCESS_BLOCK,
    Problem,
    encrypted,
    foreign_inline,
    foreign_policy,
    key_enabled,
    key_problem,
    public_access_blocked,
    versioned,
)
from bootstrap.policies import NAMES, POWER_USER_POLICY

ROLE = "webtier-deploy-staging"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
KEY = {"KeyId": "k-1", "Arn": "arn:aws:kms:ap-northeast-1:123456789012:key/k-1"}


@pytest.mark.parametrize(("answer", "ok"), [
    ({"Status": "Enabled"}, True), ({"Status": "Suspended"}, False), ({}, False)])
def test_only_enabled_versioning_is_versioned(answer: dict[str, Any], ok: bool) -> None:
    assert versioned(answer) is ok


def rules(*algorithms: str) -> dict[str, Any]:
    return {"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": a}} for a in algorithms]}}


@pytest.mark.parametrize(("answer", "ok"), [
    (rules("aws:kms"), True), (rules("AES256"), True), (rules("aws:kms:dsse"), False),
    (rules(), False), ({}, False), (rules("none", "AES256"), True)])
def test_default_encryption_needs_sse_kms_or_sse_s3(answer: dict[str, Any], ok: bool) -> None:
    assert encrypted(answer) is ok


def test_the_public_access_block_is_all_four_flags_on() -> None:
    assert PUBLIC_ACCESS_BLOCK == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                   "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert public_access_blocked({"PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK)})
    assert not public_access_blocked({})


@pytest.mark.parametrize("flag", sorted(PUBLIC_ACCESS_BLOCK))
def test_any_one_public_access_flag_off_is_drift(flag: str) -> None:
    answer = {"PublicAccessBlockConfiguration": {**PUBLIC_ACCESS_BLOCK, flag: False}}
    assert public_access_blocked(answer) is False


def test_a_foreign_managed_policy_is_a_problem_with_the_detach_command() -> None:
    assert foreign_policy(ROLE, ADMIN) == Problem(
        f"iam role {ROLE}: AdministratorAccess",
        "attached by someone else; it widens what the workflows can do",
        f"aws iam detach-role-policy --role-name {ROLE} --policy-arn {ADMIN}")


def test_the_older_bootstraps_power_user_access_is_not_a_problem_but_detached() -> None:
    assert POWER_USER_POLICY == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert foreign_policy(ROLE, POWER_USER_POLICY) is None


def test_foreign_inline_policies_are_problems_sorted_and_ours_is_not() -> None:
    found = foreign_inline(ROLE, ["star", NAMES.inline_policy, "admin", "star"])
    assert found == [
        Problem(f"iam role {ROLE}: inline policy {name}",
                "added by someone else; it widens what the workflows can do",
                f"aws iam delete-role-policy --role-name {ROLE} --policy-name {name}")
        for name in ("admin", "star")]
    assert foreign_inline(ROLE, [NAMES.inline_policy]) == []


@pytest.mark.parametrize(("state", "enabled"), [
    (None, True), ("Enabled", True), ("Disabled", False), ("PendingDeletion", False),
    ("PendingImport", False)])
def test_only_an_enabled_key_is_enabled(state: str | None, enabled: bool) -> None:
    meta = dict(KEY) if state is None else {**KEY, "KeyState": state}
    assert key_enabled(meta) is enabled


def test_a_key_scheduled_for_deletion_is_a_problem_naming_both_commands() -> None:
    meta = {**KEY, "KeyState": "PendingDeletion", "DeletionDate": "2026-12-31"}
    fix = "--key-id k-1 --region ap-northeast-1"
    assert key_problem("alias/webtier-staging", "staging", meta, "ap-northeast-1") == Problem(
        "kms key alias/webtier-staging",
        "scheduled for deletion on 2026-12-31; when it is deleted every secret of staging is lost",
        f"aws kms cancel-key-deletion {fix} && aws kms enable-key {fix}")


def test_a_disabled_key_is_a_problem_naming_the_enable_command() -> None:
    meta = {**KEY, "KeyState": "Disabled"}
    assert key_problem("alias/webtier-prod", "production", meta, "us-east-1") == Problem(
        "kms key alias/webtier-prod", "disabled: no secret of production can be read",
        "aws kms enable-key --key-id k-1 --region us-east-1")


@pytest.mark.parametrize("state", [None, "Enabled", "Creating"])
def test_a_usable_or_passing_key_state_is_no_problem(state: str | None) -> None:
    meta = dict(KEY) if state is None else {**KEY, "KeyState": state}
    assert key_problem("alias/a", "staging", meta, "ap-northeast-1") is None


def test_a_policy_under_a_path_is_named_by_its_last_segment() -> None:
    arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2RoleforSSM"
    problem = foreign_policy(ROLE, arn)
    assert problem is not None
    assert problem.item == f"iam role {ROLE}: AmazonEC2RoleforSSM"
    assert problem.fix == f"aws iam detach-role-policy --role-name {ROLE} --policy-arn {arn}"
