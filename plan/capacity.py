"""The capacity report's formulas: what a stack's scaling settings mean in minutes and instances.

Pure functions over the stack settings; plan/capacity_report.py renders them. Each formula follows
AWS's documented semantics (docs/capacity.md cites the pages) plus the timing assumptions in
``Assumptions``, each with a best and a worst end, printed with every report.

The scenario throughout: at t = 0 a sustained spike starts that needs the whole fleet (maxSize at
the policy's target), with the group at minSize. "In service" means serving traffic: launched,
app started, and passing the target group's health check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from components.fleet.load_balancer import HEALTH_CHECK_INTERVAL, HEALTHY_THRESHOLD
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
# Seconds from an instance running to its systemd starting (firmware, kernel, cloud-init). NOT
# measured (no EC2 here): what remains of the former 150 s guess once the node's own part is.
OS_BOOT_ESTIMATE = 126

BOOT_SECONDS = OS_BOOT_ESTIMATE + NODE_BOOT_TO_IN_SERVICE
"""A cold instance from running to its app answering: the OS's start (estimated) plus the node's
own boot, user data, Consul join, SSM secrets, release pull and health (measured on the fleet
harness, contracts/measured.py); `python -m plan STACK --calibrate` measures yours."""

CLOUDWATCH_ALARMS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/" \
    "AlarmThatSendsEmail.html"
ALARM_ACTIONS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/" \
    "alarm-actions.html"
EC2_DETAILED_MONITORING = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/" \
    "using-cloudwatch-new.html"
TARGET_GROUP_HEALTH = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/" \
    "target-group-health-checks.html"
COOLDOWNS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/" \
    "ec2-auto-scaling-scaling-cooldowns.html"
NOT_PUBLISHED = "not published by AWS: an estimate; measure it with --calibrate"


@dataclass(frozen=True)
class Assumptions:
    """The timings the report rests on, each with a best and a worst end: (best, worst)."""

    metric_delay: tuple[int, int] = (60, 180)
    """Seconds from a datapoint's minute ending until the alarm sees it (not published)."""
    ec2_launch: tuple[int, int] = (30, 120)
    """Seconds from a scaling activity to its instance running (not published)."""
    boot: int = BOOT_SECONDS
    warm: Mapping[str, int] = field(default_factory=lambda: {"Stopped": 60, "Hibernated": 45})
    """Seconds from a scaling activity to the app answering on a warm-pool instance, which ran
    its user data before it stopped (not published)."""

    def case(self, worst: bool) -> Case:
        i = 1 if worst else 0
        cold = self.ec2_launch[i] + self.boot
        return Case(worst, self.metric_delay[i], MINUTE if worst else 0,
                    {"cold": cold, **self.warm},
                    (HEALTHY_THRESHOLD if worst else HEALTHY_THRESHOLD - 1)
                    * HEALTH_CHECK_INTERVAL)


@dataclass(frozen=True)
class Case:
    """One end of the range: every timing at its best, or every one at its worst."""

    worst: bool
    metric_delay: int
    alarm_repeat: int
    """After a cooldown, seconds until the alarm, still in ALARM, invokes its action again (it
    does so at each evaluation, once a minute: 0 best, 60 worst)."""
    launch: Mapping[str, int]
    ready: int
    """Seconds from the app answering to the target group routing to it: the first health check
    finds it up at once (best) or just missed it (worst), then healthyThreshold in a row."""


