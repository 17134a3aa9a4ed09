"""Every policy of the pack against a passing and a failing fixture, through the SDK's ``validate``
with the same argument objects pulumi_policy's analyzer builds (policy/offline.py), including
values the engine does not know during a preview."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi.runtime
import pytest
from pulumi.runtime import config as runtime_config
from pulumi_policy import PolicyResource, ResourceValidationPolicy, StackValidationPolicy

from policy import rules
from policy.offline import (
    UNKNOWN,
    depend,
    policy_resource,
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


@pytest.fixture(autouse=True)
def no_stack_config() -> Iterator[None]:
    """Start every test without stack config (other tests' mock runs leave theirs behind)."""
    token = runtime_config.CONFIG.set({})
    yield
    runtime_config.CONFIG.reset(token)


def test_every_policy_is_tested_here() -> None:
    tested = {
        "autoscaling-launchconfig-requires-imdsv2", "autoscaling-launch-config-hop-limit",
        "autoscaling-enable-at-rest-encryption", "autoscaling-launch-config-public-ip-disabled",
        "restricted-common-ports", "autoscaling-no-secrets-in-user-data",
        "iam-no-policy-wildcards", "autoscaling-launch-template-version-pinned",
        "autoscaling-group-elb-healthcheck-required", "autoscaling-multiple-az",
        "autoscaling-launch-tags-propagated", "autoscaling-alarm-scales-own-group",
        "consul-agent-tls",  # fixtures in tests/test_policy_consul_tls.py
        "autoscaling-spot-capacity-rebalance",  # tests/test_policy_spot.py
    }
    assert {p.name for p in POLICIES} == tested


# --- IMDSv2 --------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_imdsv2_passes_launch_requiring_tokens(kind: str, props: dict[str, Any]) -> None:
    assert violations("autoscaling-launchconfig-requires-imdsv2", kind, props) == []


@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_imdsv2_fails_launch_with_optional_tokens(kind: str, props: dict[str, Any]) -> None:
    found = violations("autoscaling-launchconfig-requires-imdsv2", kind,
                       changed(props, "metadataOptions.httpTokens", "optional"))
    assert found == ["metadataOptions.httpTokens is 'optional': IMDSv2 needs \"required\""]


def test_imdsv2_fails_template_without_metadata_options() -> None:
    found = violations("autoscaling-launchconfig-requires-imdsv2", LT,
                       changed(TEMPLATE, "metadataOptions", None))
    assert len(found) == 1
    assert "metadataOptions is not set" in found[0]


def test_imdsv2_passes_template_with_metadata_endpoint_disabled() -> None:
    props = changed(TEMPLATE, "metadataOptions", {"httpEndpoint": "disabled"})
    assert violations("autoscaling-launchconfig-requires-imdsv2", LT, props) == []


def test_imdsv2_ignores_other_resource_types() -> None:
    assert violations("autoscaling-launchconfig-requires-imdsv2", GROUP, {"minSize": 1}) == []


# --- hop limit -----------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_hop_limit_passes_launch_with_one_hop(kind: str, props: dict[str, Any]) -> None:
    assert violations("autoscaling-launch-config-hop-limit", kind, props) == []


@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_hop_limit_fails_launch_with_two_hops(kind: str, props: dict[str, Any]) -> None:
    found = violations("autoscaling-launch-config-hop-limit", kind,
                       changed(props, "metadataOptions.httpPutResponseHopLimit", 2))
    assert found == ["metadataOptions.httpPutResponseHopLimit is 2: set it to 1 so the metadata "
                     "service answers only the instance itself"]


def test_hop_limit_fails_template_leaving_it_to_the_ami() -> None:
    found = violations("autoscaling-launch-config-hop-limit", LT,
                       changed(TEMPLATE, "metadataOptions.httpPutResponseHopLimit", None))
    assert len(found) == 1
    assert "httpPutResponseHopLimit is not set" in found[0]


# --- encryption ----------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_encryption_passes_launch_with_encrypted_volumes(kind: str, props: dict[str, Any]) -> None:
    assert violations("autoscaling-enable-at-rest-encryption", kind, props) == []


def test_encryption_fails_template_with_unencrypted_data_volume() -> None:
    found = violations("autoscaling-enable-at-rest-encryption", LT,
                       changed(TEMPLATE, "blockDeviceMappings.1.ebs.encrypted", "false"))
    assert found == ["blockDeviceMappings[1] (/dev/xvdf).ebs.encrypted is 'false': set it to "
                     "\"true\""]


def test_encryption_fails_template_declaring_no_ebs_volume() -> None:
    found = violations("autoscaling-enable-at-rest-encryption", LT,
                       changed(TEMPLATE, "blockDeviceMappings", None))
    assert len(found) == 1
    assert "declares no EBS volume" in found[0]


def test_encryption_fails_configuration_with_unencrypted_root() -> None:
    found = violations("autoscaling-enable-at-rest-encryption", LC,
                       changed(CONFIGURATION, "rootBlockDevice.encrypted", False))
    assert found == ["rootBlockDevice.encrypted is False: set it to true"]


def test_encryption_fails_configuration_without_root_block_device() -> None:
    found = violations("autoscaling-enable-at-rest-encryption", LC,
                       changed(CONFIGURATION, "rootBlockDevice", None))
    assert len(found) == 1
    assert "rootBlockDevice is not set" in found[0]


def test_encryption_fails_configuration_with_unencrypted_data_volume() -> None:
    found = violations("autoscaling-enable-at-rest-encryption", LC,
                       changed(CONFIGURATION, "ebsBlockDevices.0.encrypted", None))
    assert found == ["ebsBlockDevices[0] (/dev/xvdf).encrypted is None: set it to true"]


# --- public IP -----------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_public_ip_passes_launch_without_public_address(kind: str, props: dict[str, Any]) -> None:
    assert violations("autoscaling-launch-config-public-ip-disabled", kind, props) == []


def test_public_ip_fails_template_interface_asking_for_one() -> None:
    found = violations("autoscaling-launch-config-public-ip-disabled", LT,
                       changed(TEMPLATE, "networkInterfaces.0.associatePublicIpAddress", "true"))
    assert len(found) == 1
    assert found[0].startswith("networkInterfaces[0].associatePublicIpAddress is \"true\"")


def test_public_ip_fails_configuration_asking_for_one() -> None:
    found = violations("autoscaling-launch-config-public-ip-disabled", LC,
                       changed(CONFIGURATION, "associatePublicIpAddress", True))
    assert len(found) == 1
    assert found[0].startswith("associatePublicIpAddress is true")


# --- security groups -----------------------------------------------------------------------

def sg_ingress(protocol: str, from_port: int, to_port: int, cidrs: list[str],
               ipv6: list[str] | None = None) -> dict[str, Any]:
    return {"vpcId": "vpc-1", "ingress": [{"protocol": protocol, "fromPort": from_port,
                                           "toPort": to_port, "cidrBlocks": cidrs,
                                           "ipv6CidrBlocks": ipv6 or []}]}


def test_ports_fail_inline_ssh_ingress_from_anywhere() -> None:
    found = violations("restricted-common-ports", rules.SECURITY_GROUP,
                       sg_ingress("tcp", 22, 22, ["0.0.0.0/0"]))
    assert found == ["ingress[0] opens tcp to port(s) 22 (SSH) from 0.0.0.0/0: allow only the "
                     "Consul cluster's security group or a private CIDR"]


def test_ports_fail_ingress_rule_opening_consul_api_to_ipv6_anywhere() -> None:
    props = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 8500, "toPort": 8501,
             "cidrIpv6": "::/0"}
    found = violations("restricted-common-ports", rules.INGRESS_RULE, props)
    assert found == ["rule opens tcp to port(s) 8500 (Consul HTTP API), 8501 (Consul HTTPS API) "
                     "from ::/0: allow only the Consul cluster's security group or a private CIDR"]


