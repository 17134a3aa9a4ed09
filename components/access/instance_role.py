"""The fleet's IAM role and instance profile, granting only what an instance needs at run time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.access.iam_policies import EC2_ASSUME_ROLE, instance_policy


@dataclass(frozen=True)
class InstanceRoleArgs:
    region: str
    account_id: str
    release_bucket: str
    release_prefix: str
    ssm_prefix: str
    group_name_prefix: str
    """Lifecycle actions are allowed on groups named with this prefix only."""
    tags: Mapping[str, str]
    permissions_boundary: str
    """ARN of the stack's boundary policy (bootstrap makes it): the deploy role may create and
    change only roles that carry it."""


class InstanceRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    """ARN of the instance role (the release bucket lets only this role read)."""
    instance_profile_arn: pulumi.Output[str]
    """Instance profile the launch template/configuration attaches."""
    instance_profile_name: pulumi.Output[str]
    """Name of the instance profile (what launch configurations take)."""

    def __init__(self, name: str, args: InstanceRoleArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:instance_role:InstanceRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(EC2_ASSUME_ROLE),
            description="webtier instances: Consul auto-join, releases, stack parameters",
            permissions_boundary=args.permissions_boundary,
            tags=dict(args.tags),
            opts=child,
        )
        document = json.dumps(instance_policy(
            region=args.region, account_id=args.account_id,
            release_bucket=args.release_bucket, release_prefix=args.release_prefix,
            ssm_prefix=args.ssm_prefix, group_name_prefix=args.group_name_prefix,
        ), sort_keys=True)
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=document, opts=child)
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name,
                                          tags=dict(args.tags), opts=child)

        self.role_arn = role.arn
        self.instance_profile_arn = profile.arn
        self.instance_profile_name = profile.name
        self.register_outputs({"roleArn": role.arn, "instanceProfileArn": profile.arn})
