"""How each health alarm is judged (components/fleet/health_alarm_queries.py): the exact metric
queries CloudWatch evaluates, which one returns data, and when the alarm fires."""

from __future__ import annotations

from components.fleet.health_alarm_queries import (
    COMPARISON,
    MISSING_DATA,
    NAMESPACE,
    Metric,
    Query,
    alarm_name,
    queries,
)
from components.fleet.health_alarm_specs import health_alarms
from components.settings.reader import ConfigObject, Problems
from components.settings.rollout import RolloutSettings, parse_rollout


def rollout(**raw: object) -> RolloutSettings:
    problems = Problems()
    settings = parse_rollout(ConfigObject("webtier:rollout", raw, problems))
    assert problems.items == []
    return settings


def test_the_alarms_fire_at_the_threshold_and_not_without_data() -> None:
    # At the threshold: one unhealthy host is one too many; no traffic is not an outage.
    assert COMPARISON == "GreaterThanOrEqualToThreshold"
    assert MISSING_DATA == "notBreaching"
    assert NAMESPACE == "AWS/ApplicationELB"


def test_the_unhealthy_hosts_alarm_is_its_single_metric_over_both_dimensions() -> None:
    unhealthy, _ = health_alarms(rollout())
    assert alarm_name("web", unhealthy) == "web-unhealthy-hosts"
    assert queries(unhealthy) == (
        Query(id="unhealthy", return_data=True,
              metric=Metric("UnHealthyHostCount", ("TargetGroup", "LoadBalancer"), 60,
                            "Maximum")),)


def test_the_5xx_alarm_returns_only_its_expression_over_three_sums() -> None:
    _, rate = health_alarms(rollout())
    assert alarm_name("web", rate) == "web-5xx-rate"
    got = queries(rate)
    assert got[:3] == tuple(
        Query(id=i, return_data=False, metric=Metric(name, ("LoadBalancer",), 60, "Sum"))
        for i, name in (("elb5xx", "HTTPCode_ELB_5XX_Count"),
                        ("target5xx", "HTTPCode_Target_5XX_Count"), ("requests", "RequestCount")))
    assert got[3] == Query(id="result", return_data=True, label="5xx-rate",
                           expression="100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / "
                                      "MAX([FILL(requests, 0), 1])")
    assert len(got) == 4
    assert [q.id for q in got if q.return_data] == ["result"]
