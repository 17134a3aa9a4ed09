"""The fleet under mocks: launch template (default) and launch configuration, the group, its
security group and instance role. One invariant per test; both launch kinds where it applies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from contracts.names import fleet_group_prefix
from tests.mocks import PLACEHOLDER_KV_SECRET, PLACEHOLDER_SECRETS, Registration, run_program

KINDS = ("template", "configuration")
LT = "aws:ec2/launchTemplate:LaunchTemplate"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"
GROUP = "aws:autoscaling/group:Group"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def plan(stack: str = "staging", kind: str = "template", **overrides: Any) -> list[Registration]:
    config = {"webtier:fleet.launchKind": kind, **overrides}
    return run_program(stack, config_overrides=config).registrations


def one(regs: list[Registration], token: str) -> Registration:
    found = [r for r in regs if r.type == token]
    assert len(found) == 1, f"expected one {token}, got {[r.name for r in found]}"
    return found[0]


def launch(regs: list[Registration], kind: str) -> Registration:
    return one(regs, LT if kind == "template" else LC)


@pytest.mark.parametrize("kind", KINDS)
def test_launch_requires_imdsv2_with_hop_limit_one(kind: str) -> None:
    meta = launch(plan(kind=kind), kind).inputs["metadataOptions"]
    assert meta["httpTokens"] == "required"
    assert meta["httpPutResponseHopLimit"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_launch_root_volume_is_encrypted(kind: str) -> None:
    r = launch(plan(kind=kind), kind)
    if kind == "template":
        ebs = r.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true"
    else:
        assert r.inputs["rootBlockDevice"]["encrypted"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_launch_gives_no_public_ip(kind: str) -> None:
    r = launch(plan(kind=kind), kind)
    if kind == "template":
        assert r.inputs["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    else:
        assert r.inputs["associatePublicIpAddress"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_launch_has_a_name_prefix_and_no_fixed_name(kind: str) -> None:
    r = launch(plan(kind=kind), kind)
    assert r.inputs["namePrefix"].startswith("webapp-staging-fleet-")
    assert "name" not in r.inputs


@pytest.mark.parametrize("kind", KINDS)
def test_launch_uses_the_stack_instance_type(kind: str) -> None:
    r = launch(plan(kind=kind, **{"webtier:fleet.instanceType": "c7g.large"}), kind)
    assert r.inputs["instanceType"] == "c7g.large"


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_is_delete_before_replace(kind: str) -> None:
    offenders = [r.urn for r in plan(kind=kind) if r.options["deleteBeforeReplace"]]
    assert offenders == []


@pytest.mark.parametrize("kind", KINDS)
def test_group_ignores_desired_capacity_after_creation(kind: str) -> None:
    ignored = one(plan(kind=kind), GROUP).options["ignoreChanges"]
    assert ignored[:2] == ["desiredCapacity", "initialLifecycleHooks"]
    # The rollout's refresh moves the launch settings in template mode; a new launch
    # configuration reaches the group through the provider.
    assert ("launchTemplate" in ignored) is (kind == "template")
    assert "launchConfiguration" not in ignored


def test_schedules_own_the_group_size_once_they_exist() -> None:
    # `pulumi up --refresh` reads what a scheduled action set; the program must not reset it.
    assert "minSize" not in one(plan(), GROUP).options["ignoreChanges"]
    scheduled = plan(**{"webtier:scaling.schedules": [
        {"name": "night", "cron": "0 22 * * *", "minSize": 1, "maxSize": 4}]})
    assert {"minSize", "maxSize"} <= set(one(scheduled, GROUP).options["ignoreChanges"])


def test_group_follows_the_launch_template_by_explicit_version() -> None:
    regs = plan(kind="template")
    spec = one(regs, GROUP).inputs["launchTemplate"]
    assert spec["id"] == launch(regs, "template").outputs["id"]
    assert spec["version"] == "1"
    assert spec["version"] not in ("$Latest", "$Default")


def test_group_moves_to_the_launch_configuration_by_name() -> None:
    regs = plan(kind="configuration")
    assert one(regs, GROUP).inputs["launchConfiguration"] == launch(regs, "configuration") \
        .outputs["name"]
    assert "launchTemplate" not in one(regs, GROUP).inputs


def test_template_group_rolls_instances_with_the_gates_instance_refresh() -> None:
    regs = plan(kind="template")
    assert "instanceRefresh" not in one(regs, GROUP).inputs
    prefs = one(regs, "pulumi-python:dynamic/webtier:RolloutStart").inputs["preferences"]
    # The gate names the desired configuration, so AWS's own rollback returns to the previous
    # version (the provider's #34189 does not apply: it no longer moves the version).
    assert prefs["AutoRollback"] is True
    assert prefs["SkipMatching"] is True
    assert prefs["MinHealthyPercentage"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_group_uses_elb_health_checks_with_grace(kind: str) -> None:
    g = one(plan(kind=kind), GROUP).inputs
    assert g["healthCheckType"] == "ELB"
    assert g["healthCheckGracePeriod"] == 300
    # Only creation waits for a count of healthy targets; an update must not wait for exactly
    # minSize (it fails when minSize changes while the group is scaled out).
    assert g["minElbCapacity"] == g["minSize"]
    assert "waitForElbCapacity" not in g
    # A new instance may hold the launch hook for its whole heartbeat, then pass its grace.
    assert g["waitForCapacityTimeout"] == f"{600 + 300 + 300}s"


@pytest.mark.parametrize("kind", KINDS)
def test_group_registers_in_the_load_balancer_target_group(kind: str) -> None:
    regs = plan(kind=kind)
    tg = one(regs, "aws:lb/targetGroup:TargetGroup")
    assert one(regs, GROUP).inputs["targetGroupArns"] == [tg.outputs["arn"]]


def test_production_group_spans_two_azs_with_original_sizes() -> None:
    g = one(plan("production"), GROUP).inputs
    assert len(g["vpcZoneIdentifiers"]) == 2
    assert (g["minSize"], g["maxSize"], g["desiredCapacity"]) == (2, 20, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_group_has_a_name_prefix_and_no_fixed_name(kind: str) -> None:
    g = one(plan(kind=kind), GROUP).inputs
    assert "name" not in g
    # The contract `python -m deploy` finds the group by (deploy/fleet_group.py).
    assert g["namePrefix"] == fleet_group_prefix("webapp", "staging") == "webapp-staging-fleet-"


def test_group_tags_propagate_name_environment_and_consul_join_tag() -> None:
    tags = {t["key"]: t for t in one(plan(), GROUP).inputs["tags"]}
    for key, value in (("Name", "webapp-staging-fleet"), ("environment", "staging"),
                       ("consul-cluster", "staging")):
        assert tags[key]["value"] == value
        assert tags[key]["propagateAtLaunch"] is True


def test_children_are_parented_to_their_component() -> None:
    regs = plan()
    components = {r.urn: r for r in regs if not r.custom and r.type != "pulumi:pulumi:Stack"}
    orphans = [r.name for r in regs if r.custom and r.parent not in components]
    assert orphans == []


def test_fleet_ingress_is_app_port_from_lb_and_consul_from_cluster_only() -> None:
    regs = plan()
    lb_sg = next(r for r in regs if r.name == "webapp-staging-lb-sg")
    rules = [r.inputs for r in regs
             if r.type == INGRESS and r.name.startswith("webapp-staging-fleet")]
    seen = sorted((r["fromPort"], r["ipProtocol"]) for r in rules)
    assert seen == [(8080, "tcp"), (8300, "tcp"), (8301, "tcp"), (8301, "udp")]
    app = next(r for r in rules if r["fromPort"] == 8080)
    assert app["referencedSecurityGroupId"] == lb_sg.outputs["id"]
    consul = [r for r in rules if r["fromPort"] != 8080]
    assert all(r["referencedSecurityGroupId"] == "sg-0a1b2c3d4e5f60731" for r in consul)
    assert not any("cidrIpv4" in r or "cidrIpv6" in r for r in rules)


def test_consul_ports_open_to_the_cluster_cidr_when_no_group_is_given() -> None:
    regs = plan(**{"webtier:consul.clusterSecurityGroupId": None,
                   "webtier:consul.clusterCidr": "10.20.0.0/16"})
    consul = [r.inputs for r in regs if r.type == INGRESS and "-consul-" in r.name]
    assert {r["cidrIpv4"] for r in consul} == {"10.20.0.0/16"}


def _user_data(regs: list[Registration], kind: str) -> str:
    r = launch(regs, kind)
    text = r.inputs["userData"]
    return base64.b64decode(text).decode() if kind == "template" else text


@pytest.mark.parametrize("kind", KINDS)
def test_user_data_carries_no_secret_value(kind: str) -> None:
    text = _user_data(plan(kind=kind), kind)
    for placeholder in (*PLACEHOLDER_SECRETS.values(), PLACEHOLDER_KV_SECRET):
        assert placeholder not in text


@pytest.mark.parametrize("kind", KINDS)
def test_user_data_fetches_secrets_from_the_stack_ssm_prefix(kind: str) -> None:
    text = _user_data(plan(kind=kind), kind)
    assert "--with-decryption" in text
    assert "SSM_PREFIX=/webapp/staging" in text
    assert "provider=aws tag_key=consul-cluster tag_value=staging" in text
    assert text.index("enable --now consul-template") < text.index("bin/release-pull\n") < \
        text.index("enable --now app.service")


def test_ssm_parameters_are_secure_strings_holding_secret_values() -> None:
    params = [r for r in plan() if r.type == "aws:ssm/parameter:Parameter"
              and not r.name.endswith("-ca-cert")]
    assert len(params) == 3
    for p in params:
        assert p.inputs["type"] == "SecureString"
        assert repr(p.inputs["value"]) == "[secret]", p.urn
        assert p.inputs["name"].startswith("/webapp/staging/")


def test_instance_role_policy_has_no_wildcard_action() -> None:
    policy = one(plan(), "aws:iam/rolePolicy:RolePolicy")
    doc = json.loads(policy.inputs["policy"])
    for statement in doc["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        assert not any("*" in a for a in actions), statement
        if statement["Resource"] == "*":
            assert actions == ["ec2:DescribeInstances"], statement


def test_instance_role_reads_only_its_release_prefix_and_stack_parameters() -> None:
    doc = json.loads(one(plan(), "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    resources = {s["Sid"]: s["Resource"] for s in doc["Statement"]}
    assert resources["ReadReleases"] == \
        "arn:aws:s3:::webapp-staging-releases-123456789012/releases/webapp/*"
    assert resources["ReadStackParameters"] == \
        "arn:aws:ssm:ap-northeast-1:123456789012:parameter/webapp/staging/*"


@pytest.mark.parametrize("kind", KINDS)
def test_group_waits_for_boot_secrets_and_kv(kind: str) -> None:
    regs = plan(kind=kind)
    needed = {r.urn for r in regs if r.type in ("aws:ssm/parameter:Parameter",
                                                "pulumi-python:dynamic/consul:KvEntries")}
    assert len(needed) == 5  # gossip, agent, template, CA certificate, KV
    assert needed <= set(one(regs, GROUP).options["dependsOn"])
