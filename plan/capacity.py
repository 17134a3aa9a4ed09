"""The capacity report's formulas: what a stack's scaling settings mean in minutes and instances.

Pure functions over the stack settings; plan/capacity_report.py renders them. Each formula follows
AWS's documented semantics (docs/capacity.md cites the pages) plus the timing assumptions in
``Assumptions``, which are estimates, named so the report can print them.

The scenario throughout: at t = 0 a sustained spike starts that needs the whole fleet (maxSize at
the policy's target), with the group at minSize. "In service" means serving traffic: launched,
app started, and passing the target group's health check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from components.load_balancer import HEALTH_CHECK_INTERVAL, HEALTHY_THRESHOLD
from components.settings import MixedInstances, ScalingSettings, StackSettings, WarmPool
from components.settings.capacity import CapacitySettings
from contracts.measured import NODE_BOOT_TO_IN_SERVICE

MINUTE = 60
HOURS_PER_MONTH = 730  # AWS bills EBS per GB-month; its price pages use 730 hours a month
# The alarms AWS creates for a target tracking policy: scale out after 3 of 3 one-minute
# datapoints above target, scale in after 15 of 15 below (visible on every such alarm).
TARGET_TRACKING_OUT_DATAPOINTS = 3
TARGET_TRACKING_IN_DATAPOINTS = 15
CPU_CEILING = 100.0  # measured CPU saturates: a proportional step is at most 100 / target
# Seconds EC2 takes from RunInstances to the node's systemd starting (placement, firmware, kernel).
# NOT measured: it is what remains of the former 180 s guess once the node's own part is measured
# (contracts/measured.py, 24 s on the fleet harness); measure it on EC2 to replace it.
EC2_INSTANCE_START = 156


@dataclass(frozen=True)
class Assumptions:
    """Timings AWS does not publish as numbers: estimates, printed with every report."""

    metric_delay: int = 60
    """Seconds from a period's end until its datapoint is in CloudWatch and the alarm sees it."""
    alarm_repeat: int = 60
    """An alarm re-invokes its Auto Scaling action once a minute while it stays in ALARM."""
    launch: Mapping[str, int] = field(default_factory=lambda: {
        "cold": EC2_INSTANCE_START + NODE_BOOT_TO_IN_SERVICE, "Stopped": 60, "Hibernated": 45})
    """Seconds from a scaling activity to the app answering: a new instance boots and runs the
    user data (Consul join, SSM, release pull); a warm-pool instance already did all that.
    The node's own part is measured (contracts/measured.py); EC2's start is an estimate."""


@dataclass(frozen=True)
class Policy:
    """One reactive policy, reduced to what the timeline needs."""

    label: str
    detection: tuple[int, int]
    """Seconds from the spike to the policy's first scaling activity: (worst, best)."""
    gap: int
    """Seconds after an activity's instances are InService before the next activity starts."""
    grow: Callable[[int], int]
    """Desired capacity the policy asks for, from the current capacity (before maxSize)."""
    scale_in: int
    """Seconds from the load ending (at maxSize) until the group is back at minSize."""


def alarm_detection(period: int, evaluation_periods: int, a: Assumptions) -> tuple[int, int]:
    """(worst, best) seconds from a sustained breach to the alarm's first action.

    The alarm needs ``evaluation_periods`` whole periods over the threshold, then the last
    datapoint's delay. Best case the spike starts as a period starts; worst case just after, so
    the first, partial period may average under the threshold and one more period passes.
    """
    best = period * evaluation_periods + a.metric_delay
    return best + period, best


def ready_after_launch() -> int:
    """Seconds from the app answering to the target group routing to it: healthy threshold x
    interval of the target group's health check. (The group's health check grace period is not on
    this path: it only delays the group's own health checks of the new instance.)"""
    return HEALTHY_THRESHOLD * HEALTH_CHECK_INTERVAL


def simple_policy(s: ScalingSettings, min_size: int, max_size: int, deregistration: int,
                  a: Assumptions) -> Policy:
    """The original: +adjustment per alarm, then the cooldown after the activity completes
    before the alarm (still in ALARM, repeating each minute) can start the next one."""
    steps = math.ceil((max_size - min_size) / -s.scale_in_adjustment)
    worst_in, _ = alarm_detection(s.period, s.evaluation_periods, a)
    return Policy(
        label=(f"CPU simple: >= {s.scale_out_threshold:g}% for {s.evaluation_periods} x "
               f"{s.period}s, {s.scale_out_adjustment:+d}, cooldown {s.cooldown}s"),
        detection=alarm_detection(s.period, s.evaluation_periods, a),
        gap=s.cooldown + a.alarm_repeat,
        grow=lambda c: c + s.scale_out_adjustment,
        scale_in=worst_in + steps * deregistration
        + (steps - 1) * (s.cooldown + a.alarm_repeat),
    )


def step_policy(s: ScalingSettings, min_size: int, max_size: int, warmup: int,
                deregistration: int, a: Assumptions) -> Policy:
    """Step scaling: no cooldown; instances still warming up count as capacity, so the same step
    adds nothing until the warmup ends. A saturating spike (CPU 100%) takes the largest step
    whose lower bound it passes (the program's steps: +n up to 20 points over, +2n beyond)."""
    over = CPU_CEILING - s.scale_out_threshold
    step = s.scale_out_adjustment * (2 if over >= 20 else 1)
    steps = math.ceil((max_size - min_size) / -s.scale_in_adjustment)
    worst_in, _ = alarm_detection(s.period, s.evaluation_periods, a)
    return Policy(
        label=(f"CPU step: >= {s.scale_out_threshold:g}% for {s.evaluation_periods} x "
               f"{s.period}s, {step:+d} when saturated, warmup {warmup}s"),
        detection=alarm_detection(s.period, s.evaluation_periods, a),
        gap=warmup + a.alarm_repeat,
        grow=lambda c: c + step,
        scale_in=worst_in + steps * deregistration + (steps - 1) * a.alarm_repeat,
    )


