"""Which instances a push must reach: the ones the stack's Auto Scaling groups hold InService.

Consul's catalog alone cannot say: an instance that died without leaving (a spot loss, a stopped
one the group replaced) stays there `failed` for up to reconnect_timeout (72 h), and would block
every push. The group is the truth about what serves traffic, so the deploy waits for exactly its
InService instances and ignores every other node, saying so.

DescribeAutoScalingGroups (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/
API_DescribeAutoScalingGroups.html) answers AutoScalingGroups.member.N with AutoScalingGroupName
and Instances.member.N {InstanceId, LifecycleState} (API_Instance.html). Only LifecycleState
`InService` counts: Pending*, Terminating*, Detaching, Standby and Quarantined instances are not
(or no longer) serving, and warm-pool instances are not in the list at all (DescribeWarmPool has
them). The action supports no resource-level permissions, so the grant is on `Resource: "*"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.consul_agent import node_name_prefix
from contracts.names import fleet_group_prefix
from deploy.s3 import describe

IN_SERVICE = "InService"


class GroupError(Exception):
    """Auto Scaling could not say which instances are in service; the message says what to do."""


@dataclass(frozen=True)
class InService:
    """The Consul node names of the instances the stack's groups hold InService."""

    groups: tuple[str, ...]
    nodes: frozenset[str]


def in_service(client: Any, app: str, stack: str) -> InService:
    """Ask DescribeAutoScalingGroups for the stack's groups (by name prefix) and their InService
    instances; GroupError (one line) when AWS refuses or no group of the stack exists."""
    prefix = fleet_group_prefix(app, stack)
    node = node_name_prefix(app, stack)
    groups: list[str] = []
    nodes: set[str] = set()
    try:
        for page in client.get_paginator("describe_auto_scaling_groups").paginate():
            for group in page.get("AutoScalingGroups") or []:
                name = str(group.get("AutoScalingGroupName") or "")
                if not name.startswith(prefix):
                    continue
                groups.append(name)
                nodes.update(f"{node}{i['InstanceId']}" for i in group.get("Instances") or []
                             if i.get("LifecycleState") == IN_SERVICE)
    except (BotoCoreError, ClientError) as e:
        raise GroupError(f"could not ask Auto Scaling which instances of {app}-{stack} are in "
                         f"service ({describe(e)}): the deploy's AWS credentials need "
                         "autoscaling:DescribeAutoScalingGroups in the stack's region "
                         "(--region or AWS_REGION)") from e
    if not groups:
        raise GroupError(f"no Auto Scaling group named {prefix}* in this account and region: "
                         "check --stack, --app and --region (or AWS_REGION), or run `pulumi up` "
                         "for the stack first")
    return InService(tuple(sorted(groups)), frozenset(nodes))


def autoscaling_client(region: str | None, endpoint: str | None) -> Any:
    return boto3.session.Session(region_name=region).client(
        "autoscaling", endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "max_attempts": 5}))


def group_lookup(app: str, stack: str, region: str | None,
                 endpoint: str | None) -> Callable[[], InService]:
    """What FleetView asks on every look at the fleet: the group changes during a rollout."""
    client = autoscaling_client(region, endpoint)
    return lambda: in_service(client, app, stack)
