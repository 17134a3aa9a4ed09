"""The fleet's health alarms as data: unhealthy targets and the load balancer's 5xx rate.

They stop an instance refresh (its alarm specification) and are what a notification topic
subscribes to. Pure: settings in, specs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings import RolloutSettings

Dimension = Literal["TargetGroup", "LoadBalancer"]
MINUTE = 60


@dataclass(frozen=True)
class MetricTerm:
    id: str
    metric_name: str
    dimensions: tuple[Dimension, ...]


@dataclass(frozen=True)
class HealthAlarmSpec:
    key: str
    """Short name: the alarm is named <fleet>-<key>."""
    description: str
    threshold: float
    evaluation_periods: int
    terms: tuple[MetricTerm, ...]
    expression: str | None = None
    """Metric math over the terms; None: the single term is the alarm's metric."""
    statistic: str = "Sum"
    period: int = MINUTE


def health_alarms(r: RolloutSettings) -> tuple[HealthAlarmSpec, ...]:
    both: tuple[Dimension, ...] = ("TargetGroup", "LoadBalancer")
    return (
        HealthAlarmSpec(
            key="unhealthy-hosts",
            description=(f"A target of the fleet failed the load balancer health check for "
                         f"{r.alarm_periods} minute(s): stops an instance refresh"),
            threshold=1,
            evaluation_periods=r.alarm_periods,
            terms=(MetricTerm("unhealthy", "UnHealthyHostCount", both),),
            statistic="Maximum",
        ),
        HealthAlarmSpec(
            key="5xx-rate",
            description=(f"5xx responses above {r.error_rate_percent:g}% of requests for "
                         f"{r.alarm_periods} minute(s): stops an instance refresh"),
            threshold=r.error_rate_percent,
            evaluation_periods=r.alarm_periods,
            terms=(MetricTerm("elb5xx", "HTTPCode_ELB_5XX_Count", ("LoadBalancer",)),
                   MetricTerm("target5xx", "HTTPCode_Target_5XX_Count", ("LoadBalancer",)),
                   MetricTerm("requests", "RequestCount", ("LoadBalancer",))),
            # FILL(..., 0): no requests in a minute means no errors, not missing data.
            expression=("100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / "
                        "MAX([FILL(requests, 0), 1])"),
        ),
    )