def assumption_lines(a: Assumptions) -> list[tuple[str, str, str, str]]:
    """(what, best, worst, source) for every timing the report uses, as printed."""
    best, worst = a.case(False), a.case(True)
    return [
        ("alarm: a period over the threshold", "the window average crosses it part-filled "
         "(a spike from idle to 100% CPU)", "every period of the window whole, the spike just "
         "after an evaluation", CLOUDWATCH_ALARMS),
        ("alarm evaluation", "every 60 s (every 10 s below a 60 s period)", "same",
         CLOUDWATCH_ALARMS),
        ("CPU datapoints", "60 s (detailed monitoring, on in the launch template)", "same",
         EC2_DETAILED_MONITORING),
        ("datapoint delay to the alarm", f"{best.metric_delay} s", f"{worst.metric_delay} s",
         NOT_PUBLISHED),
        ("EC2 launch: activity to instance running", f"{a.ec2_launch[0]} s",
         f"{a.ec2_launch[1]} s", NOT_PUBLISHED),
        ("boot: running to app answering (BOOT_SECONDS: the OS's start estimated, "
         f"{NODE_BOOT_TO_IN_SERVICE} s of the node's own measured)", f"{a.boot} s", "same",
         NOT_PUBLISHED),
        ("warm-pool instance: activity to app answering", ", ".join(
            f"{k} {v} s" for k, v in a.warm.items()), "same", NOT_PUBLISHED),
        ("target group: healthy after", f"{best.ready} s", f"{worst.ready} s "
         f"({HEALTHY_THRESHOLD} x {HEALTH_CHECK_INTERVAL} s checks)", TARGET_GROUP_HEALTH),
        ("next simple/step activity after cooldown or warmup", f"+{best.alarm_repeat} s",
         f"+{worst.alarm_repeat} s (the alarm's next evaluation)", f"{COOLDOWNS}, "
         f"{ALARM_ACTIONS}"),
    ]


@dataclass(frozen=True)
class Policy:
    """One reactive policy at one end of the range, reduced to what the timeline needs."""

    label: str
    detection: int
    """Seconds from the spike to the policy's first scaling activity."""
    gap: int
    """Seconds after an activity's instances are InService before the next activity starts."""
    grow: Callable[[int], int]
    """Desired capacity the policy asks for, from the current capacity (before maxSize)."""
    scale_in: int
    """Seconds from the load ending (at maxSize) until the group is back at minSize."""


def evaluation_interval(period: int) -> int:
    """CloudWatch evaluates an alarm every minute, every 10 s for a 10, 20 or 30 s period."""
    return 10 if period < MINUTE else MINUTE


def alarm_detection(period: int, evaluation_periods: int, share: float, c: Case) -> int:
    """Seconds from a sustained breach to the alarm's first action.

    The alarm looks at ``evaluation_periods`` windows of ``period``, sliding at each evaluation.
    Best case a step load fills ``share`` of the oldest window (e.g. 100% CPU from idle against
    a 50% threshold: half of it) and the average crosses at the next evaluation; worst case a
    load that only just breaches must fill every window whole, starting just after an
    evaluation. Then the last datapoint's delay.
    """
    every = evaluation_interval(period)
    if c.worst:
        fill = period * evaluation_periods + every
    else:
        # At least one evaluation: a datapoint must hold some of the spike.
        fill = period * (evaluation_periods - 1) + max(1, math.ceil(share * period / every)) \
            * every
    return fill + c.metric_delay


def simple_policy(s: ScalingSettings, min_size: int, max_size: int, deregistration: int,
                  c: Case) -> Policy:
    """The original: +adjustment per alarm, then the cooldown after the activity completes
    before the alarm (still in ALARM, re-evaluated each minute) can start the next one."""
    steps = math.ceil((max_size - min_size) / -s.scale_in_adjustment)
    low = alarm_detection(s.period, s.evaluation_periods,
                          (CPU_CEILING - s.scale_in_threshold) / CPU_CEILING, c)
    return Policy(
        label=(f"CPU simple: >= {s.scale_out_threshold:g}% for {s.evaluation_periods} x "
               f"{s.period}s, {s.scale_out_adjustment:+d}, cooldown {s.cooldown}s"),
        detection=alarm_detection(s.period, s.evaluation_periods,
                                  s.scale_out_threshold / CPU_CEILING, c),
        gap=s.cooldown + c.alarm_repeat,
        grow=lambda n: n + s.scale_out_adjustment,
        scale_in=low + steps * deregistration + (steps - 1) * (s.cooldown + c.alarm_repeat),
    )


