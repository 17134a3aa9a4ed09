"""Scenario 7, a second datacenter: osaka (one server, one node with the app's service) joined to
the fleet's datacenter over WAN as docs/consul.md sets peers up. The failover prepared query is
created by the real PreparedQueries component under the Pulumi engine; with the app critical on
every local node, the query asked on a node's own agent (as the app asks it) fails over to osaka
and answers with the peer node's WAN address, translated by that agent (translate_wan_addrs).
The local apps are started again afterwards, and the query answers locally again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from components.consul.prepared_query_payload import query_name
from consul_tokens.model import KV_WRITER
from consul_tokens.rules import stack_tokens
from tests.fleet_harness.fleet import APP, KV_PREFIX, NODE_PREFIX, SERVICE, STACK, Fleet
from tests.fleet_harness.node import Node
from tests.fleet_harness.peer_dc import (
    NODE_ADDRESS,
    NODE_WAN_ADDRESS,
    PEER_DC,
    PEER_NODE,
    PeerDatacenter,
)
from tests.fleet_harness.query_engine import QueryEngine

pytestmark = pytest.mark.fleet_harness

SERVICE_ONLY = f'service "{SERVICE}" {{\n  policy = "read"\n}}\n'
"""What docs/consul.md said the query's caller needs: the scenario found it answers no node."""
CALLER_RULES = SERVICE_ONLY + 'node_prefix "" {\n  policy = "read"\n}\n'
"""What the query's caller needs in every datacenter it may reach (docs/consul.md, section 2):
read on the service, and on the nodes answering it, whichever stack named them."""


@dataclass
class Failover:
    peer: PeerDatacenter
    caller: str
    local: dict[str, Any]
    failed_over: dict[str, Any]
    service_read_only: dict[str, Any]
    restored: dict[str, Any]


def in_service(fleet: Fleet) -> list[Node]:
    return [n for n in fleet.nodes if n.powered()
            and fleet.lifecycle.instances[n.instance_id].state == "InService"]


def make_token(fleet: Fleet, name: str, rules: str) -> str:
    policy = fleet.server.call("PUT", "/v1/acl/policy", {"Name": name, "Rules": rules})
    token = fleet.server.call("PUT", "/v1/acl/token", {"Description": name,
                                                       "Policies": [{"ID": policy["ID"]}]})
    return str(token["SecretID"])


def allow_failover_queries(fleet: Fleet) -> None:
    """The kv-writer's policy as `python -m consul_tokens` writes it for a stack with peers."""
    spec = next(s for s in stack_tokens(APP, STACK, KV_PREFIX, (SERVICE,)) if s.role == KV_WRITER)
    policy = fleet.server.call("GET", f"/v1/acl/policy/name/{spec.policy_name}")
    fleet.server.call("PUT", f"/v1/acl/policy/{policy['ID']}",
                      {"Name": spec.policy_name, "Rules": spec.rules})


def execute(node: Node, token: str) -> dict[str, Any]:
    done = node.run("curl", "-fsS", "-H", f"X-Consul-Token: {token}",
                    f"http://127.0.0.1:8500/v1/query/{query_name(SERVICE)}/execute", check=True)
    return dict(json.loads(done.stdout))


def wait_passing(fleet: Fleet, nodes: list[Node], want: bool, timeout: float = 60) -> None:
    names = {f"{NODE_PREFIX}{n.instance_id}" for n in nodes}
    deadline = time.monotonic() + timeout
    while True:
        passing = {e["Node"]["Node"] for e in fleet.server.call(
            "GET", f"/v1/health/service/{SERVICE}?passing=true")}
        if (names <= passing) if want else not (names & passing):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"app checks not {'passing' if want else 'critical'} on "
                                 f"{sorted(names)} after {timeout:.0f} s: passing {passing}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def failover(fleet: Fleet) -> Iterator[Failover]:
    nodes = in_service(fleet)
    assert nodes
    peer = PeerDatacenter(fleet.workdir / "osaka", fleet.server)
    fleet.stack.callback(peer.stop)  # also when this module fails half-way
    peer.start()
    allow_failover_queries(fleet)
    engine = QueryEngine(fleet.workdir / "query-engine", fleet.server.http, STACK,
                         fleet.tokens[KV_WRITER], (SERVICE,), (PEER_DC,))
    assert query_name(SERVICE) in engine.up()
    caller = make_token(fleet, "fleet-failover-caller", CALLER_RULES)
    service_only = make_token(fleet, "fleet-failover-service-only", SERVICE_ONLY)
    asking = nodes[0]
    try:
        local = execute(asking, caller)
        for n in nodes:
            n.run("systemctl", "stop", "app.service", check=True)
        wait_passing(fleet, nodes, want=False)
        failed_over = execute(asking, caller)
        service_read_only = execute(asking, service_only)
    finally:
        for n in nodes:
            n.run("systemctl", "start", "app.service")
        wait_passing(fleet, nodes, want=True)
    restored = execute(asking, caller)
    try:
        yield Failover(peer, caller, local, failed_over, service_read_only, restored)
    finally:
        engine.destroy()
        peer.stop()


def test_wan_failover_answers_locally_while_the_local_app_is_healthy(
        failover: Failover) -> None:
    assert (failover.local["Datacenter"], failover.local["Failovers"]) == (STACK, 0)
    assert failover.local["Nodes"]
    assert all(e["Node"]["Node"].startswith(NODE_PREFIX) for e in failover.local["Nodes"])


def test_wan_failover_goes_to_the_peer_when_every_local_app_is_critical(
        failover: Failover) -> None:
    answer = failover.failed_over
    assert (answer["Datacenter"], answer["Failovers"]) == (PEER_DC, 1)
    assert [e["Node"]["Node"] for e in answer["Nodes"]] == [PEER_NODE]


def test_wan_failover_answers_with_the_peers_wan_address(failover: Failover) -> None:
    node = failover.failed_over["Nodes"][0]["Node"]
    # Translated by the asking node's agent: the LAN address would be unroutable from here.
    assert node["Address"] == NODE_WAN_ADDRESS
    assert node["TaggedAddresses"]["lan"] == NODE_ADDRESS
    assert NODE_ADDRESS != NODE_WAN_ADDRESS


def test_wan_failover_returns_home_once_the_local_app_passes_again(failover: Failover) -> None:
    assert (failover.restored["Datacenter"], failover.restored["Failovers"]) == (STACK, 0)


def test_wan_failover_with_service_read_alone_answers_no_node(failover: Failover) -> None:
    """Why the caller needs node read too: Consul filters out every node it may not read."""
    assert failover.service_read_only["Datacenter"] == PEER_DC
    assert failover.service_read_only["Nodes"] == []
