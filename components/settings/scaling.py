"""webtier:scaling: how the fleet follows load (the original: CPU alarms, +3 / -1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings.capacity_schedule import (
    PredictiveSettings,
    ScheduledAction,
    parse_predictive,
    parse_schedules,
)
from components.settings.reader import ConfigObject

ScalingMode = Literal["simple", "target-tracking", "step"]
# PutMetricAlarm's Period: "Valid values are 10, 20, 30, and any multiple of 60" (below 60 s a
# high-resolution alarm, which needs a metric stored at one-second resolution).
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
CLOUDWATCH_PERIODS = "10, 20, 30, or a multiple of 60 seconds"
ONE_DAY = 86400


@dataclass(frozen=True)
class ScalingSettings:
    mode: ScalingMode
    period: int
    evaluation_periods: int
    scale_out_threshold: float
    scale_in_threshold: float
    scale_out_adjustment: int
    scale_in_adjustment: int
    cooldown: int
    target_cpu: float
    request_count_target: float | None = None
    """ALBRequestCountPerTarget target tracking next to the CPU policy; None: off."""
    predictive: PredictiveSettings | None = None
    schedules: tuple[ScheduledAction, ...] = ()


def parse_scaling(obj: ConfigObject) -> ScalingSettings:
    mode: ScalingMode = obj.choice("mode", "simple", ScalingMode)
    period = obj.integer("period", 300, 10, ONE_DAY)
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        obj.problems.add(f"{obj.key}.period", period, f"CloudWatch accepts {CLOUDWATCH_PERIODS}")
    evaluations = obj.integer("evaluationPeriods", 1, 1, 100)
    if obj.valid("period", "evaluationPeriods") and period * evaluations > ONE_DAY:
        obj.problems.add(f"{obj.key}.evaluationPeriods", evaluations,
                         f"period x evaluationPeriods must not exceed one day (period is {period})")
    high = obj.number("scaleOutThreshold", 50, 0, 100)
    low = obj.number("scaleInThreshold", 20, 0, 100)
    if obj.valid("scaleOutThreshold", "scaleInThreshold") and low >= high:
        obj.problems.add(f"{obj.key}.scaleInThreshold", low,
                         f"must be below scaleOutThreshold ({high:g}) or the alarms fight")
    settings = ScalingSettings(
        mode=mode,
        period=period,
        evaluation_periods=evaluations,
        scale_out_threshold=high,
        scale_in_threshold=low,
        scale_out_adjustment=obj.integer("scaleOutAdjustment", 3, 1, 100),
        scale_in_adjustment=obj.integer("scaleInAdjustment", -1, -100, -1),
        cooldown=obj.integer("cooldown", 300, 0, ONE_DAY),
        target_cpu=obj.number("targetCpu", 50, 1, 100),
        request_count_target=_optional_number(obj, "requestCountTarget", 1, 1_000_000),
        predictive=parse_predictive(obj, "predictive"),
        schedules=parse_schedules(obj, "schedules"),
    )
    obj.done()
    return settings


def _optional_number(obj: ConfigObject, name: str, lo: float, hi: float) -> float | None:
    if obj.raw.get(name) is None:
        obj.used.add(name)
        return None
    return obj.number(name, lo, lo, hi)
