"""Every settings default and range, checked at its edges (the survivors of scripts/mutation).

The committed stack files set most values, so a changed default or an off-by-one range went
unnoticed: here each section parser reads an empty object (its defaults) and each bounded field
at its limits, one inside and one outside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.settings.fleet import parse_fleet
from components.settings.image import parse_image
from components.settings.load_balancer import parse_load_balancer
from components.settings.reader import ConfigObject, Problems
from components.settings.release import parse_release
from components.settings.rollout import parse_rollout
from components.settings.scaling import parse_scaling

Parser = Callable[[ConfigObject], Any]
BASE_IMAGE = {"baseSourceAmi": "ami-0123456789abcdef0"}
DEPLOYER = {"deployerRoleArns": ["arn:aws:iam::123456789012:role/deploy"]}


def read(parser: Parser, section: str, raw: dict[str, Any]) -> tuple[Any, list[str]]:
    problems = Problems()
    settings = parser(ConfigObject(f"webtier:{section}", raw, problems))
    return settings, problems.items


def image(obj: ConfigObject) -> Any:
    return parse_image(obj, "webtier")


def test_scaling_defaults_are_the_originals() -> None:
    s, problems = read(parse_scaling, "scaling", {})
    assert problems == []
    assert (s.mode, s.period, s.evaluation_periods) == ("simple", 300, 1)
    assert (s.scale_out_threshold, s.scale_in_threshold) == (50, 20)
    assert (s.scale_out_adjustment, s.scale_in_adjustment, s.cooldown) == (3, -1, 300)
    assert (s.target_cpu, s.request_count_target, s.predictive, s.schedules) == \
        (50, None, None, ())


def test_fleet_defaults() -> None:
    f, problems = read(parse_fleet, "fleet", {})
    assert problems == []
    assert (f.launch_kind, f.instance_type) == ("template", "t3.micro")
    assert (f.min_size, f.max_size, f.desired_capacity) == (2, 20, 2)
    assert (f.health_check_grace_period, f.app_port, f.instance_warmup) == (300, 8080, 300)
    assert (f.root_volume_size, f.root_volume_type) == (16, "gp3")


def test_fleet_desired_capacity_defaults_to_min_size() -> None:
    f, problems = read(parse_fleet, "fleet", {"minSize": 4, "maxSize": 9})
    assert (problems, f.desired_capacity) == ([], 4)


def test_load_balancer_defaults_to_plain_http_on_80_open_to_all() -> None:
    lb, problems = read(parse_load_balancer, "loadBalancer", {})
    assert problems == []
    assert (lb.internal, lb.listener_port, lb.certificate_arn) == (False, 80, None)
    assert (lb.ingress_cidrs, lb.health_check_path, lb.deregistration_delay) == \
        (("0.0.0.0/0",), "/health", 30)


def test_load_balancer_with_a_certificate_listens_on_443() -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    lb, problems = read(parse_load_balancer, "loadBalancer", {"certificateArn": arn})
    assert (problems, lb.listener_port, lb.certificate_arn) == ([], 443, arn)


def test_image_defaults() -> None:
    i, problems = read(image, "image", dict(BASE_IMAGE))
    assert problems == []
    assert (i.source, i.ami_id, i.builder_instance_type) == ("build", None, "t3.small")
    assert (i.name_prefix, i.keep_last) == ("webtier", 3)


def test_release_keeps_five_releases_by_default() -> None:
    r, problems = read(parse_release, "release", dict(DEPLOYER))
    assert (problems, r.keep_releases) == ([], 5)


def test_rollout_defaults() -> None:
    r, problems = read(parse_rollout, "rollout", {})
    assert problems == []
    assert (r.min_healthy_percentage, r.max_healthy_percentage) == (100, 200)
    assert (r.checkpoints, r.checkpoint_delay) == ((), 300)
    assert (r.skip_matching, r.alarm_rollback, r.wait, r.roll_back) == (True, True, True, True)
    assert (r.gate_timeout, r.poll_interval) == (3600, 15)
    assert (r.launch_heartbeat_timeout, r.terminate_heartbeat_timeout) == (600, 300)
    assert (r.error_rate_percent, r.alarm_periods) == (5, 3)


# (parser, section, field, lowest, highest, other fields that keep the rest valid)
RANGES: list[tuple[Parser, str, str, float, float, dict[str, Any]]] = [
    (parse_fleet, "fleet", "minSize", 0, 1000, {"maxSize": 1000, "desiredCapacity": 1000}),
    (parse_fleet, "fleet", "maxSize", 1, 1000, {"minSize": 0, "desiredCapacity": 0}),
    (parse_fleet, "fleet", "desiredCapacity", 0, 1000, {"minSize": 0, "maxSize": 1000}),
    (parse_fleet, "fleet", "healthCheckGracePeriod", 0, 7200, {}),
    (parse_fleet, "fleet", "appPort", 1024, 65535, {}),
    (parse_fleet, "fleet", "rootVolumeSize", 8, 16384, {}),
    (parse_fleet, "fleet", "instanceWarmup", 0, 3600, {}),
    (parse_scaling, "scaling", "evaluationPeriods", 1, 100, {"period": 60}),
    (parse_scaling, "scaling", "scaleOutThreshold", 0, 100, {"scaleInThreshold": 0}),
    # 100 is in range but always refused: it cannot be below scaleOutThreshold.
    (parse_scaling, "scaling", "scaleInThreshold", 0, 99, {"scaleOutThreshold": 100}),
    (parse_scaling, "scaling", "scaleOutAdjustment", 1, 100, {}),
    (parse_scaling, "scaling", "scaleInAdjustment", -100, -1, {}),
    (parse_scaling, "scaling", "cooldown", 0, 86400, {}),
    (parse_scaling, "scaling", "targetCpu", 1, 100, {}),
    (parse_scaling, "scaling", "requestCountTarget", 1, 1_000_000, {}),
    (parse_load_balancer, "loadBalancer", "listenerPort", 1, 65535, {}),
    (parse_load_balancer, "loadBalancer", "deregistrationDelay", 0, 3600, {}),
    (image, "image", "keepLast", 1, 50, BASE_IMAGE),
    (parse_release, "release", "keepReleases", 1, 100, DEPLOYER),
    (parse_rollout, "rollout", "checkpointDelay", 0, 172800, {}),
    (parse_rollout, "rollout", "gateTimeout", 60, 86400, {}),
    (parse_rollout, "rollout", "pollInterval", 1, 300, {}),
    (parse_rollout, "rollout", "launchHeartbeatTimeout", 30, 7200, {}),
    (parse_rollout, "rollout", "terminateHeartbeatTimeout", 30, 7200, {}),
    (parse_rollout, "rollout", "errorRatePercent", 0.1, 100, {}),
    (parse_rollout, "rollout", "alarmPeriods", 1, 60, {}),
]
IDS = [f"{section}.{name}" for _, section, name, *_ in RANGES]


@pytest.mark.parametrize(("parser", "section", "name", "lo", "hi", "others"), RANGES, ids=IDS)
def test_range_limits_are_accepted(parser: Parser, section: str, name: str, lo: float,
                                   hi: float, others: dict[str, Any]) -> None:
    for value in (lo, hi):
        _, problems = read(parser, section, {**others, name: value})
        assert not [p for p in problems if p.startswith(f"webtier:{section}.{name} = ")], \
            f"{section}.{name} = {value}: {problems}"


@pytest.mark.parametrize(("parser", "section", "name", "lo", "hi", "others"), RANGES, ids=IDS)
def test_just_outside_the_range_is_refused_by_key(parser: Parser, section: str, name: str,
                                                  lo: float, hi: float,
                                                  others: dict[str, Any]) -> None:
    step = 0.05 if isinstance(lo, float) else 1
    for value in (lo - step, hi + step):
        _, problems = read(parser, section, {**others, name: value})
        assert any(p.startswith(f"webtier:{section}.{name} = ") for p in problems), \
            f"{section}.{name} = {value} was accepted: {problems}"


def test_period_times_evaluations_may_be_exactly_one_day() -> None:
    _, problems = read(parse_scaling, "scaling", {"period": 3600, "evaluationPeriods": 24})
    assert problems == []
    _, problems = read(parse_scaling, "scaling", {"period": 3600, "evaluationPeriods": 25})
    assert [p.split(" = ")[0] for p in problems] == ["webtier:scaling.evaluationPeriods"]


# PutMetricAlarm: "Valid values are 10, 20, 30, and any multiple of 60" (high-resolution alarms
# below 60 s): https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
@pytest.mark.parametrize("period", [10, 20, 30, 60, 120, 86400])
def test_cloudwatch_periods_are_accepted(period: int) -> None:
    _, problems = read(parse_scaling, "scaling", {"period": period})
    assert problems == []


@pytest.mark.parametrize("period", [9, 15, 25, 40, 45, 90, 86401])
def test_other_periods_are_refused(period: int) -> None:
    _, problems = read(parse_scaling, "scaling", {"period": period})
    assert problems[:1] == [p for p in problems if p.startswith("webtier:scaling.period = ")]
    assert problems


def test_equal_thresholds_are_refused_because_the_alarms_would_fight() -> None:
    _, problems = read(parse_scaling, "scaling",
                       {"scaleOutThreshold": 40, "scaleInThreshold": 40})
    assert [p.split(" = ")[0] for p in problems] == ["webtier:scaling.scaleInThreshold"]
    _, problems = read(parse_scaling, "scaling",
                       {"scaleOutThreshold": 40, "scaleInThreshold": 39.5})
    assert problems == []


def test_desired_below_min_or_above_max_is_refused() -> None:
    for desired in (1, 6):
        _, problems = read(parse_fleet, "fleet",
                           {"minSize": 2, "maxSize": 5, "desiredCapacity": desired})
        assert [p.split(" = ")[0] for p in problems] == ["webtier:fleet.desiredCapacity"]


def test_min_above_max_is_refused_on_min_size() -> None:
    _, problems = read(parse_fleet, "fleet", {"minSize": 6, "maxSize": 5})
    assert [p.split(" = ")[0] for p in problems] == ["webtier:fleet.minSize"]
    _, problems = read(parse_fleet, "fleet", {"minSize": 5, "maxSize": 5})
    assert problems == []


def test_rollout_healthy_window_is_at_most_100_points_and_not_empty() -> None:
    def window(lo: int, hi: int) -> list[str]:
        _, problems = read(parse_rollout, "rollout",
                           {"minHealthyPercentage": lo, "maxHealthyPercentage": hi})
        return [p.split(" = ")[0] for p in problems]

    assert window(0, 100) == []
    assert window(99, 200) == ["webtier:rollout.maxHealthyPercentage"]
    assert window(100, 100) == ["webtier:rollout.maxHealthyPercentage"]
    assert window(90, 100) == []
