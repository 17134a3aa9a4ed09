"""The roles' permission documents (bootstrap/role_policies.py), request by request through the
IAM evaluator (tests/bootstrap/iam_evaluator.py, written rule by rule from AWS's evaluation
logic): each grant allowed on exactly its stack's resources and denied just outside them, so a
widened resource, a dropped condition or a lost deny fails here. The escalation search over the
real IAM action list is tests/bootstrap/test_escalation.py (moto)."""

from __future__ import annotations

import pytest

from bootstrap import role_policies
from bootstrap.account import account_scope
from tests.bootstrap.iam_evaluator import Decision, Request, decide

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/1111"
PROD_KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/2222"
SCOPE = account_scope(ACCOUNT, "acme-webtier-state", {"staging": KEY, "production": PROD_KEY})
STATE = "arn:aws:s3:::acme-webtier-state"
RELEASES = f"arn:aws:s3:::webapp-staging-releases-{ACCOUNT}"
PROD_RELEASES = f"arn:aws:s3:::webapp-production-releases-{ACCOUNT}"
PARAM = f"arn:aws:ssm:ap-northeast-1:{ACCOUNT}:parameter/webapp/staging/consul/gossip"
PROD_PARAM = f"arn:aws:ssm:ap-northeast-1:{ACCOUNT}:parameter/webapp/production/consul/gossip"
IAM = f"arn:aws:iam::{ACCOUNT}"
BOUNDARY = f"{IAM}:policy/webtier-boundary-staging"
GROUP = (f"arn:aws:autoscaling:ap-northeast-1:{ACCOUNT}:autoScalingGroup:0f1e:"
         "autoScalingGroupName/{name}")
ALLOW: Decision = "allow"
IMPLICIT: Decision = "implicit deny"
EXPLICIT: Decision = "explicit deny"

Case = tuple[str, str, dict[str, str], Decision]