def test_ports_fail_security_group_rule_opening_all_protocols_to_anywhere() -> None:
    props = {"type": "ingress", "securityGroupId": "sg-1", "protocol": "-1", "fromPort": 0,
             "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
    found = violations("restricted-common-ports", rules.SECURITY_GROUP_RULE, props)
    assert len(found) == 1
    assert "all protocols to port(s) 22 (SSH), 8300" in found[0]


def test_ports_fail_udp_range_covering_consul_ports_open_to_anywhere() -> None:
    found = violations("restricted-common-ports", rules.SECURITY_GROUP,
                       sg_ingress("udp", 8000, 8999, ["10.0.0.0/8", "0.0.0.0/0"]))
    assert len(found) == 1
    assert found[0].startswith("ingress[0] opens udp to port(s) 8300 (Consul RPC), 8301")
    assert found[0].endswith("8600 (Consul DNS) from 0.0.0.0/0: allow only the Consul cluster's "
                             "security group or a private CIDR")


def test_ports_pass_http_listener_open_to_anywhere() -> None:
    assert violations("restricted-common-ports", rules.SECURITY_GROUP,
                      sg_ingress("tcp", 80, 80, ["0.0.0.0/0"], ["::/0"])) == []


def test_ports_pass_consul_ports_from_a_private_cidr() -> None:
    assert violations("restricted-common-ports", rules.SECURITY_GROUP,
                      sg_ingress("tcp", 8300, 8302, ["10.20.0.0/16"])) == []


def test_ports_pass_consul_ports_from_the_cluster_security_group() -> None:
    props = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 8301, "toPort": 8301,
             "referencedSecurityGroupId": "sg-cluster"}
    assert violations("restricted-common-ports", rules.INGRESS_RULE, props) == []


