"""Network rules: no port in PORT_ROLES (SSH and every Consul port) open to the internet."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from contracts import consul_ports
from policy.rules.values import (
    INGRESS_RULE,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SECURITY_GROUP_TYPES,
    items,
    strings,
)

# Ports nobody on the internet may reach: SSH and every port a Consul agent listens on.
PORT_ROLES: Mapping[int, str] = {22: "SSH", **{p.port: p.purpose for p in consul_ports.ALL}}


DEFAULT_BLOCKED_PORTS: tuple[int, ...] = tuple(PORT_ROLES)


# --- security groups -----------------------------------------------------------------------

def _ingress_rules(resource_type: str, props: Mapping[str, Any]
                   ) -> Iterator[tuple[str, str, Any, Any, list[str]]]:
    """(label, protocol, fromPort, toPort, CIDRs) of every ingress rule the resource declares."""
    if resource_type == SECURITY_GROUP:
        for index, rule in enumerate(items(props.get("ingress"))):
            yield (f"ingress[{index}]", str(rule.get("protocol")), rule.get("fromPort"),
                   rule.get("toPort"),
                   strings(rule.get("cidrBlocks")) + strings(rule.get("ipv6CidrBlocks")))
    elif resource_type == SECURITY_GROUP_RULE:
        if props.get("type") == "ingress":
            yield ("rule", str(props.get("protocol")), props.get("fromPort"), props.get("toPort"),
                   strings(props.get("cidrBlocks")) + strings(props.get("ipv6CidrBlocks")))
    elif resource_type == INGRESS_RULE:
        yield ("rule", str(props.get("ipProtocol")), props.get("fromPort"), props.get("toPort"),
               strings(props.get("cidrIpv4")) + strings(props.get("cidrIpv6")))


def _is_anywhere(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False  # the provider rejects a malformed CIDR itself


def _port_range(protocol: str, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """The TCP/UDP ports a rule opens, or None when ports do not apply (ICMP, ESP, ...)."""
    protocol = protocol.strip().lower()
    if protocol in ("-1", "all"):
        return (0, 65535)
    if protocol not in ("tcp", "udp", "6", "17"):
        return None

    def port(value: Any, missing: int) -> int:
        try:
            given = int(float(value))
        except (TypeError, ValueError):
            return missing
        return missing if given < 0 else given

    # A missing bound counts as open to the end of the range: never assume it is closed.
    return (port(from_port, 0), port(to_port, 65535))


def restricted_ports(resource_type: str, props: Mapping[str, Any],
                     blocked_ports: Iterable[int] = DEFAULT_BLOCKED_PORTS) -> list[str]:
    """No ingress from 0.0.0.0/0 or ::/0 to SSH or any Consul port."""
    if resource_type not in SECURITY_GROUP_TYPES:
        return []
    blocked = sorted({int(port) for port in blocked_ports})
    problems = []
    for label, protocol, from_port, to_port, cidrs in _ingress_rules(resource_type, props):
        ports = _port_range(protocol, from_port, to_port)
        if ports is None:
            continue
        hit = [port for port in blocked if ports[0] <= port <= ports[1]]
        if not hit:
            continue
        what = "all protocols" if protocol.strip().lower() in ("-1", "all") else protocol
        for cidr in cidrs:
            if _is_anywhere(cidr):
                named = ", ".join(f"{port} ({PORT_ROLES.get(port, 'blocked')})" for port in hit)
                problems.append(f"{label} opens {what} to port(s) {named} from {cidr}: allow "
                                "only the Consul cluster's security group or a private CIDR")
    return problems
