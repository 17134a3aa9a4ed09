"""The rollout gate: `pulumi up` waits for the instance refresh components/fleet/rollout_start.py
started, and fails with it. A dynamic resource reading that refresh's id: this file is the Pulumi
wiring; what to wait for and the wait are in rollout_gate_wait.py, the watching in refresh_watch.py.

It waits on that id only, never on a refresh found by time or version: a refresh started by
hand, or an earlier failed one, is never adopted. Its state records the id it last saw succeed,
so after a failure or a timeout the next `up` (same id, different state) waits on the same
refresh again: it resumes one still running and reports the failure of one that ended.

Create and update run only in an `up`; check and diff compare inputs and never call AWS. The
deployer needs autoscaling:StartInstanceRefresh and DescribeInstanceRefreshes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.fleet.refresh_watch import RolloutFailed
from components.fleet.rollout_gate_wait import changed_inputs, waits_again, watch
from components.provider_errors import one_line_failures
from components.settings import RolloutSettings


class RolloutGateProvider(dynamic.ResourceProvider):
    """Holds no state: it is pickled into the stack's state."""

    def configure(self, _req: dynamic.ConfigureRequest) -> None:
        one_line_failures()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        return dynamic.CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=bool(changed_inputs(olds, news)), replaces=[],
                                  delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        try:
            return dynamic.CreateResult(f"gate-{props['groupName']}", watch(props))
        except RolloutFailed as err:
            raise Exception(str(err)) from None

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        if not waits_again(olds, news):
            return dynamic.UpdateResult(dict(news))  # only the timeout or poll changed
        try:
            return dynamic.UpdateResult(watch(news))
        except RolloutFailed as err:
            raise Exception(str(err)) from None

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class RolloutGateArgs:
    settings: RolloutSettings
    region: str
    group_name: pulumi.Input[str]
    refresh_id: pulumi.Input[str]
    """The refresh components/fleet/rollout_start.py last started ('' when none)."""


class RolloutGate(dynamic.Resource, module="webtier", name="RolloutGate"):
    """Succeeds when the group's instance refresh does; fails the `up` when it does not."""

    refreshId: pulumi.Output[str]  # camelCase: a dynamic resource's outputs keep input names
    """The refresh the last successful `up` waited for; '' when it started none."""

    def __init__(self, name: str, args: RolloutGateArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        s = args.settings
        super().__init__(RolloutGateProvider(), name, {
            "region": args.region,
            "groupName": args.group_name,
            "refreshId": args.refresh_id,
            "timeout": s.gate_timeout,
            "poll": s.poll_interval,
        }, opts)