def test_ports_pass_egress_security_group_rule_to_anywhere() -> None:
    props = {"type": "egress", "securityGroupId": "sg-1", "protocol": "-1", "fromPort": 0,
             "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
    assert violations("restricted-common-ports", rules.SECURITY_GROUP_RULE, props) == []


def test_ports_blocked_list_comes_from_policy_config() -> None:
    props = sg_ingress("tcp", 3389, 3389, ["0.0.0.0/0"])
    assert violations("restricted-common-ports", rules.SECURITY_GROUP, props) == []
    found = violations("restricted-common-ports", rules.SECURITY_GROUP, props,
                       config={"blockedPorts": [22, 3389]})
    assert len(found) == 1
    assert "3389 (blocked)" in found[0]


# --- user data -----------------------------------------------------------------------------

SECRETS = [  # (line put in user data, what the rule calls it, the secret part of the line)
    pytest.param("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "an AWS access key id",
                 "AKIAIOSFODNN7EXAMPLE", id="aws-access-key"),
    pytest.param("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 "an AWS secret access key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 id="aws-secret-key"),
    pytest.param("echo '-----BEGIN RSA PRIVATE KEY-----' > /root/key", "a private key",
                 "BEGIN RSA PRIVATE KEY", id="private-key"),
    pytest.param('DB_PASSWORD="hunter2-correct-horse"', "a password, token or secret assignment",
                 "hunter2-correct-horse", id="password"),
    pytest.param("CONSUL_HTTP_TOKEN=3f2c9a7e-5b1d-4c8e-9f0a-1b2c3d4e5f60",
                 "a password, token or secret assignment",
                 "3f2c9a7e-5b1d-4c8e-9f0a-1b2c3d4e5f60", id="token"),
    pytest.param('encrypt = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="',
                 "a Consul gossip key", "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
                 id="gossip-key"),
]


def secret_line(kind: str) -> str:
    return (f"userData line 3 holds what looks like {kind} (value withheld): fetch it at boot "
            "from an SSM SecureString parameter")


def with_line(line: str) -> str:
    head, tail = SCRIPT.split("\n", 2)[:2], SCRIPT.split("\n", 2)[2]
    return "\n".join([*head, line, tail])


@pytest.mark.parametrize(("kind", "props"), LAUNCHES)
def test_user_data_passes_script_fetching_secrets_at_boot(kind: str, props: dict[str, Any]) -> None:
    assert violations("autoscaling-no-secrets-in-user-data", kind, props) == []


@pytest.mark.parametrize(("line", "what", "_secret"), SECRETS)
def test_user_data_fails_template_with_secret_in_base64(line: str, what: str, _secret: str) -> None:
    found = violations("autoscaling-no-secrets-in-user-data", LT,
                       changed(TEMPLATE, "userData", b64(with_line(line))))
    assert secret_line(what) in found


@pytest.mark.parametrize(("line", "what", "_secret"), SECRETS)
def test_user_data_fails_configuration_with_secret_in_plain_text(line: str, what: str,
                                                                 _secret: str) -> None:
    found = violations("autoscaling-no-secrets-in-user-data", LC,
                       changed(CONFIGURATION, "userData", with_line(line)))
    assert secret_line(what) in found


def test_user_data_fails_gzipped_base64_payload() -> None:
    payload = base64.b64encode(gzip.compress(with_line("PASSWORD=s3cr3t").encode())).decode()
    found = violations("autoscaling-no-secrets-in-user-data", LC,
                       changed(CONFIGURATION, "userDataBase64", payload))
    assert found == [secret_line("a password, token or secret assignment")
                     .replace("userData", "userDataBase64")]


def test_user_data_fails_secret_inside_mime_multipart_part() -> None:
    part = base64.b64encode(b"#!/bin/bash\necho ok\napi_token=abc123def456\n").decode()
    mime = ("Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\n"
            "Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n"
            f"{part}\n--XX--\n")
    found = violations("autoscaling-no-secrets-in-user-data", LT,
                       changed(TEMPLATE, "userData", b64(mime)))
    assert secret_line("a password, token or secret assignment") in found


@pytest.mark.parametrize(("line", "_what", "secret"), SECRETS)
def test_user_data_violation_never_repeats_the_secret(line: str, _what: str, secret: str) -> None:
    found = violations("autoscaling-no-secrets-in-user-data", LT,
                       changed(TEMPLATE, "userData", b64(with_line(line))))
    assert found
    assert all(secret not in message for message in found)


# --- IAM -----------------------------------------------------------------------------------

def role_policy(document: Any) -> dict[str, Any]:
    return {"role": "web-instance", "policy": json.dumps(document)}


def statement(**fields: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", **fields}]}


def test_iam_passes_instance_policy_with_describe_on_star() -> None:
    assert violations("iam-no-policy-wildcards", rules.ROLE_POLICY,
                      role_policy(INSTANCE_POLICY)) == []


def test_iam_passes_ec2_describe_family_on_star() -> None:
    assert violations("iam-no-policy-wildcards", rules.IAM_POLICY,
                      role_policy(statement(Action="ec2:Describe*", Resource="*"))) == []


def test_iam_fails_star_action() -> None:
    found = violations("iam-no-policy-wildcards", rules.ROLE_POLICY,
                       role_policy(statement(Action="*", Resource="arn:aws:s3:::b/*")))
    assert found == ["policy statement S allows action '*': name the actions the instance needs"]


def test_iam_fails_service_wide_action() -> None:
    found = violations("iam-no-policy-wildcards", rules.IAM_POLICY,
                       role_policy(statement(Action=["s3:*"], Resource="arn:aws:s3:::b/*")))
    assert found == ["policy statement S allows action 's3:*': name the actions the instance "
                     "needs"]


def test_iam_fails_restrictable_action_on_star_resource() -> None:
    found = violations("iam-no-policy-wildcards", rules.ROLE_POLICY, role_policy(
        statement(Action=["ec2:DescribeInstances", "ssm:GetParameter"], Resource="*")))
    assert found == ["policy statement S grants ssm:GetParameter on Resource \"*\": these actions "
                     "support resource ARNs, so scope them"]


def test_iam_fails_not_action() -> None:
    found = violations("iam-no-policy-wildcards", rules.ROLE_POLICY,
                       role_policy(statement(NotAction="iam:*", Resource="arn:aws:s3:::b")))
    assert len(found) == 1
    assert "NotAction" in found[0]


def test_iam_fails_role_inline_policy_with_star() -> None:
    props = {"assumeRolePolicy": "{}", "inlinePolicies": [
        {"name": "inline", "policy": json.dumps(statement(Action="*", Resource="*"))}]}
    found = violations("iam-no-policy-wildcards", rules.ROLE, props)
    assert found == ["inlinePolicies[0].policy statement S allows action '*': name the actions "
                     "the instance needs"]


def test_iam_fails_policy_that_is_not_json() -> None:
    found = violations("iam-no-policy-wildcards", rules.ROLE_POLICY,
                       {"role": "r", "policy": "{not json"})
    assert len(found) == 1
    assert found[0].startswith("policy is not valid JSON")


# --- launch template version ---------------------------------------------------------------

def group(**fields: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"minSize": 2, "maxSize": 4, "healthCheckType": "ELB",
                             "launchTemplate": {"id": "lt-1", "version": "3"},
                             "vpcZoneIdentifiers": ["subnet-a1", "subnet-c1"],
                             "tags": [{"key": "Name", "value": "web", "propagateAtLaunch": True}]}
    props.update(fields)
    return {k: v for k, v in props.items() if v is not None}


def test_version_passes_group_pinning_a_number() -> None:
    assert violations("autoscaling-launch-template-version-pinned", GROUP, group()) == []


@pytest.mark.parametrize("version", ["$Latest", "$Default"])
def test_version_fails_group_following_a_moving_version(version: str) -> None:
    found = violations("autoscaling-launch-template-version-pinned", GROUP,
                       group(launchTemplate={"id": "lt-1", "version": version}))
    assert found == [f"launchTemplate.version is {version!r}: pin a version number (not $Latest "
                     "or $Default) so a launch template change is a reviewed group update"]


def test_version_fails_group_without_a_version() -> None:
    found = violations("autoscaling-launch-template-version-pinned", GROUP,
                       group(launchTemplate={"id": "lt-1"}))
    assert len(found) == 1
    assert found[0].startswith("launchTemplate.version is not set")


def test_version_fails_mixed_instances_policy_on_latest() -> None:
    mixed = {"launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1",
                                                                "version": "$Latest"}}}
    found = violations("autoscaling-launch-template-version-pinned", GROUP,
                       group(launchTemplate=None, mixedInstancesPolicy=mixed))
    assert len(found) == 1
    assert "launchTemplateSpecification.version is '$Latest'" in found[0]


