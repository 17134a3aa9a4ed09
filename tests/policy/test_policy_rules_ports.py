"""restricted_ports called directly: which properties of each security-group resource kind it reads,
how protocols and missing or odd port bounds are read, and the exact message an operator sees."""

from __future__ import annotations

from typing import Any

from policy.rules import INGRESS_RULE, SECURITY_GROUP, SECURITY_GROUP_RULE, restricted_ports

FIX = "allow only the Consul cluster's security group or a private CIDR"


def inline(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"vpcId": "vpc-1", "ingress": list(rules)}


def tcp(from_port: Any, to_port: Any, **cidrs: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": from_port, "toPort": to_port, **cidrs}


def test_inline_ingress_reads_ipv6_blocks_too() -> None:
    props = inline(tcp(22, 22, cidrBlocks=["10.0.0.0/8"], ipv6CidrBlocks=["::/0"]))
    assert restricted_ports(SECURITY_GROUP, props) == [
        f"ingress[0] opens tcp to port(s) 22 (SSH) from ::/0: {FIX}"]


def test_security_group_rule_reads_its_own_ports_and_both_cidr_lists() -> None:
    web = {"type": "ingress", "protocol": "tcp", "fromPort": 80, "toPort": 80,
           "cidrBlocks": ["0.0.0.0/0"], "ipv6CidrBlocks": ["::/0"]}
    assert restricted_ports(SECURITY_GROUP_RULE, web) == []
    ssh = {**web, "fromPort": 22, "toPort": 22, "cidrBlocks": []}
    assert restricted_ports(SECURITY_GROUP_RULE, ssh) == [
        f"rule opens tcp to port(s) 22 (SSH) from ::/0: {FIX}"]


def test_ingress_rule_reads_its_own_ports_and_ipv4_cidr() -> None:
    web = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
    assert restricted_ports(INGRESS_RULE, web) == []
    dns = {**web, "ipProtocol": "udp", "fromPort": 8600, "toPort": 8600}
    assert restricted_ports(INGRESS_RULE, dns) == [
        f"rule opens udp to port(s) 8600 (Consul DNS) from 0.0.0.0/0: {FIX}"]


def test_any_prefix_zero_cidr_is_anywhere_and_a_malformed_one_is_not() -> None:
    props = inline(tcp(22, 22, cidrBlocks=[" 10.1.2.3/0 ", "not-a-cidr", "10.0.0.0/8"]))
    assert restricted_ports(SECURITY_GROUP, props) == [
        f"ingress[0] opens tcp to port(s) 22 (SSH) from  10.1.2.3/0 : {FIX}"]


def test_protocol_numbers_and_all_spelled_out_are_read_like_their_names() -> None:
    props = inline({"protocol": "6", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
                   {"protocol": "17", "fromPort": 8301, "toPort": 8301,
                    "cidrBlocks": ["0.0.0.0/0"]},
                   {"protocol": " ALL ", "cidrBlocks": ["0.0.0.0/0"]})
    assert restricted_ports(SECURITY_GROUP, props, blocked_ports=[22]) == [
        f"ingress[0] opens 6 to port(s) 22 (SSH) from 0.0.0.0/0: {FIX}",
        f"ingress[2] opens all protocols to port(s) 22 (SSH) from 0.0.0.0/0: {FIX}",
    ]
    assert restricted_ports(SECURITY_GROUP, props, blocked_ports=[8301]) == [
        f"ingress[1] opens 17 to port(s) 8301 (Consul gossip) from 0.0.0.0/0: {FIX}",
        f"ingress[2] opens all protocols to port(s) 8301 (Consul gossip) from 0.0.0.0/0: {FIX}",
    ]


def test_all_protocols_open_the_whole_range_from_0_to_65535() -> None:
    props = inline({"protocol": "all", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]})
    assert restricted_ports(SECURITY_GROUP, props, blocked_ports=[65535, 0]) == [
        f"ingress[0] opens all protocols to port(s) 0 (blocked), 65535 (blocked) from 0.0.0.0/0: "
        f"{FIX}"]


def test_missing_or_negative_bounds_open_to_the_end_of_the_range() -> None:
    blocked = [0, 65535]
    for from_port, to_port in ((None, None), (-1, -1), ("x", None)):
        props = inline(tcp(from_port, to_port, cidrBlocks=["0.0.0.0/0"]))
        assert restricted_ports(SECURITY_GROUP, props, blocked_ports=blocked) == [
            f"ingress[0] opens tcp to port(s) 0 (blocked), 65535 (blocked) from 0.0.0.0/0: {FIX}"
        ], (from_port, to_port)


def test_port_zero_is_a_port_not_a_missing_bound() -> None:
    props = inline(tcp(0, 0, cidrBlocks=["0.0.0.0/0"]))
    assert restricted_ports(SECURITY_GROUP, props) == []
    assert restricted_ports(SECURITY_GROUP, props, blocked_ports=[0]) == [
        f"ingress[0] opens tcp to port(s) 0 (blocked) from 0.0.0.0/0: {FIX}"]


def test_every_rule_is_checked_after_one_without_ports_or_without_a_hit() -> None:
    props = inline({"protocol": "icmp", "fromPort": -1, "toPort": -1, "cidrBlocks": ["0.0.0.0/0"]},
                   tcp(80, 80, cidrBlocks=["0.0.0.0/0"]),
                   tcp(22, 22, cidrBlocks=["0.0.0.0/0"]))
    assert restricted_ports(SECURITY_GROUP, props) == [
        f"ingress[2] opens tcp to port(s) 22 (SSH) from 0.0.0.0/0: {FIX}"]
