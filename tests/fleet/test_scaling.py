"""Scaling under mocks: each CPU alarm acts on its own policy of the same group, with the stack's
thresholds; target tracking and step scaling are selectable."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from components.fleet.alarm_specs import cpu_alarms, step_adjustments
from components.settings import ScalingSettings
from tests.mocks import Registration, run_program

POLICY = "aws:autoscaling/policy:Policy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
GROUP = "aws:autoscaling/group:Group"


def plan(stack: str = "production", **overrides: Any) -> list[Registration]:
    return run_program(stack, config_overrides=overrides).registrations


def scaling_alarms(regs: list[Registration]) -> list[Registration]:
    """The scaling component's alarms (the health alarms watch the load balancer instead)."""
    return [r for r in regs if r.type == ALARM and "-scaling-" in r.name]


def named(regs: list[Registration], suffix: str) -> Registration:
    return next(r for r in regs if r.name.endswith(suffix))


def test_scale_out_alarm_acts_on_scale_out_policy() -> None:
    regs = plan()
    alarm, policy = named(regs, "-cpu-high"), named(regs, "-scale-out")
    assert alarm.inputs["alarmActions"] == [policy.outputs["arn"]]


def test_scale_in_alarm_acts_on_scale_in_policy() -> None:
    regs = plan()
    alarm, policy = named(regs, "-cpu-low"), named(regs, "-scale-in")
    assert alarm.inputs["alarmActions"] == [policy.outputs["arn"]]


def test_alarms_watch_average_cpu_of_the_group() -> None:
    regs = plan()
    group_name = next(r for r in regs if r.type == GROUP).outputs["name"]
    for alarm in scaling_alarms(regs):
        i = alarm.inputs
        assert (i["metricName"], i["namespace"], i["statistic"]) == \
            ("CPUUtilization", "AWS/EC2", "Average"), alarm.urn
        assert i["dimensions"] == {"AutoScalingGroupName": group_name}, alarm.urn


def test_policies_belong_to_the_group() -> None:
    regs = plan()
    group_name = next(r for r in regs if r.type == GROUP).outputs["name"]
    assert {r.inputs["autoscalingGroupName"] for r in regs if r.type == POLICY} == {group_name}


def test_production_uses_the_original_thresholds_and_adjustments() -> None:
    regs = plan()
    high, low = named(regs, "-cpu-high").inputs, named(regs, "-cpu-low").inputs
    assert (high["comparisonOperator"], high["threshold"], high["period"],
            high["evaluationPeriods"]) == ("GreaterThanOrEqualToThreshold", 50, 300, 1)
    assert (low["comparisonOperator"], low["threshold"], low["period"]) == \
        ("LessThanThreshold", 20, 300)
    out, in_ = named(regs, "-scale-out").inputs, named(regs, "-scale-in").inputs
    assert (out["policyType"], out["adjustmentType"], out["scalingAdjustment"], out["cooldown"]) \
        == ("SimpleScaling", "ChangeInCapacity", 3, 300)
    assert (in_["scalingAdjustment"], in_["cooldown"]) == (-1, 300)


def test_every_scaling_value_is_settable_per_stack() -> None:
    regs = plan("staging", **{"webtier:scaling.scaleOutThreshold": 70,
                              "webtier:scaling.scaleInThreshold": 30,
                              "webtier:scaling.period": 60,
                              "webtier:scaling.evaluationPeriods": 3,
                              "webtier:scaling.cooldown": 120,
                              "webtier:scaling.scaleOutAdjustment": 2})
    high = named(regs, "-cpu-high").inputs
    assert (high["threshold"], high["period"], high["evaluationPeriods"]) == (70, 60, 3)
    assert named(regs, "-cpu-low").inputs["threshold"] == 30
    out = named(regs, "-scale-out").inputs
    assert (out["scalingAdjustment"], out["cooldown"]) == (2, 120)


def test_target_tracking_is_one_policy_on_average_cpu_and_no_alarms() -> None:
    regs = plan(**{"webtier:scaling.mode": "target-tracking", "webtier:scaling.targetCpu": 45})
    policies = [r for r in regs if r.type == POLICY]
    assert len(policies) == 1
    config = policies[0].inputs["targetTrackingConfiguration"]
    assert config["predefinedMetricSpecification"]["predefinedMetricType"] == \
        "ASGAverageCPUUtilization"
    assert config["targetValue"] == 45
    assert scaling_alarms(regs) == []


def test_step_scaling_alarms_act_on_step_policies() -> None:
    regs = plan(**{"webtier:scaling.mode": "step"})
    out = named(regs, "-scale-out")
    assert out.inputs["policyType"] == "StepScaling"
    assert [s["scalingAdjustment"] for s in out.inputs["stepAdjustments"]] == [3, 6]
    assert named(regs, "-cpu-high").inputs["alarmActions"] == [out.outputs["arn"]]


def _settings(**kw: Any) -> ScalingSettings:
    base: dict[str, Any] = dict(mode="simple", period=300, evaluation_periods=1,
                                scale_out_threshold=50, scale_in_threshold=20,
                                scale_out_adjustment=3, scale_in_adjustment=-1, cooldown=300,
                                target_cpu=50)
    return ScalingSettings(**{**base, **kw})


def test_alarm_pair_compares_high_inclusive_low_exclusive() -> None:
    high, low = cpu_alarms(_settings())
    assert (high.comparison, high.threshold) == ("GreaterThanOrEqualToThreshold", 50)
    assert (low.comparison, low.threshold) == ("LessThanThreshold", 20)


# Step bounds are relative to the alarm threshold. Together the steps must cover the whole side
# of the threshold the alarm fires on, from the threshold outwards, with no gap and no overlap:
# AWS refuses overlaps, and a gap is a breach the policy does nothing about. (The old pairwise
# check compared no pair for scale-in, which has one step, so it could never fail.)


def test_scale_out_steps_run_from_the_threshold_upwards_without_gaps() -> None:
    steps = step_adjustments(_settings(), "out")
    assert steps[0].lower == 0
    assert steps[-1].upper is None
    for a, b in pairwise(steps):
        assert a.upper == b.lower


def test_scale_in_steps_run_from_the_threshold_downwards_without_gaps() -> None:
    steps = step_adjustments(_settings(), "in")
    assert steps[-1].upper == 0
    assert steps[0].lower is None
    for a, b in pairwise(steps):
        assert a.upper == b.lower


@pytest.mark.parametrize("direction", ["out", "in"])
def test_steps_move_in_the_direction_of_the_alarm(direction: str) -> None:
    steps = step_adjustments(_settings(), direction)  # type: ignore[arg-type]
    sign = 1 if direction == "out" else -1
    assert all(s.adjustment * sign > 0 for s in steps)
    assert steps[0].adjustment == (3 if direction == "out" else -1)