def test_version_passes_group_on_a_launch_configuration() -> None:
    assert violations("autoscaling-launch-template-version-pinned", GROUP,
                      group(launchTemplate=None, launchConfiguration="lc-1")) == []


# --- stack fixtures ------------------------------------------------------------------------

def asg(name: str = "web", **fields: Any) -> PolicyResource:
    return policy_resource(GROUP, group(name=name, **fields), name=f"{name}-group")


def scaling_policy(name: str, group_name: str) -> PolicyResource:
    arn = (f"arn:aws:autoscaling:ap-northeast-1:123456789012:scalingPolicy:1111:"
           f"autoScalingGroupName/{group_name}:policyName/{name}")
    return policy_resource(rules.SCALING_POLICY, {"autoscalingGroupName": group_name,
                                                  "arn": arn, "name": name}, name=name)


def alarm(name: str, group_name: Any, actions: Any) -> PolicyResource:
    props = {"metricName": "CPUUtilization", "namespace": "AWS/EC2",
             "dimensions": {"AutoScalingGroupName": group_name}, "alarmActions": actions}
    return policy_resource(rules.METRIC_ALARM, props, name=name)


# --- ELB health checks ---------------------------------------------------------------------

def test_elb_health_passes_group_behind_target_group_using_elb() -> None:
    assert stack_violations("autoscaling-group-elb-healthcheck-required",
                            [asg(targetGroupArns=["arn:tg"])]) == []


