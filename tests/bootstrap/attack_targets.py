"""What an attacker holding one of the bootstrap's roles would aim the escalation methods at.

Everything here is outside the role's fence: roles and profiles not named with the stack's
prefix (an admin role, the bootstrap's own roles, the other stack's), a role inside the prefix
without the stack's boundary, users, groups, policies (the boundary itself included), roles passed
to any service but EC2, and other systems' compute (functions, untagged or other-stack instances
and launch templates, notebooks, dev endpoints, stacks, pipelines).
"""

from __future__ import annotations

from bootstrap.policies import NAMES, PRODUCTION
from bootstrap.role_policies import AccountScope
from tests.bootstrap.escalation import METHODS, Target

REGION = "ap-northeast-1"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def targets(scope: AccountScope, stack: str) -> list[Target]:
    acct, own = scope.account, scope.of(stack)
    iam = scope.iam

    def arn(service: str, rest: str) -> str:
        return f"arn:aws:{service}:{REGION}:{acct}:{rest}"

    foreign_roles = [iam("role", "admin"), iam("role", NAMES.deploy_role(PRODUCTION)),
                     iam("role", NAMES.preview_role(PRODUCTION)),
                     *(iam("role", f"{o.prefix}instance-role-1a2b3c4")
                       for o in scope.others(stack))]
    own_role = iam("role", f"{own.prefix}instance-role-1a2b3c4")
    out = [Target(r, {}, "a role outside the stack's prefix") for r in foreign_roles]
    # The boundary alone is not the fence: outside the prefix, even a bounded role is foreign.
    out += [Target(r, {"iam:PermissionsBoundary": scope.boundary_arn(stack)},
                   "outside the prefix, with the stack's boundary") for r in foreign_roles]
    out += [Target(own_role, {}, "own prefix, no boundary"),
            Target(own_role, {"iam:PermissionsBoundary": ADMIN_POLICY},
                   "own prefix, AdministratorAccess as boundary"),
            *(Target(own_role, {"iam:PermissionsBoundary": scope.boundary_arn(o.stack)},
                     f"own prefix, {o.stack}'s boundary") for o in scope.others(stack))]
    for service in sorted({m.passed_to for m in METHODS if m.passed_to}):
        passed = {"iam:PassedToService": service}
        out += [Target(r, passed, f"a foreign role passed to {service}") for r in foreign_roles]
        if service != "ec2.amazonaws.com":
            out.append(Target(own_role, passed, f"own role passed to {service}"))
    out += [Target(iam("user", "admin"), {}, "a user"),
            Target(iam("group", "admins"), {}, "a group"),
            Target(iam("policy", "admin-policy"), {}, "a customer managed policy"),
            Target(scope.boundary_arn(stack), {}, "the stack's own boundary"),
            Target(iam("instance-profile", "admin"), {}, "a foreign instance profile")]
    other_tags = [{"aws:ResourceTag/environment": o.stack} for o in scope.others(stack)]
    for rest in ("instance/i-0123456789abcdef0", "launch-template/lt-0123456789abcdef0"):
        out.append(Target(arn("ec2", rest), {}, "another system's, untagged"))
        out += [Target(arn("ec2", rest), tags, "the other stack's") for tags in other_tags]
    out += [Target(arn("lambda", "function:admin"), {}, "a function with a role"),
            Target(arn("glue", "devEndpoint/admin"), {}, "a Glue dev endpoint"),
            Target(arn("sagemaker", "notebook-instance/admin"), {}, "a notebook"),
            Target(arn("cloudformation", "stack/admin/1"), {}, "a stack"),
            Target(arn("datapipeline", "pipeline/df-0123"), {}, "a pipeline"),
            Target(arn("codestar", "project/admin"), {}, "a CodeStar project"),
            Target(arn("rds", "db:admin"), {}, "a database"),
            Target(f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript", {}, "an SSM document")]
    return out
