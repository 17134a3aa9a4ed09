"""Failover prepared queries: the pure payload and the offline plan of a two-datacenter stack.
The provider itself runs against real Consul 1.14.11 agents in
tests/consul_agent/test_prepared_query_agent.py."""

from __future__ import annotations

import base64

from components.consul.prepared_query import PreparedQueryProvider
from components.consul.prepared_query_payload import failover_query
from plan.cli import registrations, tree_text

TOKEN = "management-token-5e1f"
TWO_DC = {"webtier:consul.wan": {"peers": ["idcf", "osaka"], "advertiseAddrWan": "public-ipv4"}}
QUERY = "pulumi-python:dynamic/consul:PreparedQuery"


def test_failover_query_tries_the_peers_in_the_given_order_with_healthy_instances_only() -> None:
    body = failover_query("webapp", ["idcf", "osaka"])
    assert body["Name"] == "webapp-failover"
    assert body["Service"]["Failover"] == {"Datacenters": ["idcf", "osaka"]}
    assert body["Service"]["OnlyPassing"] is True


def test_moving_the_query_to_another_datacenter_replaces_it() -> None:
    old = {"datacenter": "staging", "service": "webapp"}
    diff = PreparedQueryProvider().diff("q", old, {**old, "datacenter": "tokyo"})
    assert diff.replaces == ["datacenter"]


def test_committed_stacks_create_no_prepared_query() -> None:
    assert not [r for r in registrations("staging") if r.type == QUERY]


def test_two_datacenter_plan_shows_the_failover_query() -> None:
    queries = [r for r in registrations("staging", config_overrides=TWO_DC) if r.type == QUERY]
    assert [(q.inputs["name"], q.inputs["failoverDatacenters"]) for q in queries] == \
        [("webapp-staging-failover", ["idcf", "osaka"])]
    text = tree_text("staging", config_overrides=TWO_DC)
    assert "failoverDatacenters: [idcf, osaka]" in text
    assert "name: webapp-staging-failover" in text


def test_two_datacenter_plan_advertises_the_wan_address_at_boot() -> None:
    regs = registrations("staging", config_overrides=TWO_DC)
    template = next(r for r in regs if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert "advertise_addr_wan" in script
    assert "imds public-ipv4" in script
