"""Watching one instance refresh to its end: which refresh, how far, and what its end means.

Pure decisions over DescribeInstanceRefreshes answers plus one loop with the clock, the sleep and
the Auto Scaling client passed in, so every path runs in tests against a double of the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SUCCEEDED = frozenset({"Successful"})
FAILED = frozenset({"Failed", "Cancelled", "RollbackFailed", "RollbackSuccessful"})
RUNNING = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
FIND_TRIES = 3
"""Polls to find the refresh the update started before deciding it started none."""


class RolloutFailed(Exception):
    """The refresh ended badly or did not end in time; the message names it and why."""


@dataclass(frozen=True)
class Target:
    group: str
    launch_version: str
    """Template version (template mode) or launch configuration name the group must end on."""
    template_id: str | None
    """Launch template id; None in launch-configuration mode."""
    previous_version: str | None
    """What the group launched before this update: where a failed refresh goes back to."""
    started_after: datetime
    """A refresh older than this was not started by this update."""


def pick(refreshes: Sequence[Mapping[str, Any]], target: Target) -> Mapping[str, Any] | None:
    """The refresh this update started: the newest one aimed at the target's template version,
    else (launch configurations name no desired configuration) the newest started since."""
    recent = [r for r in refreshes if r.get("StartTime") and r["StartTime"] >= target.started_after]
    recent.sort(key=lambda r: r["StartTime"], reverse=True)
    if target.template_id is not None:
        for r in recent:
            wanted = r.get("DesiredConfiguration", {}).get("LaunchTemplate", {})
            if wanted.get("Version") == target.launch_version:
                return r
    return recent[0] if recent else None


def progress(refresh: Mapping[str, Any]) -> str:
    return (f"instance refresh {refresh['InstanceRefreshId']}: {refresh['Status']}, "
            f"{refresh.get('PercentageComplete', 0)}% done, "
            f"{refresh.get('InstancesToUpdate', '?')} instance(s) to update")


def failure(refresh: Mapping[str, Any]) -> str:
    reason = refresh.get("StatusReason") or "AWS gave no reason"
    return f"instance refresh {refresh['InstanceRefreshId']} ended {refresh['Status']}: {reason}"


@dataclass
class Watch:
    client: Any
    """A boto3 Auto Scaling client (or its double)."""
    log: Callable[[str], None]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    timeout: int
    poll: int

    def run(self, target: Target, roll_back: bool) -> str:
        """Wait for the refresh; its id when it succeeded, '' when none was started.

        Raises RolloutFailed when it fails, is cancelled, rolls back or outlives the timeout.
        """
        deadline = self.clock() + self.timeout
        refresh = self._find(target)
        if refresh is None:
            self._check_group_is_on(target)
            self.log(f"no instance refresh started on {target.group}: nothing to wait for")
            return ""
        refresh_id = str(refresh["InstanceRefreshId"])
        last = ""
        while refresh["Status"] in RUNNING:
            line = progress(refresh)
            if line != last:
                self.log(line)
                last = line
            if self.clock() >= deadline:
                raise RolloutFailed(
                    f"instance refresh {refresh_id} on {target.group} is still "
                    f"{refresh['Status']} after {self.timeout}s (webtier:rollout.gateTimeout); "
                    "it keeps running in AWS: watch it with `aws autoscaling "
                    f"describe-instance-refreshes --auto-scaling-group-name {target.group}`")
            self.sleep(self.poll)
            refresh = self._describe(target.group, refresh_id)
        if refresh["Status"] in SUCCEEDED:
            self.log(progress(refresh))
            return refresh_id
        message = failure(refresh)
        if roll_back and target.template_id and target.previous_version:
            message += "; " + self._roll_back(target)
        raise RolloutFailed(message)

    def _find(self, target: Target) -> Mapping[str, Any] | None:
        for attempt in range(FIND_TRIES):
            found = pick(self._list(target.group), target)
            if found is not None:
                return found
            if attempt < FIND_TRIES - 1:
                self.sleep(self.poll)
        return None

    def _list(self, group: str) -> list[Mapping[str, Any]]:
        answer = self.client.describe_instance_refreshes(AutoScalingGroupName=group,
                                                         MaxRecords=10)
        return list(answer.get("InstanceRefreshes", []))

    def _describe(self, group: str, refresh_id: str) -> Mapping[str, Any]:
        answer = self.client.describe_instance_refreshes(AutoScalingGroupName=group,
                                                         InstanceRefreshIds=[refresh_id])
        found = answer.get("InstanceRefreshes")
        if not found:
            raise RolloutFailed(f"instance refresh {refresh_id} on {group} disappeared")
        return dict(found[0])

    def _check_group_is_on(self, target: Target) -> None:
        """An earlier failed rollout may have pinned the group back: say so, don't pass."""
        if target.template_id is None:
            return
        groups = self.client.describe_auto_scaling_groups(
            AutoScalingGroupNames=[target.group]).get("AutoScalingGroups")
        if not groups:
            return
        live = str(groups[0].get("LaunchTemplate", {}).get("Version", ""))
        if live and live != target.launch_version:
            raise RolloutFailed(
                f"{target.group} launches template version {live}, not {target.launch_version}, "
                "and no instance refresh is moving it (an earlier rollout was rolled back): "
                "run `pulumi up --refresh` to start the rollout again")

    def _roll_back(self, target: Target) -> str:
        # The provider already moved the group to the new version (#34189): put it back, and
        # replace what the failed refresh launched with a refresh to the previous version.
        assert target.template_id is not None
        assert target.previous_version is not None
        spec = {"LaunchTemplateId": target.template_id, "Version": target.previous_version}
        try:
            self.client.update_auto_scaling_group(AutoScalingGroupName=target.group,
                                                  LaunchTemplate=spec)
            started = self.client.start_instance_refresh(
                AutoScalingGroupName=target.group, Strategy="Rolling",
                Preferences={"SkipMatching": True})
        except Exception as err:  # any API error: the message says what to do by hand
            return (f"putting {target.group} back on template version "
                    f"{target.previous_version} failed ({err}): do it by hand")
        return (f"{target.group} is back on template version {target.previous_version}; "
                f"instance refresh {started['InstanceRefreshId']} replaces the instances the "
                "failed refresh launched")
