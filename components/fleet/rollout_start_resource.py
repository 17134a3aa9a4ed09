"""The rollout start as a Pulumi resource: wiring only (out of mutation scope), the provider and
its decisions are components/fleet/rollout_start.py. The resource type comes from `module` and
`name` below, not from this file's path, so state made before the move still matches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.fleet.rollout_start import RolloutStartProvider


@dataclass(frozen=True)
class RolloutStartArgs:
    region: str
    group_name: pulumi.Input[str]
    desired: pulumi.Input[Mapping[str, Any]] | None
    """StartInstanceRefresh's DesiredConfiguration; None with a launch configuration."""
    launch: pulumi.Input[str]
    """What the group should launch: template id:version, or the launch configuration's name."""
    preferences: Mapping[str, Any]


class RolloutStart(dynamic.Resource, module="webtier", name="RolloutStart"):
    """Starts the instance refresh a new launch setting needs; records it for the gate."""

    refreshId: pulumi.Output[str]  # camelCase: a dynamic resource's outputs keep input names
    """The refresh this stack last started ('' before the first): what the gate waits on."""
    target: pulumi.Output[str]

    def __init__(self, name: str, args: RolloutStartArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RolloutStartProvider(), name, {
            "region": args.region,
            "groupName": args.group_name,
            "desired": args.desired,
            "launch": args.launch,
            "preferences": dict(args.preferences),
            "refreshId": None,
            "target": None,
        }, opts)
