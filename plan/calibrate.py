"""`python -m plan STACK --calibrate`: the capacity report's timings measured on the real group.

Reads the group's scaling activities (DescribeScalingActivities, the last six weeks) and the
launch time of each instance they started (EC2 DescribeInstances), and puts each measured step
next to what plan/capacity.py assumes:

- trigger to activity: the time in the activity's Cause ("At <time> <trigger> changing the
  desired capacity from a to b.") to the activity's StartTime;
- EC2 launch: StartTime to the instance's LaunchTime (running);
- boot and launch hook: LaunchTime to the activity's EndTime. The group's launch hook holds a new
  instance in Pending:Wait until its release is pulled and the app is healthy, so the activity
  ends when the app answers: what BOOT_SECONDS estimates.

Response shapes: the DescribeScalingActivities example in AWS's API reference (botocore ships it
as autoscaling/2011-01-01/examples-1.json) and DescribeInstances' Reservations/Instances/
LaunchTime. The target group's health history is not in any API (DescribeTargetHealth reports
only the current state), so the 15-30 s of health checks stay modelled.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plan import capacity as cap

# "At 2013-08-19T20:53:25Z a user request created an AutoScalingGroup changing the desired
# capacity from 0 to 1." An alarm's reads "... a monitor alarm NAME in state ALARM triggered
# policy POLICY changing the desired capacity from 2 to 5."
TRIGGER = re.compile(r"^At (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.+?) changing the desired "
                     r"capacity from (\d+) to (\d+)\.")
LAUNCH = re.compile(r"^Launching a new EC2 instance: (i-[0-9a-f]+)")


@dataclass(frozen=True)
class Launch:
    """One successful launch activity and the instance it started."""

    instance: str
    trigger: str
    triggered: datetime | None
    started: datetime
    running: datetime | None
    ended: datetime | None


@dataclass(frozen=True)
class Step:
    what: str
    samples: tuple[float, ...]
    modelled: tuple[int, int]  # (best, worst) seconds

    def verdict(self) -> str:
        if not self.samples:
            return "no data"
        median = statistics.median(self.samples)
        best, worst = self.modelled
        if median < best:
            return "faster than modelled"
        if median > worst:
            return "SLOWER than modelled: raise the assumption"
        return "within the model"


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def launches(activities: Iterable[Mapping[str, Any]],
             launch_times: Mapping[str, datetime]) -> list[Launch]:
    """The successful launch activities, oldest first, with their instance's launch time."""
    found = []
    for activity in activities:
        launched = LAUNCH.match(str(activity.get("Description", "")))
        if not launched or activity.get("StatusCode") != "Successful":
            continue
        cause = TRIGGER.match(str(activity.get("Cause", "")))
        instance = launched.group(1)
        found.append(Launch(
            instance, cause.group(2) if cause else "unknown",
            _time(cause.group(1)) if cause else None, _time(activity["StartTime"]),
            launch_times.get(instance),
            _time(activity["EndTime"]) if activity.get("EndTime") else None))
    return sorted(found, key=lambda launch: launch.started)


def steps(found: Sequence[Launch], a: cap.Assumptions | None = None) -> list[Step]:
    """Measured seconds per step, beside the model's (best, worst)."""
    a = a or cap.Assumptions()

    def seconds(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> tuple[float, ...]:
        return tuple((end - start).total_seconds() for start, end in pairs
                     if start is not None and end is not None)

    return [
        Step("trigger to scaling activity", seconds((x.triggered, x.started) for x in found),
             (0, cap.MINUTE)),
        Step("EC2 launch: activity to instance running",
             seconds((x.started, x.running) for x in found), a.ec2_launch),
        Step("boot and launch hook: running to app answering (BOOT_SECONDS)",
             seconds((x.running, x.ended) for x in found), (a.boot, a.boot)),
    ]


def _seconds(value: float) -> str:
    return f"{value:.0f} s"


def render(stack: str, group: str, found: Sequence[Launch], measured: Sequence[Step],
           markdown: bool) -> str:
    title = f"Calibration of {stack}: group {group}, {len(found)} launch(es) in the last six weeks"
    header = ("step", "measured: median (min-max, n)", "modelled", "verdict")
    rows = []
    for step in measured:
        if step.samples:
            got = (f"{_seconds(statistics.median(step.samples))} ({_seconds(min(step.samples))}"
                   f"-{_seconds(max(step.samples))}, n={len(step.samples)})")
        else:
            got = "-"
        best, worst = step.modelled
        model = _seconds(best) if best == worst else f"{_seconds(best)}-{_seconds(worst)}"
        rows.append((step.what, got, model, step.verdict()))
    note = ("Not measurable from the API: the target group's health checks (DescribeTargetHealth "
            "has no history) and the datapoint delay; they stay modelled. Change "
            "plan/capacity.py's Assumptions (or BOOT_SECONDS) to what you measured.")
    if markdown:
        lines = [f"### {title}", "", f"| {' | '.join(header)} |", "|---|---|---|---|",
                 *(f"| {' | '.join(r)} |" for r in rows)]
    else:
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
        lines = [title, "", *("  ".join([*(c.ljust(w) for c, w in zip(r, widths,
                                                                       strict=False)), r[3]])
                              for r in (header, *rows))]
    return "\n".join([*lines, "", note, ""])
