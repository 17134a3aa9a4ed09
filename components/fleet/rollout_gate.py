"""The rollout gate: `pulumi up` waits for the instance refresh its update started, and fails
with it. A dynamic resource that depends on the group; the watching lives in refresh_watch.py.

Create and update run only in an `up` (a preview waits for nothing); check and diff compare
inputs and never call AWS. The deployer needs autoscaling:DescribeInstanceRefreshes,
DescribeAutoScalingGroups, and, to roll back, UpdateAutoScalingGroup and StartInstanceRefresh.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.fleet.refresh_watch import RolloutFailed, Target, Watch
from components.settings import RolloutSettings

LOOKBACK = timedelta(minutes=15)
"""How long before the gate runs the refresh it waits for may have started."""
WATCHED = ("groupName", "launchVersion", "templateId")


def _client(region: str) -> Any:
    import boto3  # only where an `up` really runs: tests and previews never build a client

    return boto3.client("autoscaling", region_name=region)


def _log(message: str) -> None:
    # Outside the engine (the provider process) pulumi.log writes to stderr, which `up` shows.
    pulumi.log.info(f"rollout gate: {message}")


def watch(props: Mapping[str, Any], olds: Mapping[str, Any] | None,
          client: Any = None) -> dict[str, Any]:
    """Wait for the refresh; the gate's outputs. Raises RolloutFailed (the `up` fails)."""
    previous = None
    if olds and olds.get("templateId") == props.get("templateId"):
        previous = str(olds.get("launchVersion") or "") or None
    target = Target(
        group=str(props["groupName"]),
        launch_version=str(props["launchVersion"]),
        template_id=str(props["templateId"]) if props.get("templateId") else None,
        previous_version=previous,
        started_after=datetime.now(UTC) - LOOKBACK,
    )
    w = Watch(client=client or _client(str(props["region"])), log=_log, sleep=time.sleep,
              clock=time.monotonic, timeout=int(props["timeout"]), poll=int(props["poll"]))
    refresh_id = w.run(target, roll_back=bool(props.get("rollBack")))
    return {**props, "refreshId": refresh_id}


class RolloutGateProvider(dynamic.ResourceProvider):
    """Holds no state: it is pickled into the stack's state."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        return dynamic.CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in (*WATCHED, "timeout", "poll", "rollBack", "region")
                   if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[],
                                  delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        try:
            return dynamic.CreateResult(f"gate-{props['groupName']}", watch(props, None))
        except RolloutFailed as err:
            raise Exception(str(err)) from None  # one line in `up`, no traceback

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        if not any(olds.get(k) != news.get(k) for k in WATCHED):
            return dynamic.UpdateResult({**news, "refreshId": olds.get("refreshId", "")})
        try:
            return dynamic.UpdateResult(watch(news, olds))
        except RolloutFailed as err:
            raise Exception(str(err)) from None

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class RolloutGateArgs:
    settings: RolloutSettings
    region: str
    group_name: pulumi.Input[str]
    launch_version: pulumi.Input[str]
    """Template version, or launch configuration name: a change is what the gate waits for."""
    template_id: pulumi.Input[str] | None


class RolloutGate(dynamic.Resource, module="webtier", name="RolloutGate"):
    """Succeeds when the group's instance refresh does; fails the `up` when it does not."""

    refreshId: pulumi.Output[str]  # camelCase: a dynamic resource's outputs keep input names
    """The refresh the last `up` waited for; '' when it started none."""

    def __init__(self, name: str, args: RolloutGateArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        s = args.settings
        super().__init__(RolloutGateProvider(), name, {
            "region": args.region,
            "groupName": args.group_name,
            "launchVersion": args.launch_version,
            "templateId": args.template_id,
            "timeout": s.gate_timeout,
            "poll": s.poll_interval,
            "rollBack": s.roll_back,
            "refreshId": None,
        }, opts)
