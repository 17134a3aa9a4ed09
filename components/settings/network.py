"""webtier:network: the VPC and the subnets the fleet and the load balancer use."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from components.settings.reader import ConfigObject
from contracts.aws_ids import AVAILABILITY_ZONE, SUBNET_ID, VPC_ID
from contracts.names import HIGH_AVAILABILITY_STACKS


@dataclass(frozen=True)
class Subnet:
    id: str
    az: str


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str
    fleet_subnets: tuple[Subnet, ...]
    load_balancer_subnets: tuple[Subnet, ...]

    @property
    def fleet_azs(self) -> tuple[str, ...]:
        return tuple(sorted({s.az for s in self.fleet_subnets}))


def _subnets(obj: ConfigObject, name: str) -> tuple[Subnet, ...]:
    out: list[Subnet] = []
    for i, item in enumerate(obj.items(name)):
        sub = ConfigObject(f"{obj.key}.{name}[{i}]", item, obj.problems)
        sid = sub.text("id", "", SUBNET_ID)
        az = sub.text("az", "", AVAILABILITY_ZONE)
        sub.required("id")
        sub.required("az")
        sub.done()
        if sid and az:
            out.append(Subnet(sid, az))
    return tuple(out)


def cidrs(obj: ConfigObject, name: str, default: Sequence[str]) -> tuple[str, ...]:
    """A list of CIDR blocks, normalised; ``default`` when the field is absent."""
    if name not in obj.raw:
        obj.used.add(name)
        return tuple(default)
    out: list[str] = []
    for i, item in enumerate(obj.items(name)):
        try:
            out.append(str(ipaddress.ip_network(str(item), strict=True)))
        except ValueError:
            obj.problems.add(f"{obj.key}.{name}[{i}]", item,
                             "must be a CIDR block like 10.0.0.0/16")
    return tuple(out)


def parse_network(obj: ConfigObject, stack: str) -> NetworkSettings:
    obj.required("vpcId")
    vpc = obj.text("vpcId", "", VPC_ID)
    fleet = _subnets(obj, "fleetSubnets")
    lb = _subnets(obj, "loadBalancerSubnets")
    if not lb:
        lb = fleet
    azs = {s.az for s in fleet}
    if stack in HIGH_AVAILABILITY_STACKS and (len(fleet) < 2 or len(azs) < 2):
        obj.problems.add(f"{obj.key}.fleetSubnets", [s.az for s in fleet],
                         f"stack '{stack}' needs subnets in at least two availability zones")
    elif not fleet:
        obj.problems.note(f"{obj.key}.fleetSubnets is missing: give at least one subnet")
    if len({s.az for s in lb}) < 2 and lb:
        obj.problems.add(f"{obj.key}.loadBalancerSubnets", [s.az for s in lb],
                         "an application load balancer needs subnets in at least two zones")
    if len({s.id for s in fleet}) != len(fleet):
        obj.problems.add(f"{obj.key}.fleetSubnets", [s.id for s in fleet], "lists a subnet twice")
    obj.done()
    return NetworkSettings(vpc, fleet, lb)
