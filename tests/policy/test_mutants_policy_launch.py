"""The launch-hardening rules of policy/rules/launch.py, called directly (mutation survivors).

Each rule is a function of a resource's type and inputs; these cover both launch kinds, the
exemptions (IMDS off, suppressed or instance-store devices) and the message the operator reads.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy.rules import (
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    encrypted_volumes,
    imdsv2_required,
    metadata_hop_limit,
    no_public_ip,
)

LAUNCH_KINDS = [LAUNCH_CONFIGURATION, LAUNCH_TEMPLATE]
OTHER = "aws:s3/bucket:Bucket"


@pytest.mark.parametrize("kind", LAUNCH_KINDS)
def test_imdsv2_required_accepts_required_tokens_or_imds_off(kind: str) -> None:
    assert imdsv2_required(kind, {"metadataOptions": {"httpTokens": "required"}}) == []
    assert imdsv2_required(kind, {"metadataOptions": {"httpEndpoint": "disabled"}}) == []
    assert imdsv2_required(kind, {"metadataOptions": {"httpTokens": "optional"}}) == \
        ["metadataOptions.httpTokens is 'optional': IMDSv2 needs \"required\""]
    assert imdsv2_required(kind, {}) == \
        ['metadataOptions is not set, so instances accept IMDSv1: set metadataOptions.httpTokens '
         'to "required"']


@pytest.mark.parametrize("kind", LAUNCH_KINDS)
def test_hop_limit_must_be_exactly_one_unless_imds_is_off(kind: str) -> None:
    def check(**options: Any) -> list[str]:
        return metadata_hop_limit(kind, {"metadataOptions": options})

    assert check(httpPutResponseHopLimit=1) == []
    assert check(httpEndpoint="disabled", httpPutResponseHopLimit=3) == []
    for limit in (0, 2):
        assert check(httpPutResponseHopLimit=limit) == [
            f"metadataOptions.httpPutResponseHopLimit is {limit}: set it to 1 so the metadata "
            "service answers only the instance itself"]
    missing = ["metadataOptions.httpPutResponseHopLimit is not set, so the AMI's default applies "
               "(2 for AMIs registered for IMDSv2): set it to 1"]
    assert check() == missing
    assert metadata_hop_limit(kind, {}) == missing


def test_rules_for_launches_ignore_other_resources() -> None:
    props: dict[str, Any] = {"associatePublicIpAddress": True}
    for rule in (imdsv2_required, metadata_hop_limit, encrypted_volumes, no_public_ip):
        assert rule(OTHER, props) == [], rule.__name__


def test_launch_configuration_volumes_must_all_be_encrypted() -> None:
    ok = {"rootBlockDevice": {"encrypted": True},
          "ebsBlockDevices": [{"deviceName": "/dev/sdb", "encrypted": True},
                              {"deviceName": "/dev/sdc", "noDevice": True}]}
    assert encrypted_volumes(LAUNCH_CONFIGURATION, ok) == []
    bad = {"rootBlockDevice": {"encrypted": False},
           "ebsBlockDevices": [{"noDevice": True}, {"deviceName": "/dev/sdd"}, {}]}
    assert encrypted_volumes(LAUNCH_CONFIGURATION, bad) == [
        "rootBlockDevice.encrypted is False: set it to true",
        "ebsBlockDevices[1] (/dev/sdd).encrypted is None: set it to true",
        "ebsBlockDevices[2] (#2).encrypted is None: set it to true",
    ]
    assert encrypted_volumes(LAUNCH_CONFIGURATION, {}) == [
        "rootBlockDevice is not set, so the root volume takes its encryption from the AMI "
        "snapshot, which the program cannot show: declare rootBlockDevice with encrypted true"]


def test_launch_template_ebs_mappings_must_be_encrypted_and_one_must_exist() -> None:
    ok = {"blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}},
        {"deviceName": "/dev/sdb", "noDevice": "", "virtualName": "ephemeral0"},
        {"deviceName": "/dev/sdc", "ebs": None}]}
    assert encrypted_volumes(LAUNCH_TEMPLATE, ok) == []
    bad = {"blockDeviceMappings": [
        {"deviceName": "/dev/sdx", "noDevice": "true", "ebs": {"encrypted": "false"}},
        {"virtualName": "ephemeral1", "ebs": {"encrypted": "false"}},
        {"ebs": {"encrypted": "false"}},
        {"deviceName": "/dev/xvda", "ebs": {}}]}
    assert encrypted_volumes(LAUNCH_TEMPLATE, bad) == [
        "blockDeviceMappings[2] (#2).ebs.encrypted is 'false': set it to \"true\"",
        "blockDeviceMappings[3] (/dev/xvda).ebs.encrypted is None: set it to \"true\"",
    ]
    none = ["blockDeviceMappings declares no EBS volume, so the root volume takes its encryption "
            "from the AMI snapshot, which the program cannot show: declare the root device with "
            "ebs.encrypted \"true\""]
    assert encrypted_volumes(LAUNCH_TEMPLATE, {}) == none
    assert encrypted_volumes(LAUNCH_TEMPLATE, {"blockDeviceMappings": [
        {"virtualName": "ephemeral0", "ebs": {"encrypted": "true"}}]}) == none


def test_no_public_ip_on_either_launch_kind() -> None:
    assert no_public_ip(LAUNCH_CONFIGURATION, {"associatePublicIpAddress": False}) == []
    assert no_public_ip(LAUNCH_CONFIGURATION, {"associatePublicIpAddress": True}) == [
        "associatePublicIpAddress is true: instances would be reachable from the internet; set "
        "it to false and reach them through the load balancer"]
    interfaces = {"networkInterfaces": [{"associatePublicIpAddress": "false"},
                                        {"associatePublicIpAddress": "true"}]}
    assert no_public_ip(LAUNCH_TEMPLATE, interfaces) == [
        "networkInterfaces[1].associatePublicIpAddress is \"true\": set it to \"false\"; "
        "instances are reached through the load balancer"]
    assert no_public_ip(LAUNCH_TEMPLATE, {}) == []


@pytest.mark.parametrize("kind", LAUNCH_KINDS)
def test_empty_metadata_options_count_as_not_set(kind: str) -> None:
    assert imdsv2_required(kind, {"metadataOptions": {}}) == \
        ['metadataOptions is not set, so instances accept IMDSv1: set metadataOptions.httpTokens '
         'to "required"']


def test_hop_limit_message_shows_a_fraction_as_given_and_a_whole_number_without_point() -> None:
    def message(limit: object) -> list[str]:
        return metadata_hop_limit(LAUNCH_TEMPLATE, {"metadataOptions": {
            "httpPutResponseHopLimit": limit}})

    for limit, shown in ((1.5, "1.5"), (2.0, "2"), (3, "3")):
        assert message(limit) == [
            f"metadataOptions.httpPutResponseHopLimit is {shown}: set it to 1 so the metadata "
            "service answers only the instance itself"]


def test_volume_messages_show_the_encrypted_value_given_and_read_past_non_ebs_mappings() -> None:
    assert encrypted_volumes(LAUNCH_CONFIGURATION, {
        "rootBlockDevice": {"encrypted": True},
        "ebsBlockDevices": [{"deviceName": "/dev/sdb", "encrypted": False}]}) == [
        "ebsBlockDevices[0] (/dev/sdb).encrypted is False: set it to true"]
    assert encrypted_volumes(LAUNCH_TEMPLATE, {"blockDeviceMappings": [
        {"deviceName": "/dev/sdc", "ebs": None},
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]}) == [
        "blockDeviceMappings[1] (/dev/xvda).ebs.encrypted is 'false': set it to \"true\""]
