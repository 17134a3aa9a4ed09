"""The permission documents of the roles bootstrap makes, per stack, as data. No I/O.

Fences (tests/bootstrap/test_escalation.py checks every one against the published IAM escalation
methods): a deploy role may create and change only roles named with its stack's resource prefix
and carrying its stack's permissions boundary, may pass them only to EC2 and Auto Scaling, and
cannot touch the other stack's key, parameters, state objects, tagged resources or IAM names. A
preview role decrypts only its own stack's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap.policies import NAMES, Document, bucket_arns, policy_arn
from contracts.names import PROJECT, resource_prefix

# Services whose resources the program creates and tags with `environment: <stack>`.
PROGRAM_SERVICES = ("ec2", "autoscaling", "elasticloadbalancing", "cloudwatch", "sns")
# EC2 calls that hand an instance (or the instances a group will launch from a template) new
# code or a new role, without passing a role: only on the stack's own, tagged, resources.
INSTANCE_TAKEOVER = ["ec2:ModifyInstanceAttribute", "ec2:AssociateIamInstanceProfile",
                     "ec2:ReplaceIamInstanceProfileAssociation", "ec2:CreateLaunchTemplateVersion",
                     "ec2:ModifyLaunchTemplate"]
PASS_TO = ["ec2.amazonaws.com", "autoscaling.amazonaws.com"]
# Service-linked roles the program's services create on first use (no policy of ours in them).
SERVICE_LINKED = ["autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"]
ENV_TAG = "environment"


@dataclass(frozen=True)
class StackScope:
    """What one stack owns in the account."""

    stack: str
    app: str
    release_bucket: str
    key_arn: str

    @property
    def prefix(self) -> str:
        """Every IAM name the program gives this stack starts with this (Pulumi auto-names
        `<app>-<stack>-instance-role-1a2b3c4`, components/access/instance_role.py)."""
        return f"{resource_prefix(self.app, self.stack)}-"

    def parameters(self, account: str) -> str:
        return f"arn:aws:ssm:*:{account}:parameter/{self.app}/{self.stack}/*"


@dataclass(frozen=True)
class AccountScope:
    account: str
    bucket: str
    stacks: tuple[StackScope, ...]

    def of(self, stack: str) -> StackScope:
        return next(s for s in self.stacks if s.stack == stack)

    def others(self, stack: str) -> list[StackScope]:
        return [s for s in self.stacks if s.stack != stack]

    def boundary_arn(self, stack: str) -> str:
        return policy_arn(self.account, NAMES.boundary_policy(stack))

    def iam(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.account}:{kind}/{name}"


def _state_objects(bucket: str, stack: str) -> list[str]:
    # The S3 backend keeps a stack under .pulumi/<stacks|history|backups|locks>/…/<project>/<stack>
    # (`*` spans `/` in an IAM resource).
    return [f"arn:aws:s3:::{bucket}/.pulumi/*/{PROJECT}/{stack}.json*",
            f"arn:aws:s3:::{bucket}/.pulumi/*/{PROJECT}/{stack}/*"]


def boundary_policy(a: AccountScope, stack: str) -> Document:
    """The most any role a stack's deploy role creates may do: what an instance needs
    (components/access/iam_policies.py), on this stack's resources, and nothing in IAM or STS."""
    s = a.of(stack)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "FindConsulPeers", "Effect": "Allow", "Action": "ec2:DescribeInstances",
             "Resource": "*"},
            {"Sid": "ReadReleases", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": f"arn:aws:s3:::{s.release_bucket}/*"},
            {"Sid": "ReadStackParameters", "Effect": "Allow",
             "Action": ["ssm:GetParameter", "ssm:GetParameters"],
             "Resource": s.parameters(a.account)},
            {"Sid": "DecryptParametersThroughSsm", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": "*",
             "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}}},
            {"Sid": "OwnLifecycleActions", "Effect": "Allow",
             "Action": ["autoscaling:CompleteLifecycleAction",
                        "autoscaling:RecordLifecycleActionHeartbeat"],
             "Resource": f"arn:aws:autoscaling:*:{a.account}:autoScalingGroup:*:"
                         f"autoScalingGroupName/{s.prefix}*"},
        ],
    }


def preview_policy(a: AccountScope, stack: str) -> Document:
    """On top of ReadOnlyAccess: read state, decrypt this stack's secrets; and never decrypt with
    any other key (the other stack's, or aws/ssm behind the SecureString parameters), nor read the
    other stack's parameters. No write to the state bucket: the DIY backend takes no lock for a
    preview (pulumi/pulumi pkg/backend/diy/backend.go, Preview; tests/bootstrap/
    test_preview_lock.py runs the pinned CLI); a pull request's workflow could otherwise write a
    lock that blocks the stack's `up`, or delete the one an `up` holds."""
    s = a.of(stack)
    others = a.others(stack)
    statements: list[Document] = [
        {"Sid": "ReadState", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
         "Resource": bucket_arns(a.bucket)},
        {"Sid": "DecryptOwnStackSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": s.key_arn},
        {"Sid": "NoOtherKey", "Effect": "Deny", "Action": "kms:Decrypt",
         "NotResource": s.key_arn},
    ]
    if others:
        statements.append(
            {"Sid": "NotOtherStacksParameters", "Effect": "Deny",
             "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                        "ssm:GetParameterHistory"],
             "Resource": [o.parameters(a.account) for o in others]})
    return {"Version": "2012-10-17", "Statement": statements}


def deploy_policy(a: AccountScope, stack: str) -> Document:
    """Everything `pulumi up` of one stack does, and no way to more: no managed policies, no
    users, no unbounded role, no role passed to anything but EC2, nothing of the other stack."""
    s = a.of(stack)
    others = a.others(stack)
    role, profile = a.iam("role", f"{s.prefix}*"), a.iam("instance-profile", f"{s.prefix}*")
    bounded = {"StringEquals": {"iam:PermissionsBoundary": a.boundary_arn(stack)}}
    statements: list[Document] = [
        {"Sid": "ReadWriteState", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject",
                    "s3:DeleteObject"],
         "Resource": bucket_arns(a.bucket)},
        {"Sid": "StackSecrets", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": s.key_arn},
        {"Sid": "ProgramServices", "Effect": "Allow",
         "Action": [f"{service}:*" for service in PROGRAM_SERVICES],
         "Resource": "*"},
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        # `python -m deploy` waits for exactly the fleet group's InService instances
        # (deploy/fleet_group.py). Named on its own though ProgramServices covers it: the
        # deploy needs it whatever the program's grants become. DescribeAutoScalingGroups
        # supports no resource-level permissions (Service Authorization Reference, Amazon EC2
        # Auto Scaling: its Resource types column is empty), so `*` is the only scope there is.
        {"Sid": "FindInServiceInstances", "Effect": "Allow",
         "Action": "autoscaling:DescribeAutoScalingGroups", "Resource": "*"},
        {"Sid": "StackParameters", "Effect": "Allow",
         "Action": ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameter",
                    "ssm:GetParameters", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
                    "ssm:ListTagsForResource"],
         "Resource": s.parameters(a.account)},
        {"Sid": "ListParameters", "Effect": "Allow", "Action": "ssm:DescribeParameters",
         "Resource": "*"},
        {"Sid": "ReleaseBucket", "Effect": "Allow", "Action": "s3:*",
         "Resource": bucket_arns(s.release_bucket)},
        # Roles only under the stack's prefix and only with its boundary: CreateRole, and every
        # change to an existing role, checks the boundary it carries (iam:PermissionsBoundary).
        {"Sid": "BoundedProgramRoles", "Effect": "Allow",
         "Action": ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole",
                    "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
                    "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
         "Resource": role, "Condition": bounded},
        {"Sid": "ProgramRoleReads", "Effect": "Allow",
         "Action": ["iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole", "iam:ListRoleTags", "iam:TagRole",
                    "iam:UntagRole"],
         "Resource": role},
        {"Sid": "PassProgramRolesToEc2", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": role, "Condition": {"StringEquals": {"iam:PassedToService": PASS_TO}}},
        {"Sid": "ProgramInstanceProfiles", "Effect": "Allow",
         "Action": ["iam:CreateInstanceProfile", "iam:DeleteInstanceProfile",
                    "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile",
                    "iam:UntagInstanceProfile", "iam:ListInstanceProfileTags"],
         "Resource": profile},
        {"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
         "Resource": a.iam("role", "aws-service-role/*"),
         "Condition": {"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}}},
        # An instance of another system (or stack) could be given new user data or a new role.
        {"Sid": "OnlyOwnInstances", "Effect": "Deny", "Action": INSTANCE_TAKEOVER,
         "Resource": "*",
         "Condition": {"StringNotEquals": {f"aws:ResourceTag/{ENV_TAG}": stack}}},
        # The roles the workflows assume and the boundaries stay as the bootstrap made them.
        {"Sid": "NotTheBootstrapRoles", "Effect": "Deny", "Action": "iam:*",
         "Resource": [a.iam("role", f"{NAMES.role_prefix}*"),
                      a.iam("policy", NAMES.boundary_policy("*"))]},
    ]
    for o in others:
        statements += [
            {"Sid": f"NotTagged{o.stack.title()}", "Effect": "Deny",
             "Action": [f"{service}:*" for service in PROGRAM_SERVICES], "Resource": "*",
             "Condition": {"StringEquals": {f"aws:ResourceTag/{ENV_TAG}": o.stack}}},
            {"Sid": f"NotNamed{o.stack.title()}", "Effect": "Deny", "Action": "*",
             "Resource": [a.iam("role", f"{o.prefix}*"), a.iam("instance-profile",
                                                              f"{o.prefix}*"),
                          o.parameters(a.account), o.key_arn, *bucket_arns(o.release_bucket)]},
            {"Sid": f"Not{o.stack.title()}State", "Effect": "Deny",
             "Action": ["s3:PutObject", "s3:DeleteObject"],
             "Resource": _state_objects(a.bucket, o.stack)},
        ]
    return {"Version": "2012-10-17", "Statement": statements}
