"""webtier:fleet: what the Auto Scaling group launches, and how many."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings.reader import ConfigObject
from contracts import consul_ports
from contracts.aws_ids import INSTANCE_TYPE

LaunchKind = Literal["template", "configuration"]
VolumeType = Literal["gp2", "gp3", "io1", "io2"]


@dataclass(frozen=True)
class FleetSettings:
    launch_kind: LaunchKind
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    health_check_grace_period: int
    app_port: int
    root_volume_size: int
    root_volume_type: VolumeType
    instance_warmup: int


def parse_fleet(obj: ConfigObject) -> FleetSettings:
    kind: LaunchKind = obj.choice("launchKind", "template", LaunchKind)
    lo = obj.integer("minSize", 2, 0, 1000)
    hi = obj.integer("maxSize", 20, 1, 1000)
    desired = obj.integer("desiredCapacity", lo, 0, 1000)
    # A refused size is named already; its default is no value to compare the others with.
    if not obj.valid("minSize", "maxSize"):
        pass
    elif lo > hi:
        obj.problems.add(f"{obj.key}.minSize", lo, f"must not exceed maxSize ({hi})")
    elif obj.valid("desiredCapacity") and not lo <= desired <= hi:
        obj.problems.add(f"{obj.key}.desiredCapacity", desired,
                         f"must be within [minSize, maxSize] = [{lo}, {hi}]")
    app_port = obj.integer("appPort", 8080, 1024, 65535)
    if app_port in consul_ports.NUMBERS:
        purpose = consul_ports.BY_NUMBER[app_port].purpose
        obj.problems.add(f"{obj.key}.appPort", app_port,
                         f"collides with a Consul port ({purpose})")
    settings = FleetSettings(
        launch_kind=kind,
        instance_type=obj.text("instanceType", "t3.micro", INSTANCE_TYPE),
        min_size=lo,
        max_size=hi,
        desired_capacity=desired,
        health_check_grace_period=obj.integer("healthCheckGracePeriod", 300, 0, 7200),
        app_port=app_port,
        root_volume_size=obj.integer("rootVolumeSize", 16, 8, 16384),
        root_volume_type=obj.choice("rootVolumeType", "gp3", VolumeType),
        instance_warmup=obj.integer("instanceWarmup", 300, 0, 3600),
    )
    obj.done()
    return settings
