"""Resource types the rules look at, and the helpers that read the engine's property values.

A value not known yet during a preview raises UnknownValueError; `cannot_verify` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pulumi_policy.proxy import UnknownValueError

LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"


LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


LAUNCHES = (LAUNCH_CONFIGURATION, LAUNCH_TEMPLATE)


GROUP = "aws:autoscaling/group:Group"


SCALING_POLICY = "aws:autoscaling/policy:Policy"


ATTACHMENT = "aws:autoscaling/attachment:Attachment"


TRAFFIC_SOURCE_ATTACHMENT = "aws:autoscaling/trafficSourceAttachment:TrafficSourceAttachment"


METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


SECURITY_GROUP_TYPES = (SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE)


ROLE = "aws:iam/role:Role"


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


IAM_POLICY = "aws:iam/policy:Policy"


IAM_TYPES = (ROLE, ROLE_POLICY, IAM_POLICY)


SUBNET = "aws:ec2/subnet:Subnet"


class StackResource(Protocol):
    """What a stack rule reads of a resource; pulumi_policy.PolicyResource has all of it."""

    @property
    def resource_type(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...
    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def property_dependencies(self) -> Mapping[str, Sequence[StackResource]]: ...


Finding = tuple[str, str]
"""A stack rule's problem: (message, urn of the resource it is about)."""


def cannot_verify(error: UnknownValueError) -> str:
    """The message for a value the engine does not know yet (preview only)."""
    return f"cannot verify during preview: {'.'.join(error.props)} is unknown"


# --- small readers --------------------------------------------------------------------------

def items(value: Any) -> list[Any]:
    """A list property as a list: None is empty, a scalar or a map is one item."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def strings(value: Any) -> list[str]:
    return [str(v) for v in items(value)]


def is_true(value: Any) -> bool:
    """Booleans arrive as bools, or as "true"/"false" strings on launch templates."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def known(props: Mapping[str, Any], key: str) -> Any:
    """props[key], or None when it is absent or not known yet."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def number(value: Any) -> Any:
    """Engine numbers arrive as floats: show 2.0 as 2."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
