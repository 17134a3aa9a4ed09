"""A double of EC2 Auto Scaling's instance refresh, written from AWS's documentation (moto has
none). Each rule cites its page; `[API]` is the API reference, `[UG]` the user guide:

- [API-Start]  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html
- [API-Prefs]  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html
- [API-Desc]   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeInstanceRefreshes.html
- [API-Cancel] https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CancelInstanceRefresh.html
- [API-Back]   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RollbackInstanceRefresh.html
- [API-Status] https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefresh.html
- [UG-Skip]    https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh-skip-matching.html
- [UG-Back]    https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html
- [UG-Check]   https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html
- [UG-Alarm]   https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html

Time is discrete: `tick()` moves every active refresh one step (AWS moves it on its own clock);
the HTTP endpoint ticks once per DescribeInstanceRefreshes, so a watcher's polls are the clock.
A step is `SECONDS_PER_TICK` seconds for checkpoint delays, bake time and the protected-instance
wait. Which configurations are broken (their instances fail health checks) and which alarms are
in ALARM is set by the test. Error codes are the ones botocore's model declares per operation.
"""

from __future__ import annotations

import copy
import itertools
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SECONDS_PER_TICK = 60
ACTIVE = frozenset({"Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress"})
PROTECTED_WAIT = 3600  # [API-Prefs] ScaleInProtectedInstances Wait: "waits one hour"


