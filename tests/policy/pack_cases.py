"""What the policy tests share: fixture resources of each kind, the policy runner around
policy/offline.py, and user-data secrets."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import PolicyResource, ResourceValidationPolicy, StackValidationPolicy

from policy import rules
from policy.offline import (
    resource_args,
    run_resource_policy,
    run_stack_policy,
)
from policy.pack import POLICIES

LT, LC, GROUP = rules.LAUNCH_TEMPLATE, rules.LAUNCH_CONFIGURATION, rules.GROUP

SCRIPT = """#!/bin/bash
set -euo pipefail
param() { aws ssm get-parameter --with-decryption --name "$SSM_PREFIX/$1" \\
  --query Parameter.Value --output text; }
agent_token="$(param consul/agent-token)"
printf 'encrypt = "%s"\\n' "$(param consul/gossip-key)" > /etc/consul.d/secrets.hcl
printf 'CONSUL_HTTP_TOKEN=%s\\n' "$(param consul/template-token)" > /etc/webtier/ct.env
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


TEMPLATE: dict[str, Any] = {
    "imageId": "ami-0123456789abcdef0",
    "instanceType": "t3.small",
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required",
                        "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 16}},
        {"deviceName": "/dev/xvdf", "ebs": {"encrypted": "true", "volumeSize": 50}},
    ],
    "networkInterfaces": [{"associatePublicIpAddress": "false", "securityGroups": ["sg-1"]}],
    "tagSpecifications": [{"resourceType": "volume", "tags": {"Name": "web"}}],
    "userData": b64(SCRIPT),
}
CONFIGURATION: dict[str, Any] = {
    "imageId": "ami-0123456789abcdef0",
    "instanceType": "t3.small",
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required",
                        "httpPutResponseHopLimit": 1},
    "rootBlockDevice": {"encrypted": True, "volumeSize": 16},
    "ebsBlockDevices": [{"deviceName": "/dev/xvdf", "encrypted": True}],
    "associatePublicIpAddress": False,
    "userData": SCRIPT,
}
LAUNCHES = [pytest.param(LT, TEMPLATE, id="template"),
            pytest.param(LC, CONFIGURATION, id="configuration")]
INSTANCE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ConsulCloudAutoJoin", "Effect": "Allow", "Action": ["ec2:DescribeInstances"],
     "Resource": "*"},
    {"Sid": "ReadReleases", "Effect": "Allow", "Action": ["s3:GetObject"],
     "Resource": "arn:aws:s3:::webapp-releases/webapp/*"},
    {"Sid": "NoWrites", "Effect": "Deny", "Action": "*", "Resource": "*"},
]}


def changed(base: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the dotted ``path`` set (value None deletes it)."""
    result = copy.deepcopy(dict(base))
    node: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return result


def policy(name: str) -> Any:
    return next(p for p in POLICIES if p.name == name)


def violations(policy_name: str, resource_type: str, props: Mapping[str, Any],
               config: Mapping[str, Any] | None = None) -> list[str]:
    subject = policy(policy_name)
    assert isinstance(subject, ResourceValidationPolicy)
    args = resource_args(resource_type, props, config=config)
    return [v.message for v in run_resource_policy(subject, args)]


def stack_violations(policy_name: str, resources: list[PolicyResource],
                     config: Mapping[str, Any] | None = None) -> list[tuple[str, str | None]]:
    subject = policy(policy_name)
    assert isinstance(subject, StackValidationPolicy)
    return [(v.message, v.urn) for v in run_stack_policy(subject, resources, config)]
