"""webtier:rollout: how a new launch setting reaches running instances, and proves itself.

The instance refresh's pace (checkpoints, healthy percentages), what aborts it (the health
alarms), how long `pulumi up` waits for it (the rollout gate) and the lifecycle hooks' timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.reader import ConfigObject

TWO_DAYS = 172800  # AWS's longest checkpoint delay
HEARTBEAT = (30, 7200)  # AWS's heartbeat timeout range for a lifecycle hook


@dataclass(frozen=True)
class RolloutSettings:
    min_healthy_percentage: int
    """Capacity kept in service during a refresh (and any other replacement), % of desired."""
    max_healthy_percentage: int
    """Capacity allowed above desired while replacing: above 100 launches before terminating."""
    checkpoints: tuple[int, ...]
    """Percentages of the group replaced at which the refresh pauses; the last is 100."""
    checkpoint_delay: int
    """Seconds the refresh waits at each checkpoint."""
    skip_matching: bool
    """Leave instances that already run the new launch settings."""
    alarm_rollback: bool
    """The stack's health alarms stop the refresh when they go to ALARM."""
    wait: bool
    """`pulumi up` waits for the refresh and fails with it (the rollout gate)."""
    gate_timeout: int
    """Seconds the gate waits before failing the `up` (the refresh keeps running)."""
    poll_interval: int
    roll_back: bool
    """AWS rolls a failed refresh back (AutoRollback): the group keeps its previous template
    version or mixed instances policy. Template mode only."""
    bake_time: int
    """Seconds the refresh keeps watching the alarms after its last batch (AWS's BakeTime)."""
    launch_heartbeat_timeout: int
    """Seconds a new instance may stay in Pending:Wait before it is abandoned."""
    terminate_heartbeat_timeout: int
    """Seconds a leaving instance may take to drain and leave Consul."""
    error_rate_percent: float
    """Load balancer 5xx responses, as % of requests, that raise the error-rate alarm."""
    alarm_periods: int
    """Consecutive minutes a health alarm's condition must hold."""


def parse_rollout(obj: ConfigObject) -> RolloutSettings:
    key = obj.key
    lo = obj.integer("minHealthyPercentage", 100, 0, 100)
    hi = obj.integer("maxHealthyPercentage", 200, 100, 200)
    if not obj.valid("minHealthyPercentage", "maxHealthyPercentage"):
        pass  # the refused value is already named; its default is no value to compare
    elif hi - lo > 100:
        obj.problems.add(f"{key}.maxHealthyPercentage", hi,
                         f"may exceed minHealthyPercentage ({lo}) by at most 100 (AWS's rule)")
    elif hi == lo:
        obj.problems.add(f"{key}.maxHealthyPercentage", hi,
                         f"must be above minHealthyPercentage ({lo}) or no instance can be "
                         "replaced")
    raw_points = obj.items("checkpoints")
    points = tuple(p for p in raw_points if isinstance(p, int) and not isinstance(p, bool))
    if len(points) != len(raw_points) or any(not 1 <= p <= 100 for p in points):
        obj.problems.add(f"{key}.checkpoints", raw_points,
                         "must be whole percentages between 1 and 100")
    elif points and (list(points) != sorted(set(points)) or points[-1] != 100):
        obj.problems.add(f"{key}.checkpoints", raw_points,
                         "must rise strictly and end at 100, so the refresh replaces every "
                         "instance (e.g. [50, 100])")
    delay = obj.integer("checkpointDelay", 300, 0, TWO_DAYS)
    settings = RolloutSettings(
        min_healthy_percentage=lo,
        max_healthy_percentage=hi,
        checkpoints=points,
        checkpoint_delay=delay,
        skip_matching=obj.flag("skipMatching", True),
        alarm_rollback=obj.flag("alarmRollback", True),
        wait=obj.flag("wait", True),
        gate_timeout=obj.integer("gateTimeout", 3600, 60, 86400),
        poll_interval=obj.integer("pollInterval", 15, 1, 300),
        roll_back=obj.flag("rollBack", True),
        bake_time=obj.integer("bakeTime", 300, 0, TWO_DAYS),
        launch_heartbeat_timeout=obj.integer("launchHeartbeatTimeout", 600, *HEARTBEAT),
        terminate_heartbeat_timeout=obj.integer("terminateHeartbeatTimeout", 300, *HEARTBEAT),
        error_rate_percent=obj.number("errorRatePercent", 5, 0.1, 100),
        alarm_periods=obj.integer("alarmPeriods", 3, 1, 60),
    )
    obj.done()
    return settings
