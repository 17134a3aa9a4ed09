"""Capacity features under mocks: each one, enabled through stack config, registers what AWS needs,
wired to the right group, load balancer and topic; none of it exists unless a stack asks."""

from __future__ import annotations

from typing import Any

from plan.cli import policy_markdown
from tests.mocks import Registration, run_program

POLICY = "aws:autoscaling/policy:Policy"
GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
NEW_GROUP_INPUTS = {"mixedInstancesPolicy", "capacityRebalance", "warmPool",
                    "terminationPolicies", "maxInstanceLifetime", "protectFromScaleIn"}


def plan(stack: str = "production", **overrides: Any) -> list[Registration]:
    return run_program(stack, config_overrides=overrides).registrations


def one(regs: list[Registration], type_: str, suffix: str = "") -> Registration:
    found = [r for r in regs if r.type == type_ and r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_production_group_has_no_capacity_option_set() -> None:
    regs = plan()
    assert NEW_GROUP_INPUTS & set(one(regs, GROUP).inputs) == set()
    assert [r.name for r in regs if r.type in (TOPIC, "aws:autoscaling/schedule:Schedule")] == []
    assert {r.inputs["policyType"] for r in regs if r.type == POLICY} == {"SimpleScaling"}


def test_request_count_policy_labels_the_stacks_own_load_balancer_and_target_group() -> None:
    regs = plan(**{"webtier:scaling.requestCountTarget": 800})
    lb = one(regs, "aws:lb/loadBalancer:LoadBalancer")
    tg = one(regs, "aws:lb/targetGroup:TargetGroup")
    config = one(regs, POLICY, "-requests-target").inputs["targetTrackingConfiguration"]
    metric = config["predefinedMetricSpecification"]
    assert metric["predefinedMetricType"] == "ALBRequestCountPerTarget"
    assert metric["resourceLabel"] == f"{lb.outputs['arnSuffix']}/{tg.outputs['arnSuffix']}"
    assert config["targetValue"] == 800


def test_cpu_policy_stays_beside_request_count_tracking() -> None:
    regs = plan(**{"webtier:scaling.requestCountTarget": 800})
    assert one(regs, POLICY, "-scale-out").inputs["scalingAdjustment"] == 3
    assert len([r for r in regs if r.type == ALARM and "-scaling-" in r.name]) == 2


def test_predictive_policy_only_forecasts_by_default() -> None:
    regs = plan(**{"webtier:scaling.predictive": {"target": 40}})
    config = one(regs, POLICY, "-predictive").inputs["predictiveScalingConfiguration"]
    assert config["mode"] == "ForecastOnly"
    pair = config["metricSpecification"]["predefinedMetricPairSpecification"]
    assert pair["predefinedMetricType"] == "ASGCPUUtilization"
    assert config["metricSpecification"]["targetValue"] == 40


def test_predictive_on_requests_labels_the_target_group() -> None:
    regs = plan(**{"webtier:scaling.predictive": {"metric": "requests",
                                                  "mode": "ForecastAndScale"}})
    config = one(regs, POLICY, "-predictive").inputs["predictiveScalingConfiguration"]
    pair = config["metricSpecification"]["predefinedMetricPairSpecification"]
    tg = one(regs, "aws:lb/targetGroup:TargetGroup")
    assert pair["resourceLabel"].endswith(f"/{tg.outputs['arnSuffix']}")
    assert config["mode"] == "ForecastAndScale"


def test_each_schedule_entry_is_a_scheduled_action_leaving_unset_sizes_alone() -> None:
    regs = plan(**{"webtier:scaling.schedules": [
        {"name": "peak", "cron": "0 8 * * MON-FRI", "timeZone": "Asia/Tokyo", "minSize": 6,
         "desiredCapacity": 6},
        {"name": "night", "cron": "0 20 * * *", "timeZone": "Asia/Tokyo", "maxSize": 4}]})
    group = one(regs, GROUP).outputs["name"]
    peak = one(regs, "aws:autoscaling/schedule:Schedule", "-peak").inputs
    assert (peak["recurrence"], peak["timeZone"], peak["minSize"], peak["maxSize"],
            peak["desiredCapacity"], peak["autoscalingGroupName"]) == \
        ("0 8 * * MON-FRI", "Asia/Tokyo", 6, -1, 6, group)
    night = one(regs, "aws:autoscaling/schedule:Schedule", "-night").inputs
    assert (night["minSize"], night["maxSize"], night["desiredCapacity"]) == (-1, 4, -1)


def test_mixed_instances_replace_the_groups_launch_template_with_the_same_version() -> None:
    regs = plan(**{"webtier:capacity.mixedInstances": {
        "instanceTypes": ["t3.medium", "t3a.medium"], "onDemandBaseCapacity": 2,
        "onDemandPercentageAboveBase": 25, "capacityRebalance": True}})
    group, template = one(regs, GROUP).inputs, one(regs, TEMPLATE)
    assert "launchTemplate" not in group
    policy = group["mixedInstancesPolicy"]
    spec = policy["launchTemplate"]["launchTemplateSpecification"]
    assert (spec["launchTemplateId"], spec["version"]) == \
        (f"{template.name}-id", str(int(template.outputs["latestVersion"])))
    assert [o["instanceType"] for o in policy["launchTemplate"]["overrides"]] == \
        ["t3.medium", "t3a.medium"]
    assert policy["instancesDistribution"] == {
        "onDemandBaseCapacity": 2, "onDemandPercentageAboveBaseCapacity": 25,
        "spotAllocationStrategy": "price-capacity-optimized"}
    assert group["capacityRebalance"] is True


def test_attribute_based_mixed_instances_ask_for_vcpu_and_memory_ranges() -> None:
    regs = plan(**{"webtier:capacity.mixedInstances": {"instanceRequirements": {
        "vcpu": {"min": 2, "max": 4}, "memoryMiB": {"min": 4096}}}})
    override = one(regs, GROUP).inputs["mixedInstancesPolicy"]["launchTemplate"]["overrides"][0]
    assert override["instanceRequirements"] == {"vcpuCount": {"min": 2, "max": 4},
                                                "memoryMib": {"min": 4096}}


def test_warm_pool_is_on_the_group_and_hibernation_on_the_template() -> None:
    regs = plan(**{"webtier:capacity.warmPool": {"poolState": "Hibernated", "minSize": 2,
                                                 "maxGroupPreparedCapacity": 8,
                                                 "reuseOnScaleIn": True}})
    assert one(regs, GROUP).inputs["warmPool"] == {
        "poolState": "Hibernated", "minSize": 2, "maxGroupPreparedCapacity": 8,
        "instanceReusePolicy": {"reuseOnScaleIn": True}}
    assert one(regs, TEMPLATE).inputs["hibernationOptions"] == {"configured": True}


def test_stopped_warm_pool_leaves_the_template_alone() -> None:
    regs = plan(**{"webtier:capacity.warmPool": {"poolState": "Stopped"}})
    assert "hibernationOptions" not in one(regs, TEMPLATE).inputs


def test_group_options_reach_the_group() -> None:
    regs = plan(**{"webtier:capacity.terminationPolicies": ["OldestLaunchTemplate", "Default"],
                   "webtier:capacity.maxInstanceLifetime": 604800,
                   "webtier:capacity.protectFromScaleIn": True})
    group = one(regs, GROUP).inputs
    assert (group["terminationPolicies"], group["maxInstanceLifetime"],
            group["protectFromScaleIn"]) == (["OldestLaunchTemplate", "Default"], 604800, True)


def test_spot_without_capacity_rebalance_is_an_advisory_finding_in_production() -> None:
    text, status = policy_markdown("production", config_overrides={
        "webtier:capacity.mixedInstances": {"instanceTypes": ["t3.medium"],
                                            "onDemandPercentageAboveBase": 0,
                                            "capacityRebalance": False}})
    assert status == 0, text
    assert "| advisory | `autoscaling-spot-capacity-rebalance` |" in text
