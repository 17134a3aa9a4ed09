"""The IAM, launch-template-version and stack-wide policies of the pack against passing and failing
fixtures, through the SDK's ``validate`` (policy/offline.py)."""

from __future__ import annotations

import json
from typing import Any

import pulumi.runtime
import pytest
from pulumi_policy import PolicyResource

from policy import rules
from policy.offline import (
    UNKNOWN,
    depend,
    policy_resource,
)
from tests.policy.pack_cases import (
    GROUP,
    INSTANCE_POLICY,
    LT,
    TEMPLATE,
    changed,
    stack_violations,
    violations,
)

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