def target_tracking_policy(label: str, ratio: float | None, max_size: int, warmup: int,
                           deregistration: int, a: Assumptions) -> Policy:
    """Target tracking: AWS's own alarms (3 one-minute datapoints out, 15 in), then desired =
    ceil(current x metric / target). ``ratio`` is metric / target: CPU saturates at 100%, so at
    most 100 / target per step; None (request count, unbounded) asks for the whole fleet at once.
    After each step the policy waits out the instance warmup. Once the load ends the low alarm
    asks for the minimum in one step."""
    detect = TARGET_TRACKING_OUT_DATAPOINTS * MINUTE + a.metric_delay
    return Policy(
        label=label,
        detection=(detect + MINUTE, detect),
        gap=warmup + a.alarm_repeat,
        grow=(lambda c: max_size) if ratio is None else (lambda c: math.ceil(c * ratio)),
        scale_in=TARGET_TRACKING_IN_DATAPOINTS * MINUTE + a.metric_delay + deregistration,
    )


def policies(settings: StackSettings, a: Assumptions) -> list[Policy]:
    """The stack's reactive policies, in the order the program creates them."""
    s, f = settings.scaling, settings.fleet
    lo, hi, dereg = f.min_size, f.max_size, settings.load_balancer.deregistration_delay
    out: list[Policy] = []
    if s.mode == "simple":
        out.append(simple_policy(s, lo, hi, dereg, a))
    elif s.mode == "step":
        out.append(step_policy(s, lo, hi, f.instance_warmup, dereg, a))
    else:
        out.append(target_tracking_policy(f"CPU target tracking: {s.target_cpu:g}%",
                                          CPU_CEILING / s.target_cpu, hi, f.instance_warmup,
                                          dereg, a))
    if s.request_count_target is not None:
        out.append(target_tracking_policy(
            f"Request count target tracking: {s.request_count_target:g} per target", None, hi,
            f.instance_warmup, dereg, a))
    return out


def warm_pool_size(pool: WarmPool | None, min_size: int, max_size: int) -> int:
    """Instances waiting in the pool with the group at minSize: MaxGroupPreparedCapacity (default
    maxSize) minus the desired capacity, and never fewer than the pool's minSize."""
    if pool is None:
        return 0
    prepared = max_size if pool.max_prepared is None else pool.max_prepared
    return max(pool.min_size, prepared - min_size)


def launch_seconds(capacity: CapacitySettings, pool_size: int,
                   a: Assumptions) -> Callable[[int], int]:
    """Launch time of the i-th instance the spike adds: warm while the pool lasts, then cold
    (the pool refills in the background, too slowly to count during a spike)."""
    warm = a.launch[capacity.warm_pool.state] if capacity.warm_pool else a.launch["cold"]
    return lambda i: warm if i < pool_size else a.launch["cold"]


def timeline(policy: Policy, min_size: int, max_size: int, launch: Callable[[int], int],
             ready: int) -> list[int]:
    """Second at which each added instance is in service, worst case, until maxSize.

    An activity starts at the policy's detection; it is complete when its last instance is
    InService; the next starts ``policy.gap`` later, if the policy still asks for more.
    """
    t, current, added, times = policy.detection[0], min_size, 0, []
    while current < max_size:
        new = min(max_size, policy.grow(current)) - current
        if new <= 0:
            break
        launches = [launch(added + i) for i in range(new)]
        times += [t + seconds + ready for seconds in launches]
        added, current = added + new, current + new
        t += max(launches) + policy.gap
    return sorted(times)


def capacity_at(times: list[int], min_size: int, second: int) -> int:
    """Instances in service ``second`` seconds after the spike."""
    return min_size + sum(1 for t in times if t <= second)


def combined(times_by_policy: list[list[int]]) -> list[int]:
    """Several policies on one group: AWS applies whichever asks for the most capacity, so at
    every moment the group has the largest count any one of them would have reached."""
    if not times_by_policy:
        return []
    longest = max(len(t) for t in times_by_policy)
    return [min(t[i] for t in times_by_policy if i < len(t)) for i in range(longest)]


def on_demand_count(n: int, mixed: MixedInstances | None) -> int:
    """On-demand instances among ``n``: the base first, then the percentage of the rest, rounded
    up (AWS's InstancesDistribution favours on-demand when a split is fractional)."""
    if mixed is None:
        return n
    base = min(n, mixed.on_demand_base)
    return base + math.ceil((n - base) * mixed.on_demand_percentage / 100)


def hourly_cost(n: int, price: float, mixed: MixedInstances | None) -> float:
    """n instances at the on-demand ``price``; spot ones less the configured spot discount (at
    the on-demand price when none is set: an upper bound)."""
    if mixed is None:
        return n * price
    on_demand = on_demand_count(n, mixed)
    discount = (mixed.spot_discount_percent or 0) / 100
    return on_demand * price + (n - on_demand) * price * (1 - discount)


def warm_pool_hourly(pool_instances: int, root_gb: int, gb_month: float) -> float:
    """A stopped or hibernated instance bills only its EBS volume (and any Elastic IP)."""
    return pool_instances * root_gb * gb_month / HOURS_PER_MONTH