class AwsError(Exception):
    """What AWS answers instead of a result: the endpoint turns it into an ErrorResponse."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


@dataclass
class Instance:
    instance_id: str
    config: dict[str, Any]
    protected: bool = False


@dataclass
class Group:
    name: str
    config: dict[str, Any]
    """{"LaunchTemplate": {...}} | {"MixedInstancesPolicy": {...}} | {"LaunchConfigurationName"}"""
    desired: int
    instances: list[Instance] = field(default_factory=list)


@dataclass
class Refresh:
    refresh_id: str
    group: str
    desired: dict[str, Any] | None
    prefs: dict[str, Any]
    previous: dict[str, Any]
    started: datetime
    status: str = "Pending"
    reason: str = ""
    to_replace: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    total: int = 0
    waited: int = 0
    paused: int = 0
    passed_checkpoints: list[int] = field(default_factory=list)
    baked: int = 0
    ended: datetime | None = None

    @property
    def target(self) -> dict[str, Any]:
        # [API-Start] DesiredConfiguration: without one, the group's own saved configuration.
        return self.desired if self.desired is not None else self.previous

    def percentage(self) -> int:
        return 100 if not self.total else math.floor(100 * len(self.replaced) / self.total)


def _template_version(config: dict[str, Any]) -> str | None:
    if "LaunchTemplate" in config:
        return str(config["LaunchTemplate"].get("Version", "$Default"))
    mixed = config.get("MixedInstancesPolicy")
    if mixed:
        spec = mixed.get("LaunchTemplate", {}).get("LaunchTemplateSpecification", {})
        return str(spec.get("Version", "$Default"))
    return None


class AutoScalingDouble:
    """Groups and their instance refreshes, in memory."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.refreshes: list[Refresh] = []
        self.broken: list[dict[str, Any]] = []
        """Configurations whose instances fail their health checks."""
        self.in_alarm: set[str] = set()
        self.faults: dict[str, list[AwsError]] = {}
        """Per action, errors to answer before any real work (ExpiredToken, Throttling)."""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    # --- set-up the test does ------------------------------------------------------------------

    def add_group(self, name: str, config: dict[str, Any], desired: int = 2,
                  protected: bool = False) -> Group:
        group = Group(name, copy.deepcopy(config), desired)
        group.instances = [self._launch(config, protected) for _ in range(desired)]
        self.groups[name] = group
        return group

    def _launch(self, config: dict[str, Any], protected: bool = False) -> Instance:
        return Instance(f"i-{next(self._ids):017x}", copy.deepcopy(config), protected)

    def _group(self, name: str) -> Group:
        if name not in self.groups:
            # What AWS answers for a group that does not exist (or was deleted).
            raise _validation(f"AutoScalingGroup name not found - {name}")
        return self.groups[name]

    def _fault(self, action: str) -> None:
        queued = self.faults.get(action)
        if queued:
            raise queued.pop(0)

    # --- the API -------------------------------------------------------------------------------

    def start_instance_refresh(self, req: dict[str, Any]) -> dict[str, Any]:
        self._fault("StartInstanceRefresh")
        group = self._group(req["AutoScalingGroupName"])
        if any(r.group == group.name and r.status in ACTIVE for r in self.refreshes):
            # [API-Start] InstanceRefreshInProgress: "an active instance refresh already exists".
            raise AwsError("InstanceRefreshInProgress",
                           "An Instance Refresh is already in progress and blocks the execution "
                           "of this Instance Refresh.")
        strategy = req.get("Strategy", "Rolling")
        if strategy not in ("Rolling", "ReplaceRootVolume"):
            raise _validation(f"Strategy {strategy} is not valid")
        desired = req.get("DesiredConfiguration")
        prefs = dict(req.get("Preferences") or {})
        self._check_desired(desired)
        self._check_prefs(group, desired, prefs)
        refresh = Refresh(f"r-{next(self._ids):08x}", group.name, copy.deepcopy(desired), prefs,
                          copy.deepcopy(group.config), self.now)
        self.refreshes.append(refresh)
        return {"InstanceRefreshId": refresh.refresh_id}

    @staticmethod
    def _check_desired(desired: dict[str, Any] | None) -> None:
        if desired is None:
            return
        # [API DesiredConfiguration] a launch template or a mixed instances policy, not both.
        if ("LaunchTemplate" in desired) == ("MixedInstancesPolicy" in desired):
            raise _validation("DesiredConfiguration takes exactly one of LaunchTemplate and "
                              "MixedInstancesPolicy")
        spec = desired.get("LaunchTemplate") or desired["MixedInstancesPolicy"].get(
            "LaunchTemplate", {}).get("LaunchTemplateSpecification", {})
        if not (spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")):
            raise _validation("A launch template id or name is required")

    @staticmethod
    def _check_prefs(group: Group, desired: dict[str, Any] | None,
                     prefs: dict[str, Any]) -> None:
        lo, hi = prefs.get("MinHealthyPercentage"), prefs.get("MaxHealthyPercentage")
        # [API-Prefs] MinHealthyPercentage 0..100; MaxHealthyPercentage 100..200, needs
        # MinHealthyPercentage, and the difference cannot be greater than 100.
        if lo is not None and not 0 <= lo <= 100:
            raise _validation("MinHealthyPercentage must be between 0 and 100")
        if hi is not None:
            if lo is None:
                raise _validation("MaxHealthyPercentage requires MinHealthyPercentage")
            if not 100 <= hi <= 200 or hi - lo > 100:
                raise _validation("MaxHealthyPercentage must be between 100 and 200 and at "
                                  "most 100 above MinHealthyPercentage")
        points = list(prefs.get("CheckpointPercentages") or [])
        # [UG-Check] ascending, unique, 1..100.
        if points and (points != sorted(set(points)) or points[0] < 1 or points[-1] > 100):
            raise _validation("CheckpointPercentages must be unique values in ascending order")
        # [API-Prefs] BakeTime 0..172800, CheckpointDelay 0..172800.
        for key in ("BakeTime", "CheckpointDelay"):
            if not 0 <= int(prefs.get(key, 0)) <= 172800:
                raise _validation(f"{key} must be between 0 and 172800")
        if prefs.get("ScaleInProtectedInstances", "Wait") not in ("Refresh", "Ignore", "Wait"):
            raise _validation("ScaleInProtectedInstances must be Refresh, Ignore or Wait")
        uses_configuration = desired is None and "LaunchConfigurationName" in group.config
        # [UG-Skip] "You can't use skip matching with a new launch configuration."
        if prefs.get("SkipMatching") and uses_configuration:
            raise _validation("SkipMatching is not supported with launch configurations")
        if prefs.get("AutoRollback"):
            # [UG-Back] rollback needs a desired configuration and a numbered version, on both
            # sides: the group's current one and the desired one.
            if desired is None:
                raise _validation("AutoRollback requires a DesiredConfiguration")
            for config in (group.config, desired):
                if _template_version(config) in ("$Latest", "$Default", None):
                    raise _validation("AutoRollback requires a specific launch template "
                                      "version, not $Latest or $Default")
        alarms = (prefs.get("AlarmSpecification") or {}).get("Alarms")
        # [API-Prefs] AlarmSpecification "fail the operation if an alarm threshold is met";
        # with AutoRollback the failure rolls back [UG-Back].
        if alarms is not None and not alarms:
            raise _validation("AlarmSpecification.Alarms must name at least one alarm")

    def describe_instance_refreshes(self, req: dict[str, Any]) -> dict[str, Any]:
        self._fault("DescribeInstanceRefreshes")
        group = self._group(req["AutoScalingGroupName"])
        wanted = req.get("InstanceRefreshIds")
        found = [r for r in self.refreshes if r.group == group.name
                 and (not wanted or r.refresh_id in wanted)]
        # [API-Desc] "sorted by start time, latest first"; MaxRecords default 50, max 100.
        found.sort(key=lambda r: r.started, reverse=True)
        return {"InstanceRefreshes": [self._shape(r)
                                      for r in found[: int(req.get("MaxRecords", 50))]]}

    def _shape(self, r: Refresh) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "InstanceRefreshId": r.refresh_id, "AutoScalingGroupName": r.group,
            "Status": r.status, "StartTime": r.started,
            "PercentageComplete": r.percentage(),
            "InstancesToUpdate": max(len(r.to_replace), 0),
            "Preferences": copy.deepcopy(r.prefs),
        }
        if r.reason:
            shaped["StatusReason"] = r.reason
        if r.ended is not None:
            shaped["EndTime"] = r.ended
        if r.desired is not None:
            shaped["DesiredConfiguration"] = copy.deepcopy(r.desired)
        return shaped

    def cancel_instance_refresh(self, req: dict[str, Any]) -> dict[str, Any]:
        self._fault("CancelInstanceRefresh")
        refresh = self._active(req["AutoScalingGroupName"])
        # [API-Cancel] "Cancels an instance refresh or rollback that is in progress" (Cancelling,
        # then Cancelled); "this does not roll back any changes that it made".
        refresh.status = "Cancelling"
        return {"InstanceRefreshId": refresh.refresh_id}

    def rollback_instance_refresh(self, req: dict[str, Any]) -> dict[str, Any]:
        self._fault("RollbackInstanceRefresh")
        refresh = self._active(req["AutoScalingGroupName"])
        # [API-Back] not supported without a desired configuration or with $Latest/$Default.
        if refresh.desired is None or _template_version(refresh.previous) in (
                "$Latest", "$Default", None):
            raise AwsError("IrreversibleInstanceRefresh", "The instance refresh cannot be "
                           "rolled back.")
        self._start_rollback(refresh, "Rollback requested by the caller")
        return {"InstanceRefreshId": refresh.refresh_id}

    def _active(self, name: str) -> Refresh:
        group = self._group(name)
        for r in self.refreshes:
            if r.group == group.name and r.status in ACTIVE and r.status != "Cancelling":
                return r
        # [API-Cancel]/[API-Back] ActiveInstanceRefreshNotFound
        raise AwsError("ActiveInstanceRefreshNotFound", "No in progress or pending Instance "
                       "Refresh found for this Auto Scaling group.")

    def describe_auto_scaling_groups(self, req: dict[str, Any]) -> dict[str, Any]:
        self._fault("DescribeAutoScalingGroups")
        names = req.get("AutoScalingGroupNames") or list(self.groups)
        out = []
        for name in names:
            if name not in self.groups:
                continue  # AWS answers an empty list for an unknown name
            g = self.groups[name]
            out.append({"AutoScalingGroupName": g.name, "MinSize": 0, "MaxSize": 100,
                        "DesiredCapacity": g.desired, "DefaultCooldown": 300,
                        "AvailabilityZones": ["ap-northeast-1a"], "HealthCheckType": "ELB",
                        "CreatedTime": self.now, **copy.deepcopy(g.config),
                        "Instances": [{"InstanceId": i.instance_id,
                                       "AvailabilityZone": "ap-northeast-1a",
                                       "LifecycleState": "InService", "HealthStatus": "Healthy",
                                       "ProtectedFromScaleIn": i.protected}
                                      for i in g.instances]})
        return {"AutoScalingGroups": out}

    # --- time ----------------------------------------------------------------------------------

    def tick(self) -> None:
        self.now += timedelta(seconds=SECONDS_PER_TICK)
        for r in self.refreshes:
            if r.status in ACTIVE:
                self._step(r)

    def _step(self, r: Refresh) -> None:
        group = self.groups.get(r.group)
        if group is None:
            self._end(r, "Failed", "The Auto Scaling group was deleted")
            return
        if r.status == "Cancelling":
            self._end(r, "Cancelled", "Cancelled by the caller")
        elif r.status == "Pending":
            self._plan(r, group)
        elif r.status == "InProgress":
            self._replace_batch(r, group)
        elif r.status == "Baking":
            self._bake(r, group)
        elif r.status == "RollbackInProgress":
            # [UG-Back] replaces the instances deployed so far with the saved configuration;
            # the group keeps the configuration it had before the refresh.
            for i in group.instances:
                if i.instance_id in r.replaced:
                    i.config = copy.deepcopy(r.previous)
            group.config = copy.deepcopy(r.previous)
            self._end(r, "RollbackSuccessful", r.reason)

    def _plan(self, r: Refresh, group: Group) -> None:
        r.status = "InProgress"
        skip = bool(r.prefs.get("SkipMatching"))
        protected_rule = r.prefs.get("ScaleInProtectedInstances", "Wait")
        todo = []
        for i in group.instances:
            # [UG-Skip] skip matching leaves instances already on the target configuration.
            if skip and i.config == r.target:
                continue
            # [API-Prefs] Ignore: protected instances are skipped; Refresh: replaced; Wait:
            # the refresh waits (up to an hour) for the protection to go.
            if i.protected and protected_rule == "Ignore":
                continue
            todo.append(i.instance_id)
        r.to_replace, r.total = todo, len(todo)

    def _batch(self, r: Refresh, group: Group) -> int:
        lo = int(r.prefs.get("MinHealthyPercentage", 90))
        hi = r.prefs.get("MaxHealthyPercentage")
        # [API-Prefs] a larger min..max range replaces more instances at a time; min 100 with
        # max 100 (or unset) replaces one at a time; above 100 launches before terminating.
        room = (int(hi) - 100) if hi is not None and int(hi) > 100 else 100 - lo
        return max(1, math.floor(group.desired * room / 100))

    def _replace_batch(self, r: Refresh, group: Group) -> None:
        if self._alarmed(r):
            return
        if r.paused > 0:  # [UG-Check] waiting CheckpointDelay at a checkpoint
            r.paused -= 1
            if r.paused == 0:
                r.reason = ""
            return
        by_id = {i.instance_id: i for i in group.instances}
        if r.prefs.get("ScaleInProtectedInstances", "Wait") == "Wait" and any(
                by_id[i].protected for i in r.to_replace if i in by_id):
            r.waited += SECONDS_PER_TICK
            r.reason = "Waiting for scale-in protection to be removed from instances"
            if r.waited >= PROTECTED_WAIT:
                self._fail(r, group, "Instances protected from scale in were not released "
                                     "within one hour")
            return
        for instance_id in r.to_replace[: self._batch(r, group)]:
            instance = by_id[instance_id]
            if r.target in self.broken:
                self._fail(r, group, f"Instance {instance_id} replacement failed its health "
                                     "checks")
                return
            instance.config = copy.deepcopy(r.target)
            r.to_replace.remove(instance_id)
            r.replaced.append(instance_id)
        pct = r.percentage()
        delay = int(r.prefs.get("CheckpointDelay", 3600))
        for point in r.prefs.get("CheckpointPercentages") or []:
            if point < 100 and pct >= point and point not in r.passed_checkpoints:
                r.passed_checkpoints.append(point)
                r.paused = max(1, math.ceil(delay / SECONDS_PER_TICK))
                r.reason = f"Waiting at checkpoint {point}%"
                return
        if not r.to_replace:
            # [API-Status] Baking: "waiting the specified bake time after an instance refresh
            # has finished updating instances".
            r.status = "Baking"
            self._bake(r, group)

    def _bake(self, r: Refresh, group: Group) -> None:
        if self._alarmed(r):
            return
        if r.baked < int(r.prefs.get("BakeTime", 0)):
            r.baked += SECONDS_PER_TICK
            return
        # [API-Start] "Once the instance refresh succeeds, Amazon EC2 Auto Scaling updates the
        # settings of the Auto Scaling group to reflect the new desired configuration."
        group.config = copy.deepcopy(r.target)
        self._end(r, "Successful", "")

    def _alarmed(self, r: Refresh) -> bool:
        alarms = (r.prefs.get("AlarmSpecification") or {}).get("Alarms") or []
        firing = [a for a in alarms if a in self.in_alarm]
        if firing:
            self._fail(r, self.groups[r.group], f"Alarm {firing[0]} is in ALARM state")
        return bool(firing)

    def _fail(self, r: Refresh, group: Group, reason: str) -> None:
        # [UG-Back] auto rollback on failure or alarm; without it the refresh ends Failed and
        # the group keeps its saved configuration (the desired one is applied only on success).
        if r.prefs.get("AutoRollback"):
            self._start_rollback(r, reason)
        else:
            self._end(r, "Failed", reason)

    @staticmethod
    def _start_rollback(r: Refresh, reason: str) -> None:
        r.status, r.reason = "RollbackInProgress", reason

    def _end(self, r: Refresh, status: str, reason: str) -> None:
        r.status, r.reason, r.ended = status, reason, self.now