def test_elb_health_fails_group_behind_target_group_using_ec2() -> None:
    subject = asg(targetGroupArns=["arn:tg"], healthCheckType="EC2")
    found = stack_violations("autoscaling-group-elb-healthcheck-required", [subject])
    assert found == [("healthCheckType is 'EC2' but the group is behind a load balancer: set it "
                      "to \"ELB\" so instances the load balancer finds unhealthy are replaced",
                      subject.urn)]


def test_elb_health_fails_group_attached_separately_using_default_checks() -> None:
    subject = asg(healthCheckType=None)
    attachment = policy_resource(rules.ATTACHMENT, {"autoscalingGroupName": "web",
                                                    "lbTargetGroupArn": "arn:tg"}, name="att")
    found = stack_violations("autoscaling-group-elb-healthcheck-required", [subject, attachment])
    assert [urn for _, urn in found] == [subject.urn]


def test_elb_health_passes_group_without_load_balancer_using_ec2() -> None:
    assert stack_violations("autoscaling-group-elb-healthcheck-required",
                            [asg(healthCheckType="EC2")]) == []


# --- availability zones --------------------------------------------------------------------

AZS = {"subnet-a1": "ap-northeast-1a", "subnet-a2": "ap-northeast-1a",
       "subnet-c1": "ap-northeast-1c"}


def test_multi_az_passes_group_over_two_zones() -> None:
    assert stack_violations("autoscaling-multiple-az", [asg()],
                            {"subnetAvailabilityZones": AZS}) == []


def test_multi_az_fails_group_whose_subnets_share_a_zone() -> None:
    subject = asg(vpcZoneIdentifiers=["subnet-a1", "subnet-a2"])
    found = stack_violations("autoscaling-multiple-az", [subject],
                             {"subnetAvailabilityZones": AZS})
    assert found == [("the group spans 1 availability zone(s) (ap-northeast-1a); at least 2 are "
                      "required so it survives the loss of a zone", subject.urn)]


