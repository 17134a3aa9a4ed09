"""Every launch-hardening and network policy of the pack against a passing and a failing fixture,
through the SDK's ``validate`` with the argument objects pulumi_policy's analyzer builds
(policy/offline.py), including values the engine does not know during a preview."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

from policy import rules
from policy.pack import POLICIES
from tests.policy.pack_cases import (
    CONFIGURATION,
    GROUP,
    LAUNCHES,
    LC,
    LT,
    SCRIPT,
    TEMPLATE,
    b64,
    changed,
    violations,
)


def test_every_policy_is_tested_here() -> None:
    tested = {
        "autoscaling-launchconfig-requires-imdsv2", "autoscaling-launch-config-hop-limit",
        "autoscaling-enable-at-rest-encryption", "autoscaling-launch-config-public-ip-disabled",
        "restricted-common-ports", "autoscaling-no-secrets-in-user-data",
        "iam-no-policy-wildcards", "autoscaling-launch-template-version-pinned",
        "autoscaling-group-elb-healthcheck-required", "autoscaling-multiple-az",
        "autoscaling-launch-tags-propagated", "autoscaling-alarm-scales-own-group",
        "consul-agent-tls",  # fixtures in tests/policy/test_policy_consul_tls.py
        "autoscaling-spot-capacity-rebalance",  # tests/policy/test_policy_spot.py
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
