"""The alarm and scaling-policy specs, both directions (the survivors of scripts/mutation).

Only scale-out used to be asserted; these pin what each alarm watches and what each policy does,
as plain data from components/fleet/alarm_specs.py and components/fleet/health_alarm_specs.py.
"""

from __future__ import annotations

from dataclasses import replace

from components.fleet.alarm_specs import (
    AlarmSpec,
    StepSpec,
    cpu_alarms,
    simple_policies,
    step_adjustments,
)
from components.fleet.health_alarm_specs import HealthAlarmSpec, MetricTerm, health_alarms
from components.settings.reader import ConfigObject, Problems
from components.settings.rollout import parse_rollout
from components.settings.scaling import ScalingSettings, parse_scaling


def scaling(**raw: object) -> ScalingSettings:
    problems = Problems()
    settings = parse_scaling(ConfigObject("webtier:scaling", raw, problems))
    assert problems.items == []
    return settings


def test_scale_out_alarm_fires_at_or_above_the_high_threshold() -> None:
    out, _ = cpu_alarms(scaling(scaleOutThreshold=70, period=60, evaluationPeriods=4))
    assert (out.direction, out.comparison, out.threshold) == \
        ("out", "GreaterThanOrEqualToThreshold", 70)
    assert (out.period, out.evaluation_periods) == (60, 4)


def test_scale_in_alarm_fires_strictly_below_the_low_threshold() -> None:
    _, low = cpu_alarms(scaling(scaleInThreshold=15, period=120, evaluationPeriods=3))
    assert (low.direction, low.comparison, low.threshold) == ("in", "LessThanThreshold", 15)
    assert (low.period, low.evaluation_periods) == (120, 3)


def test_both_alarms_watch_the_average_ec2_cpu() -> None:
    for alarm in cpu_alarms(scaling()):
        assert (alarm.metric_name, alarm.namespace, alarm.statistic) == \
            ("CPUUtilization", "AWS/EC2", "Average")


def test_alarm_descriptions_say_which_way_and_when() -> None:
    out, low = cpu_alarms(scaling(scaleOutThreshold=62.5, scaleInThreshold=20, period=60,
                                  evaluationPeriods=2))
    assert out.description("web") == "Average CPU of web >= 62.5% for 2 x 60s: add instances"
    assert low.description("web") == "Average CPU of web < 20% for 2 x 60s: remove instances"


def test_description_operator_follows_the_comparison_not_the_direction() -> None:
    spec = AlarmSpec("in", "GreaterThanOrEqualToThreshold", 10, 60, 1)
    assert ">= 10%" in spec.description("g")
    assert "remove instances" in spec.description("g")
    assert "< 10%" in replace(spec, comparison="LessThanThreshold").description("g")


def test_simple_policies_add_and_remove_the_configured_steps_with_one_cooldown() -> None:
    out, low = simple_policies(scaling(scaleOutAdjustment=4, scaleInAdjustment=-2,
                                       cooldown=120))
    assert (out.direction, out.adjustment, out.cooldown) == ("out", 4, 120)
    assert (low.direction, low.adjustment, low.cooldown) == ("in", -2, 120)


def test_scale_out_steps_double_beyond_twenty_points_over_the_threshold() -> None:
    steps = step_adjustments(scaling(scaleOutAdjustment=3), "out")
    assert steps == (StepSpec(0, 20, 3), StepSpec(20, None, 6))


def test_scale_in_is_one_open_ended_step_below_the_threshold() -> None:
    steps = step_adjustments(scaling(scaleInAdjustment=-2), "in")
    assert steps == (StepSpec(None, 0, -2),)


def rollout(**raw: object) -> tuple[HealthAlarmSpec, ...]:
    problems = Problems()
    settings = parse_rollout(ConfigObject("webtier:rollout", raw, problems))
    assert problems.items == []
    return health_alarms(settings)


def test_unhealthy_hosts_alarm_fires_on_one_failing_target_per_minute() -> None:
    unhealthy, _ = rollout(alarmPeriods=4)
    assert unhealthy.key == "unhealthy-hosts"
    assert (unhealthy.threshold, unhealthy.evaluation_periods, unhealthy.statistic,
            unhealthy.period) == (1, 4, "Maximum", 60)
    # The id is the alarm's metric query id in CloudWatch (a lowercase first letter is required).
    assert unhealthy.terms == (
        MetricTerm("unhealthy", "UnHealthyHostCount", ("TargetGroup", "LoadBalancer")),)
    assert unhealthy.expression is None
    assert "4 minute(s)" in unhealthy.description


def test_error_rate_alarm_is_5xx_as_a_percentage_of_requests() -> None:
    _, rate = rollout(errorRatePercent=2.5, alarmPeriods=2)
    assert rate.key == "5xx-rate"
    assert (rate.threshold, rate.evaluation_periods, rate.statistic, rate.period) == \
        (2.5, 2, "Sum", 60)
    terms = {t.id: (t.metric_name, t.dimensions) for t in rate.terms}
    assert terms == {"elb5xx": ("HTTPCode_ELB_5XX_Count", ("LoadBalancer",)),
                     "target5xx": ("HTTPCode_Target_5XX_Count", ("LoadBalancer",)),
                     "requests": ("RequestCount", ("LoadBalancer",))}
    assert rate.expression == \
        "100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / MAX([FILL(requests, 0), 1])"
    assert rate.description.startswith("5xx responses above 2.5% of requests for 2 minute(s)")