def test_multi_az_minimum_comes_from_policy_config() -> None:
    subject = asg(vpcZoneIdentifiers=["subnet-a1"])
    assert stack_violations("autoscaling-multiple-az", [subject],
                            {"subnetAvailabilityZones": AZS, "minimumAvailabilityZones": 1}) == []


def test_multi_az_reports_subnet_whose_zone_nobody_knows() -> None:
    subject = asg(vpcZoneIdentifiers=["subnet-a1", "subnet-zz"])
    found = stack_violations("autoscaling-multiple-az", [subject],
                             {"subnetAvailabilityZones": AZS})
    assert len(found) == 1
    assert found[0][0].startswith("cannot verify the availability zone of subnet(s) subnet-zz")


def test_multi_az_reads_zones_of_subnets_in_the_stack() -> None:
    subnets = [policy_resource(rules.SUBNET, {"id": s, "availabilityZone": z}, name=s)
               for s, z in AZS.items()]
    assert stack_violations("autoscaling-multiple-az", [asg(), *subnets]) == []


def test_multi_az_reads_zones_from_the_stacks_network_config() -> None:
    network = {"fleetSubnets": [{"id": "subnet-a1", "az": "ap-northeast-1a"},
                                {"id": "subnet-c1", "az": "ap-northeast-1c"}]}
    pulumi.runtime.set_config("webtier:network", json.dumps(network))
    assert stack_violations("autoscaling-multiple-az", [asg()]) == []


# --- tags at launch ------------------------------------------------------------------------

def template_resource(tag_specifications: list[dict[str, Any]]) -> PolicyResource:
    return policy_resource(LT, {**TEMPLATE, "id": "lt-1", "name": "web-lt",
                                "tagSpecifications": tag_specifications}, name="web-lt")


def test_tags_pass_group_propagating_name() -> None:
    assert stack_violations("autoscaling-launch-tags-propagated", [asg()]) == []


def test_tags_pass_template_tagging_instances_with_name() -> None:
    subject = asg(tags=[])
    template = template_resource([{"resourceType": "instance", "tags": {"Name": "web"}}])
    assert stack_violations("autoscaling-launch-tags-propagated", [subject, template]) == []


def test_tags_fail_group_not_propagating_name() -> None:
    subject = asg(tags=[{"key": "Name", "value": "web", "propagateAtLaunch": False}])
    template = template_resource([{"resourceType": "volume", "tags": {"Name": "web"}}])
    found = stack_violations("autoscaling-launch-tags-propagated", [subject, template])
    assert len(found) == 1
    assert found[0][0].startswith("tag(s) Name do not reach the instances")
    assert found[0][1] == subject.urn


def test_tags_required_keys_come_from_policy_config() -> None:
    found = stack_violations("autoscaling-launch-tags-propagated", [asg()],
                             {"requiredTags": ["Name", "team"]})
    assert len(found) == 1
    assert found[0][0].startswith("tag(s) team do not reach")


# --- alarms --------------------------------------------------------------------------------

def test_alarm_passes_acting_on_policy_of_its_group() -> None:
    out = scaling_policy("web-out", "web")
    high = alarm("web-high", "web", [out.props["arn"]])
    assert stack_violations("autoscaling-alarm-scales-own-group", [asg(), out, high]) == []


def test_alarm_fails_acting_on_policy_of_another_group() -> None:
    other = scaling_policy("batch-out", "batch")
    high = alarm("web-high", "web", [other.props["arn"]])
    found = stack_violations("autoscaling-alarm-scales-own-group",
                             [asg(), asg("batch"), other, high])
    assert found == [("alarmActions includes scaling policy batch-out of another group: an alarm "
                      "must scale the group it watches", high.urn)]


def test_alarm_fails_watching_a_group_with_only_notification_actions() -> None:
    high = alarm("web-high", "web", ["arn:aws:sns:ap-northeast-1:123456789012:ops"])
    found = stack_violations("autoscaling-alarm-scales-own-group", [asg(), high])
    assert len(found) == 1
    assert "none of its alarmActions is a scaling policy" in found[0][0]


def test_alarm_fails_naming_scaling_policy_arn_of_another_group_outside_the_stack() -> None:
    arn = ("arn:aws:autoscaling:ap-northeast-1:123456789012:scalingPolicy:2222:"
           "autoScalingGroupName/legacy:policyName/legacy-out")
    high = alarm("web-high", "web", [arn])
    found = stack_violations("autoscaling-alarm-scales-own-group", [asg(), high])
    assert len(found) == 1
    assert "of another group" in found[0][0]