def step_policy(s: ScalingSettings, min_size: int, max_size: int, warmup: int,
                deregistration: int, c: Case) -> Policy:
    """Step scaling: no cooldown; instances still warming up count as capacity, so the same step
    adds nothing until the warmup ends. A saturating spike (CPU 100%) takes the largest step
    whose lower bound it passes (the program's steps: +n up to 20 points over, +2n beyond)."""
    over = CPU_CEILING - s.scale_out_threshold
    step = s.scale_out_adjustment * (2 if over >= 20 else 1)
    steps = math.ceil((max_size - min_size) / -s.scale_in_adjustment)
    low = alarm_detection(s.period, s.evaluation_periods,
                          (CPU_CEILING - s.scale_in_threshold) / CPU_CEILING, c)
    return Policy(
        label=(f"CPU step: >= {s.scale_out_threshold:g}% for {s.evaluation_periods} x "
               f"{s.period}s, {step:+d} when saturated, warmup {warmup}s"),
        detection=alarm_detection(s.period, s.evaluation_periods,
                                  s.scale_out_threshold / CPU_CEILING, c),
        gap=warmup + c.alarm_repeat,
        grow=lambda n: n + step,
        scale_in=low + steps * deregistration + (steps - 1) * c.alarm_repeat,
    )


def target_tracking_policy(label: str, ratio: float | None, max_size: int, warmup: int,
                           deregistration: int, c: Case) -> Policy:
    """Target tracking: AWS's own alarms (3 one-minute datapoints out, 15 in), then desired =
    ceil(current x metric / target). ``ratio`` is metric / target: CPU saturates at 100%, so at
    most 100 / target per step; None (request count, unbounded) asks for the whole fleet at once.
    After each step the policy waits out the instance warmup. Once the load ends the low alarm
    asks for the minimum in one step."""
    share = 1 / ratio if ratio else 0.0
    return Policy(
        label=label,
        detection=alarm_detection(MINUTE, TARGET_TRACKING_OUT_DATAPOINTS, share, c),
        gap=warmup + c.alarm_repeat,
        grow=(lambda n: max_size) if ratio is None else (lambda n: math.ceil(n * ratio)),
        scale_in=alarm_detection(MINUTE, TARGET_TRACKING_IN_DATAPOINTS, 1.0, c)
        + deregistration,
    )


def policies(settings: StackSettings, c: Case) -> list[Policy]:
    """The stack's reactive policies at one end of the range, in the program's order."""
    s, f = settings.scaling, settings.fleet
    lo, hi, dereg = f.min_size, f.max_size, settings.load_balancer.deregistration_delay
    out: list[Policy] = []
    if s.mode == "simple":
        out.append(simple_policy(s, lo, hi, dereg, c))
    elif s.mode == "step":
        out.append(step_policy(s, lo, hi, f.instance_warmup, dereg, c))
    else:
        out.append(target_tracking_policy(f"CPU target tracking: {s.target_cpu:g}%",
                                          CPU_CEILING / s.target_cpu, hi, f.instance_warmup,
                                          dereg, c))
    if s.request_count_target is not None:
        out.append(target_tracking_policy(
            f"Request count target tracking: {s.request_count_target:g} per target", None, hi,
            f.instance_warmup, dereg, c))
    return out


def warm_pool_size(pool: WarmPool | None, min_size: int, max_size: int) -> int:
    """Instances waiting in the pool with the group at minSize: MaxGroupPreparedCapacity (default
    maxSize) minus the desired capacity, and never fewer than the pool's minSize."""
    if pool is None:
        return 0
    prepared = max_size if pool.max_prepared is None else pool.max_prepared
    return max(pool.min_size, prepared - min_size)


def launch_seconds(capacity: CapacitySettings, pool_size: int,
                   c: Case) -> Callable[[int], int]:
    """Launch time of the i-th instance the spike adds: warm while the pool lasts, then cold
    (the pool refills in the background, too slowly to count during a spike)."""
    warm = c.launch[capacity.warm_pool.state] if capacity.warm_pool else c.launch["cold"]
    return lambda i: warm if i < pool_size else c.launch["cold"]


def timeline(policy: Policy, min_size: int, max_size: int, launch: Callable[[int], int],
             ready: int) -> list[int]:
    """Second at which each added instance is in service, until maxSize.

    An activity starts at the policy's detection; it is complete when its last instance is
    InService; the next starts ``policy.gap`` later, if the policy still asks for more.
    """
    t, current, added, times = policy.detection, min_size, 0, []
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
