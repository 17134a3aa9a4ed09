"""CloudWatch alarm and scaling policy definitions as data, derived from the scaling settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings import ScalingSettings

Direction = Literal["out", "in"]


@dataclass(frozen=True)
class SimplePolicySpec:
    direction: Direction
    adjustment: int
    cooldown: int


@dataclass(frozen=True)
class AlarmSpec:
    direction: Direction
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    metric_name: str = "CPUUtilization"
    namespace: str = "AWS/EC2"
    statistic: str = "Average"

    def description(self, group_label: str) -> str:
        verb = "add" if self.direction == "out" else "remove"
        op = ">=" if self.comparison.startswith("GreaterThanOrEqual") else "<"
        return (f"Average CPU of {group_label} {op} {self.threshold:g}% for "
                f"{self.evaluation_periods} x {self.period}s: {verb} instances")


@dataclass(frozen=True)
class StepSpec:
    lower: float | None
    upper: float | None
    adjustment: int


def simple_policies(s: ScalingSettings) -> tuple[SimplePolicySpec, SimplePolicySpec]:
    return (SimplePolicySpec("out", s.scale_out_adjustment, s.cooldown),
            SimplePolicySpec("in", s.scale_in_adjustment, s.cooldown))


def cpu_alarms(s: ScalingSettings) -> tuple[AlarmSpec, AlarmSpec]:
    """High CPU >= threshold scales out; low CPU < threshold scales in (the original's pair)."""
    return (
        AlarmSpec("out", "GreaterThanOrEqualToThreshold", s.scale_out_threshold, s.period,
                  s.evaluation_periods),
        AlarmSpec("in", "LessThanThreshold", s.scale_in_threshold, s.period,
                  s.evaluation_periods),
    )


def step_adjustments(s: ScalingSettings, direction: Direction) -> tuple[StepSpec, ...]:
    """Steps relative to the alarm threshold: bigger moves the further CPU is from it.

    Scale-out adds the configured step up to 20 points over the threshold, twice that beyond;
    scale-in removes the configured step whatever the distance below.
    """
    if direction == "out":
        return (StepSpec(0, 20, s.scale_out_adjustment),
                StepSpec(20, None, s.scale_out_adjustment * 2))
    return (StepSpec(None, 0, s.scale_in_adjustment),)