def test_alarm_rule_ignores_alarms_not_on_a_group() -> None:
    lb_alarm = policy_resource(rules.METRIC_ALARM, {
        "metricName": "HTTPCode_ELB_5XX_Count", "dimensions": {"LoadBalancer": "app/web/1"},
        "alarmActions": ["arn:aws:sns:ap-northeast-1:123456789012:ops"]}, name="lb-5xx")
    assert stack_violations("autoscaling-alarm-scales-own-group", [asg(), lb_alarm]) == []


# --- values unknown during preview ---------------------------------------------------------

def test_unknown_hop_limit_is_reported_not_passed() -> None:
    found = violations("autoscaling-launch-config-hop-limit", LT,
                       changed(TEMPLATE, "metadataOptions.httpPutResponseHopLimit", UNKNOWN))
    assert found == ["cannot verify during preview: metadataOptions.httpPutResponseHopLimit is "
                     "unknown"]


def test_unknown_user_data_is_reported_not_passed() -> None:
    found = violations("autoscaling-no-secrets-in-user-data", LT,
                       changed(TEMPLATE, "userData", UNKNOWN))
    assert found == ["cannot verify during preview: userData is unknown"]


def test_unknown_template_version_passes_as_an_output_not_a_literal() -> None:
    # The fleet pins latestVersion, unknown in every preview that changes the template; only
    # literals can be $Latest/$Default, and those are known (see rules.explicit_template_version).
    found = violations("autoscaling-launch-template-version-pinned", GROUP,
                       group(launchTemplate={"id": UNKNOWN, "version": UNKNOWN}))
    assert found == []


def test_latest_literal_is_caught_even_when_the_template_id_is_unknown() -> None:
    found = violations("autoscaling-launch-template-version-pinned", GROUP,
                       group(launchTemplate={"id": UNKNOWN, "version": "$Latest"}))
    assert len(found) == 1
    assert "$Latest" in found[0]


def test_unknown_policy_document_is_reported_not_passed() -> None:
    found = violations("iam-no-policy-wildcards", rules.ROLE_POLICY,
                       {"role": "r", "policy": UNKNOWN})
    assert found == ["cannot verify during preview: policy is unknown"]


def test_unknown_subnet_list_is_reported_not_passed() -> None:
    subject = asg(vpcZoneIdentifiers=["subnet-a1", UNKNOWN])
    found = stack_violations("autoscaling-multiple-az", [subject],
                             {"subnetAvailabilityZones": AZS})
    assert found == [("cannot verify during preview: vpcZoneIdentifiers.1 is unknown",
                      subject.urn)]


def test_unknown_target_group_arn_still_puts_group_behind_load_balancer() -> None:
    subject = asg(targetGroupArns=[UNKNOWN], healthCheckType="EC2")
    found = stack_violations("autoscaling-group-elb-healthcheck-required", [subject])
    assert [urn for _, urn in found] == [subject.urn]


def test_unknown_names_link_alarm_to_its_group_through_property_dependencies() -> None:
    web = asg(UNKNOWN)
    out = depend(scaling_policy("web-out", UNKNOWN), "autoscalingGroupName", web)
    high = depend(depend(alarm("web-high", UNKNOWN, [UNKNOWN]), "dimensions", web),
                  "alarmActions", out)
    assert stack_violations("autoscaling-alarm-scales-own-group", [web, out, high]) == []


def test_unknown_names_still_catch_alarm_acting_on_another_group() -> None:
    web, batch = asg(UNKNOWN), asg(UNKNOWN)
    batch.urn = batch.urn + "-batch"
    out = depend(scaling_policy("batch-out", UNKNOWN), "autoscalingGroupName", batch)
    high = depend(depend(alarm("web-high", UNKNOWN, [UNKNOWN]), "dimensions", web),
                  "alarmActions", out)
    found = stack_violations("autoscaling-alarm-scales-own-group", [web, batch, out, high])
    assert [urn for _, urn in found] == [high.urn]


def test_unknown_alarm_dimension_without_dependencies_is_reported_not_passed() -> None:
    high = alarm("web-high", UNKNOWN, ["arn:x"])
    found = stack_violations("autoscaling-alarm-scales-own-group", [asg(), high])
    assert found == [("cannot verify during preview: dimensions.AutoScalingGroupName is unknown",
                      high.urn)]