DEPLOY: list[Case] = [
    ("s3:PutObject", f"{STATE}/.pulumi/stacks/webtier/staging.json", {}, ALLOW),
    ("s3:ListBucket", STATE, {}, ALLOW),
    ("s3:PutObject", f"{STATE}/.pulumi/stacks/webtier/production.json", {}, EXPLICIT),
    ("s3:DeleteObject", f"{STATE}/.pulumi/history/webtier/production/x.json", {}, EXPLICIT),
    ("s3:PutObject", "arn:aws:s3:::someone-elses-bucket/x", {}, IMPLICIT),
    ("kms:Decrypt", KEY, {}, ALLOW),
    ("kms:GenerateDataKey", KEY, {}, ALLOW),
    ("kms:ScheduleKeyDeletion", KEY, {}, IMPLICIT),
    ("kms:Decrypt", PROD_KEY, {}, EXPLICIT),
    ("ec2:RunInstances", "*", {"aws:ResourceTag/environment": "staging"}, ALLOW),
    ("sns:Publish", "*", {}, ALLOW),
    ("ec2:TerminateInstances", "*", {"aws:ResourceTag/environment": "production"}, EXPLICIT),
    ("ec2:ModifyInstanceAttribute", "*", {"aws:ResourceTag/environment": "staging"}, ALLOW),
    ("ec2:ModifyInstanceAttribute", "*", {}, EXPLICIT),
    ("ec2:CreateLaunchTemplateVersion", "*", {"aws:ResourceTag/environment": "other"}, EXPLICIT),
    ("sts:GetCallerIdentity", "*", {}, ALLOW),
    ("sts:AssumeRole", f"{IAM}:role/anything", {}, IMPLICIT),
    ("ssm:PutParameter", PARAM, {}, ALLOW),
    ("ssm:DescribeParameters", "*", {}, ALLOW),
    ("ssm:GetParameter", PROD_PARAM, {}, EXPLICIT),
    ("ssm:PutParameter", f"arn:aws:ssm:ap-northeast-1:{ACCOUNT}:parameter/other/x", {}, IMPLICIT),
    ("s3:PutObject", f"{RELEASES}/releases/1.tar.gz", {}, ALLOW),
    ("s3:DeleteBucket", RELEASES, {}, ALLOW),
    ("s3:PutObject", f"{PROD_RELEASES}/releases/1.tar.gz", {}, EXPLICIT),
    ("iam:CreateRole", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PermissionsBoundary": BOUNDARY}, ALLOW),
    ("iam:PutRolePolicy", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PermissionsBoundary": BOUNDARY}, ALLOW),
    ("iam:CreateRole", f"{IAM}:role/webapp-staging-instance-role-1", {}, IMPLICIT),
    ("iam:CreateRole", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PermissionsBoundary": f"{IAM}:policy/webtier-boundary-production"}, IMPLICIT),
    ("iam:CreateRole", f"{IAM}:role/admin", {"iam:PermissionsBoundary": BOUNDARY}, IMPLICIT),
    ("iam:CreateRole", f"{IAM}:role/webapp-production-x",
     {"iam:PermissionsBoundary": f"{IAM}:policy/webtier-boundary-production"}, EXPLICIT),
    ("iam:AttachRolePolicy", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PermissionsBoundary": BOUNDARY}, IMPLICIT),
    ("iam:GetRolePolicy", f"{IAM}:role/webapp-staging-instance-role-1", {}, ALLOW),
    ("iam:TagRole", f"{IAM}:role/webapp-staging-instance-role-1", {}, ALLOW),
    ("iam:GetRolePolicy", f"{IAM}:role/other-role", {}, IMPLICIT),
    ("iam:PassRole", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PassedToService": "ec2.amazonaws.com"}, ALLOW),
    ("iam:PassRole", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PassedToService": "autoscaling.amazonaws.com"}, ALLOW),
    ("iam:PassRole", f"{IAM}:role/webapp-staging-instance-role-1",
     {"iam:PassedToService": "lambda.amazonaws.com"}, IMPLICIT),
    ("iam:PassRole", f"{IAM}:role/webapp-staging-instance-role-1", {}, IMPLICIT),
    ("iam:PassRole", f"{IAM}:role/other-role", {"iam:PassedToService": "ec2.amazonaws.com"},
     IMPLICIT),
    ("iam:AddRoleToInstanceProfile", f"{IAM}:instance-profile/webapp-staging-profile-1", {},
     ALLOW),
    ("iam:CreateInstanceProfile", f"{IAM}:instance-profile/other", {}, IMPLICIT),
    ("iam:CreateInstanceProfile", f"{IAM}:instance-profile/webapp-production-p", {}, EXPLICIT),
    ("iam:CreateServiceLinkedRole",
     f"{IAM}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
     {"iam:AWSServiceName": "autoscaling.amazonaws.com"}, ALLOW),
    ("iam:CreateServiceLinkedRole",
     f"{IAM}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForELB",
     {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}, ALLOW),
    ("iam:CreateServiceLinkedRole", f"{IAM}:role/aws-service-role/lambda.amazonaws.com/x",
     {"iam:AWSServiceName": "lambda.amazonaws.com"}, IMPLICIT),
    ("iam:UpdateAssumeRolePolicy", f"{IAM}:role/webtier-github-deploy-staging",
     {"iam:PermissionsBoundary": BOUNDARY}, EXPLICIT),
    ("iam:CreatePolicyVersion", BOUNDARY, {}, EXPLICIT),
    ("iam:CreateUser", f"{IAM}:user/anyone", {}, IMPLICIT),
]

PREVIEW: list[Case] = [
    ("s3:GetObject", f"{STATE}/.pulumi/stacks/webtier/staging.json", {}, ALLOW),
    ("s3:GetObjectVersion", f"{STATE}/.pulumi/stacks/webtier/staging.json", {}, ALLOW),
    ("s3:ListBucket", STATE, {}, ALLOW),
    # A preview takes no lock (the diy backend locks only for update, refresh, destroy, import).
    ("s3:PutObject", f"{STATE}/.pulumi/locks/webtier/staging/lock.json", {}, IMPLICIT),
    ("s3:DeleteObject", f"{STATE}/.pulumi/locks/webtier/staging/lock.json", {}, IMPLICIT),
    ("s3:PutObject", f"{STATE}/.pulumi/stacks/webtier/staging.json", {}, IMPLICIT),
    ("kms:Decrypt", KEY, {}, ALLOW),
    ("kms:Encrypt", KEY, {}, IMPLICIT),
    ("kms:Decrypt", PROD_KEY, {}, EXPLICIT),
    ("kms:Decrypt", f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:alias/aws/ssm", {}, EXPLICIT),
    ("ssm:GetParameter", PROD_PARAM, {}, EXPLICIT),
    ("ssm:GetParametersByPath", PROD_PARAM, {}, EXPLICIT),
    ("ssm:GetParameterHistory", PROD_PARAM, {}, EXPLICIT),
    ("ssm:GetParameters", PROD_PARAM, {}, EXPLICIT),
]

BOUNDARY_CASES: list[Case] = [
    ("ec2:DescribeInstances", "*", {}, ALLOW),
    ("ec2:TerminateInstances", "*", {}, IMPLICIT),
    ("s3:GetObject", f"{RELEASES}/releases/1.tar.gz", {}, ALLOW),
    ("s3:GetObjectVersion", f"{RELEASES}/releases/1.tar.gz", {}, ALLOW),
    ("s3:PutObject", f"{RELEASES}/releases/1.tar.gz", {}, IMPLICIT),
    ("s3:GetObject", f"{PROD_RELEASES}/releases/1.tar.gz", {}, IMPLICIT),
    ("ssm:GetParameter", PARAM, {}, ALLOW),
    ("ssm:GetParameters", PARAM, {}, ALLOW),
    ("ssm:GetParameter", PROD_PARAM, {}, IMPLICIT),
    ("kms:Decrypt", KEY, {"kms:ViaService": "ssm.ap-northeast-1.amazonaws.com"}, ALLOW),
    ("kms:Decrypt", KEY, {}, IMPLICIT),
    ("kms:Decrypt", KEY, {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}, IMPLICIT),
    ("autoscaling:CompleteLifecycleAction", GROUP.format(name="webapp-staging-fleet-1"), {},
     ALLOW),
    ("autoscaling:RecordLifecycleActionHeartbeat", GROUP.format(name="webapp-staging-fleet-1"),
     {}, ALLOW),
    ("autoscaling:CompleteLifecycleAction", GROUP.format(name="webapp-production-fleet-1"), {},
     IMPLICIT),
    # The group drains before Terminating:Wait: instances deregister nothing themselves.
    ("elasticloadbalancing:DeregisterTargets",
     f"arn:aws:elasticloadbalancing:ap-northeast-1:{ACCOUNT}:targetgroup/web/0123", {}, IMPLICIT),
    ("elasticloadbalancing:RegisterTargets",
     f"arn:aws:elasticloadbalancing:ap-northeast-1:{ACCOUNT}:targetgroup/web/0123", {}, IMPLICIT),
    ("iam:PassRole", f"{IAM}:role/webapp-staging-x", {}, IMPLICIT),
]


def ids(cases: list[Case]) -> list[str]:
    return [f"{a}-{d.split()[0]}-{n}" for n, (a, _, _, d) in enumerate(cases)]


@pytest.mark.parametrize(("action", "resource", "context", "decision"), DEPLOY, ids=ids(DEPLOY))
def test_the_staging_deploy_role(action: str, resource: str, context: dict[str, str],
                                 decision: Decision) -> None:
    policy = role_policies.deploy_policy(SCOPE, "staging")
    assert decide([policy], Request(action, resource, context)) == decision


@pytest.mark.parametrize(("action", "resource", "context", "decision"), PREVIEW,
                         ids=ids(PREVIEW))
def test_the_staging_preview_role(action: str, resource: str, context: dict[str, str],
                                  decision: Decision) -> None:
    policy = role_policies.preview_policy(SCOPE, "staging")
    assert decide([policy], Request(action, resource, context)) == decision


@pytest.mark.parametrize(("action", "resource", "context", "decision"), BOUNDARY_CASES,
                         ids=ids(BOUNDARY_CASES))
def test_the_staging_permissions_boundary(action: str, resource: str, context: dict[str, str],
                                          decision: Decision) -> None:
    boundary = role_policies.boundary_policy(SCOPE, "staging")
    assert decide([boundary], Request(action, resource, context)) == decision


def test_the_production_roles_are_fenced_from_staging_the_same_way() -> None:
    deploy = role_policies.deploy_policy(SCOPE, "production")
    preview = role_policies.preview_policy(SCOPE, "production")
    assert decide([deploy], Request("kms:Decrypt", KEY)) == EXPLICIT
    assert decide([deploy], Request("kms:Decrypt", PROD_KEY)) == ALLOW
    assert decide([deploy], Request("ssm:PutParameter", PARAM)) == EXPLICIT
    assert decide([preview], Request("ssm:GetParameter", PARAM)) == EXPLICIT
    assert decide([preview], Request("kms:Decrypt", KEY)) == EXPLICIT


def test_a_single_stack_account_has_no_deny_of_a_missing_other_stack() -> None:
    alone = role_policies.AccountScope(ACCOUNT, "acme-webtier-state", (SCOPE.of("staging"),))
    sids = [s["Sid"] for s in role_policies.preview_policy(alone, "staging")["Statement"]]
    assert sids == ["ReadState", "DecryptOwnStackSecrets", "NoOtherKey"]
    deploy = [s["Sid"] for s in role_policies.deploy_policy(alone, "staging")["Statement"]]
    assert not [sid for sid in deploy if "Production" in sid]


def test_each_document_is_the_current_policy_language_with_named_statements() -> None:
    documents = {name: make(SCOPE, "staging") for name, make in (
        ("boundary", role_policies.boundary_policy), ("preview", role_policies.preview_policy),
        ("deploy", role_policies.deploy_policy))}
    assert {d["Version"] for d in documents.values()} == {"2012-10-17"}
    assert [s["Sid"] for s in documents["boundary"]["Statement"]] == [
        "FindConsulPeers", "ReadReleases", "ReadStackParameters", "DecryptParametersThroughSsm",
        "OwnLifecycleActions"]
    assert [s["Sid"] for s in documents["preview"]["Statement"]] == [
        "ReadState", "DecryptOwnStackSecrets", "NoOtherKey",
        "NotOtherStacksParameters"]
    assert [s["Sid"] for s in documents["deploy"]["Statement"]] == [
        "ReadWriteState", "StackSecrets", "ProgramServices", "WhoAmI", "FindInServiceInstances",
        "StackParameters",
        "ListParameters", "ReleaseBucket", "BoundedProgramRoles", "ProgramRoleReads",
        "PassProgramRolesToEc2", "ProgramInstanceProfiles", "ServiceLinkedRoles",
        "OnlyOwnInstances", "NotTheBootstrapRoles", "NotTaggedProduction", "NotNamedProduction",
        "NotProductionState"]
