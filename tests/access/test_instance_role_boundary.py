"""The IAM the program registers is what the deploy role bootstrap makes may create: a role
named with the stack's prefix, carrying the stack's permissions boundary, an instance profile of
the same prefix, and the role passed to EC2. Checked with the evaluator over bootstrap's own
deploy policy, so the program and the policy cannot drift apart."""

from __future__ import annotations

import pytest

from bootstrap.account import account_scope
from bootstrap.role_policies import deploy_policy
from mock_engine import run_program
from tests.bootstrap.iam_evaluator import Request, decide

ACCOUNT = "123456789012"  # the mock engine's caller identity


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deploy_role_may_create_every_iam_resource_the_program_registers(stack: str) -> None:
    scope = account_scope(ACCOUNT, "state", {"staging": "k-s", "production": "k-p"})
    policy = deploy_policy(scope, stack)
    iam = {r.type: r for r in run_program(stack, preview=False).registrations
           if r.type.startswith("aws:iam/")}
    role, profile = iam["aws:iam/role:Role"], iam["aws:iam/instanceProfile:InstanceProfile"]
    boundary = role.inputs.get("permissionsBoundary")
    assert boundary == scope.boundary_arn(stack)
    role_arn = scope.iam("role", role.outputs["name"])
    bounded = {"iam:PermissionsBoundary": str(boundary)}
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                   "iam:DeleteRole", "iam:TagRole"):
        assert decide([policy], Request(action, role_arn, bounded)) == "allow", action
    assert decide([policy], Request("iam:PassRole", role_arn,
                                    {"iam:PassedToService": "ec2.amazonaws.com"})) == "allow"
    profile_arn = scope.iam("instance-profile", profile.outputs["name"])
    for action in ("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"):
        assert decide([policy], Request(action, profile_arn)) == "allow", action
