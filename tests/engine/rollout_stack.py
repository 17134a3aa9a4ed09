"""The rollout start and gate under the REAL Pulumi engine, against the refresh double.

The inline program registers the two dynamic resources exactly as components/fleet/fleet.py and
__main__.py do (no AWS provider plugin runs here); the provider process reaches the double
through `AWS_ENDPOINT_URL_AUTO_SCALING`, botocore's per-service endpoint variable. A test changes
what the program asks for by editing `RolloutStack.desired` / `.launch` / `.preferences`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi import automation as auto

from components.fleet.rollout_gate import RolloutGate, RolloutGateArgs
from components.fleet.rollout_start_resource import RolloutStart, RolloutStartArgs
from components.settings import RolloutSettings
from tests.engine.workspace import Captured, inline_stack
from tests.fleet.autoscaling_endpoint import serving
from tests.fleet.refresh_double import AutoScalingDouble

PROJECT = "webtier-engine-rollout"
GROUP = "webapp-enginetest-fleet-1"
START_TYPE = "pulumi-python:dynamic/webtier:RolloutStart"
GATE_TYPE = "pulumi-python:dynamic/webtier:RolloutGate"


def template(version: str) -> dict[str, Any]:
    return {"LaunchTemplate": {"LaunchTemplateId": "lt-0engine", "Version": version}}


def mixed(version: str, spot: str) -> dict[str, Any]:
    return {"MixedInstancesPolicy": {
        "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": "lt-0engine",
                                                           "Version": version},
                           "Overrides": [{"InstanceType": "t3.micro"},
                                         {"InstanceType": "t3a.micro"}]},
        "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                  "OnDemandPercentageAboveBaseCapacity": 0,
                                  "SpotAllocationStrategy": spot}}}


def settings(timeout: int) -> RolloutSettings:
    return RolloutSettings(
        min_healthy_percentage=100, max_healthy_percentage=200, checkpoints=(),
        checkpoint_delay=0, skip_matching=True, alarm_rollback=True, wait=True,
        gate_timeout=timeout, poll_interval=0, roll_back=True, bake_time=120,
        launch_heartbeat_timeout=600, terminate_heartbeat_timeout=300, error_rate_percent=5,
        alarm_periods=3)


@dataclass
class RolloutStack:
    aws: AutoScalingDouble
    stack: auto.Stack
    desired: dict[str, Any] = field(default_factory=lambda: template("7"))
    launch: str = "lt-0engine:7"
    timeout: int = 600
    preferences: dict[str, Any] = field(default_factory=lambda: {
        "MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "InstanceWarmup": 0,
        "BakeTime": 120, "SkipMatching": True, "AutoRollback": True,
        "AlarmSpecification": {"Alarms": ["webapp-enginetest-health-5xx-rate"]}})
    outputs: list[Captured] = field(default_factory=list)

    def up(self) -> auto.UpResult:
        captured = Captured()
        self.outputs.append(captured)
        return self.stack.up(on_output=captured)

    def roll(self, desired: dict[str, Any], version: str) -> None:
        self.desired, self.launch = desired, f"lt-0engine:{version}"

    def started(self) -> list[str]:
        return [r.refresh_id for r in self.aws.refreshes]


@contextmanager
def rollout_stack(tmp: Path, stack_name: str) -> Iterator[RolloutStack]:
    """A converged stack (one `up` done) over a group on template version 7."""
    aws = AutoScalingDouble()
    aws.add_group(GROUP, template("7"), desired=2)
    with serving(aws) as url:
        holder: dict[str, RolloutStack] = {}

        def program() -> None:
            s = holder["s"]
            start = RolloutStart("rollout-start", RolloutStartArgs(
                region="ap-northeast-1", group_name=GROUP, desired=s.desired, launch=s.launch,
                preferences=s.preferences))
            RolloutGate("rollout-gate", RolloutGateArgs(
                settings=settings(s.timeout), region="ap-northeast-1", group_name=GROUP,
                refresh_id=start.refreshId), opts=pulumi.ResourceOptions(depends_on=[start]))

        stack = inline_stack(tmp, PROJECT, stack_name, program)
        env = stack.workspace.env_vars
        assert isinstance(env, dict)
        env.update({
            "AWS_ENDPOINT_URL_AUTO_SCALING": url, "AWS_ACCESS_KEY_ID": "engine",
            "AWS_SECRET_ACCESS_KEY": "engine", "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true"})
        holder["s"] = RolloutStack(aws, stack)
        holder["s"].up()
        yield holder["s"]
