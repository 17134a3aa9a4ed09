"""`deploy status` and the rollout wait count only this stack's nodes, on a real Consul: each stack
asks for its own service (`<app>-<stack>`), and a node of another stack registered under this
stack's service name anyway (node_meta environment as boot sets it) is not asked for (Consul's
`node-meta` filter on /v1/health/service)."""

from __future__ import annotations

import uuid

import pytest

from components.consul.client import ConsulClient, Endpoint
from contracts.release_layout import service_name
from deploy.fleet_status import FleetView
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.consul_agent, pytest.mark.integration]


def test_another_stacks_nodes_under_the_same_service_are_not_counted(
        consul_agent: ConsulAgent) -> None:
    app = f"fleet{uuid.uuid4().hex[:6]}"
    nodes = {"staging": f"{app}-staging-i-1", "production": f"{app}-production-i-2"}
    registered = [(stack, node, service_name(app, stack)) for stack, node in nodes.items()]
    # production's node also under staging's service: filtered by its node_meta.
    registered.append(("production", nodes["production"], service_name(app, "staging")))
    for stack, node, service in registered:
        r = consul_agent.api("PUT", "/v1/catalog/register", json={
            "Node": node, "Address": "127.0.0.4", "NodeMeta": {"environment": stack, "app": app},
            "Service": {"Service": service, "ID": service, "Port": 8080}})
        assert r.status_code == 200, r.text
    try:
        endpoint = Endpoint(consul_agent.address, "", "", consul_agent.management_token)
        with ConsulClient(endpoint) as client:
            seen = {stack: [n.node for n in FleetView(client, f"{app}/{stack}", app, stack)
                            .nodes()] for stack in nodes}
        assert seen == {stack: [node] for stack, node in nodes.items()}
    finally:
        for node in nodes.values():
            consul_agent.api("PUT", "/v1/catalog/deregister", json={"Node": node})
