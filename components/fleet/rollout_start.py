"""The rollout's start: a new launch setting becomes an instance refresh the gate starts itself,
as CloudFormation's AutoScalingRollingUpdate/instance-refresh update policy does.

The group resource no longer moves its launch template version or mixed instances policy
(components/fleet/fleet.py ignores those inputs): this resource calls StartInstanceRefresh with the
new DesiredConfiguration and the settings' preferences, so AWS moves the group only when the refresh
succeeds and rolls it back itself otherwise. Its update *succeeds* once AWS accepted the refresh,
so the refresh id and target are recorded in state even when the wait that follows
(components/fleet/rollout_gate.py) fails or times out: a retry resumes that same refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.fleet.aws_causes import cause
from components.fleet.refresh_watch import RolloutFailed
from components.provider_errors import one_line_failures

STARTS_ON = ("desired", "launch")
"""Inputs whose change is a new rollout; a change of preferences alone waits for the next."""


def client(region: str) -> Any:
    import boto3  # only where an `up` really runs: tests and previews never build a client

    return boto3.client("autoscaling", region_name=region)


def log(message: str) -> None:
    pulumi.log.info(f"rollout gate: {message}")


def wire_ints(value: Any) -> Any:
    """Pulumi's wire format has only doubles: 100 arrives as 100.0, which botocore refuses for
    an integer parameter. Every number the refresh request carries is whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: wire_ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire_ints(v) for v in value]
    return value


def live_launch(group: Mapping[str, Any]) -> str:
    """What a DescribeAutoScalingGroups entry launches, in the form of the `launch` input."""
    if group.get("LaunchConfigurationName"):
        return str(group["LaunchConfigurationName"])
    spec = group.get("LaunchTemplate") or group.get("MixedInstancesPolicy", {}).get(
        "LaunchTemplate", {}).get("LaunchTemplateSpecification", {})
    return f"{spec.get('LaunchTemplateId', '')}:{spec.get('Version', '')}"


def _rolls(props: Mapping[str, Any], olds: Mapping[str, Any], aws: Any) -> bool:
    group = str(props["groupName"])
    if not olds:
        # First run for this group: a group created by this `up` launches these settings
        # already; a group that predates the gate may not (its launch inputs are ignored now).
        try:
            found = aws.describe_auto_scaling_groups(
                AutoScalingGroupNames=[group]).get("AutoScalingGroups") or []
        except Exception as err:  # cause() re-raises what is not AWS's
            raise RolloutFailed(cause(err, group, "reading the group's launch settings")
                                ) from None
        return bool(found) and live_launch(found[0]) != props["launch"]
    if olds.get("groupName") != group:
        return False  # a new group launches the new settings already
    return any(olds.get(k) != props.get(k) for k in STARTS_ON)


def start(props: Mapping[str, Any], olds: Mapping[str, Any], aws: Any = None) -> dict[str, Any]:
    """The outputs after starting the refresh, or recording that there is nothing to roll."""
    group = str(props["groupName"])
    aws = aws or client(str(props["region"]))
    if not _rolls(props, olds, aws):
        kept = olds.get("refreshId", "") if olds.get("groupName") == group else ""
        return {**props, "refreshId": kept, "target": props["launch"]}
    request: dict[str, Any] = {"AutoScalingGroupName": group, "Strategy": "Rolling",
                               "Preferences": wire_ints(props["preferences"])}
    if props.get("desired"):
        request["DesiredConfiguration"] = wire_ints(props["desired"])
    try:
        started = aws.start_instance_refresh(**request)
    except Exception as err:  # cause() re-raises what is not AWS's
        code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
        if code == "InstanceRefreshInProgress":
            raise RolloutFailed(
                f"an instance refresh is already running on {group} (the last one this stack "
                f"started: {olds.get('refreshId') or 'none'}): wait for it to end, or cancel it "
                f"with `aws autoscaling cancel-instance-refresh --auto-scaling-group-name "
                f"{group}`, then run `pulumi up` again") from None
        raise RolloutFailed(cause(err, group, "starting an instance refresh")) from None
    refresh_id = str(started["InstanceRefreshId"])
    log(f"started instance refresh {refresh_id} on {group} towards {props['launch']}")
    return {**props, "refreshId": refresh_id, "target": props["launch"]}


class RolloutStartProvider(dynamic.ResourceProvider):
    """Holds no state of its own: it is pickled into the stack's state."""

    def configure(self, _req: dynamic.ConfigureRequest) -> None:
        one_line_failures()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        return dynamic.CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("groupName", "region", "preferences", *STARTS_ON)
        return dynamic.DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys),
                                  replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        try:
            return dynamic.CreateResult(f"rollout-{props['groupName']}", start(props, {}))
        except RolloutFailed as err:
            raise Exception(str(err)) from None

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        try:
            return dynamic.UpdateResult(start(news, olds))
        except RolloutFailed as err:
            raise Exception(str(err)) from None

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
