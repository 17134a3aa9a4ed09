"""The failover prepared query provider against real Consul 1.14.11 agents: create, adopt, update,
delete, "gone" as Consul really says it, and failover to a WAN-joined second datacenter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from components.consul.prepared_query import PreparedQueryError, PreparedQueryProvider
from components.consul.prepared_query_payload import query_name
from tests.real_consul import ConsulAgent, running_agent


def _props(agent: ConsulAgent, service: str, peers: list[str],
           token: str | None = None) -> dict[str, Any]:
    return {"name": query_name(service), "service": service, "failoverDatacenters": peers,
            "address": agent.address, "datacenter": "", "caCert": "",
            "token": agent.management_token if token is None else token}


@pytest.fixture
def service(consul_agent: ConsulAgent) -> Iterator[str]:
    """A service name of this test's own; its query is deleted afterwards."""
    name = f"svc{uuid.uuid4().hex[:8]}"
    yield name
    for query in consul_agent.api("GET", "/v1/query").json() or []:
        if query["Name"] == query_name(name):
            consul_agent.api("DELETE", f"/v1/query/{query['ID']}")


def _stored(agent: ConsulAgent, query_id: str) -> dict[str, Any]:
    answer = agent.api("GET", f"/v1/query/{query_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()[0])


def test_provider_creates_the_query(consul_agent: ConsulAgent, service: str) -> None:
    created = PreparedQueryProvider().create(_props(consul_agent, service, ["idcf"]))
    stored = _stored(consul_agent, created.id)
    assert stored["Name"] == f"{service}-failover"
    assert stored["Service"]["Failover"]["Datacenters"] == ["idcf"]
    assert stored["Service"]["OnlyPassing"] is True


def test_provider_adopts_a_query_of_the_same_name(consul_agent: ConsulAgent,
                                                  service: str) -> None:
    first = PreparedQueryProvider().create(_props(consul_agent, service, ["idcf"]))
    second = PreparedQueryProvider().create(_props(consul_agent, service, ["osaka"]))
    assert second.id == first.id
    assert _stored(consul_agent, first.id)["Service"]["Failover"]["Datacenters"] == ["osaka"]


def test_consul_answers_500_not_404_when_a_gone_query_is_updated_or_deleted(
        consul_agent: ConsulAgent) -> None:
    # What the provider must recognise as "gone" (components/consul/prepared_query.py `_missing`).
    missing = str(uuid.uuid4())
    body = {"ID": missing, "Service": {"Service": "x"}}
    update = consul_agent.api("PUT", f"/v1/query/{missing}", json=body)
    delete = consul_agent.api("DELETE", f"/v1/query/{missing}")
    read = consul_agent.api("GET", f"/v1/query/{missing}")
    assert (update.status_code, delete.status_code, read.status_code) == (500, 500, 404)
    assert "Cannot modify non-existent prepared query" in update.text
    assert "Cannot modify non-existent prepared query" in delete.text


def test_update_after_an_out_of_band_delete_creates_the_query_again(
        consul_agent: ConsulAgent, service: str) -> None:
    provider = PreparedQueryProvider()
    created = provider.create(_props(consul_agent, service, ["idcf"]))
    consul_agent.api("DELETE", f"/v1/query/{created.id}")
    new = _props(consul_agent, service, ["idcf", "osaka"])
    updated = provider.update(created.id, _props(consul_agent, service, ["idcf"]), new)
    assert _stored(consul_agent, updated.outs["queryId"])["Service"]["Failover"][
        "Datacenters"] == ["idcf", "osaka"]


def test_delete_after_an_out_of_band_delete_succeeds(consul_agent: ConsulAgent,
                                                    service: str) -> None:
    provider = PreparedQueryProvider()
    props = _props(consul_agent, service, ["idcf"])
    created = provider.create(props)
    provider.delete(created.id, props)
    assert consul_agent.api("GET", f"/v1/query/{created.id}").status_code == 404
    provider.delete(created.id, props)  # already gone: still fine
    assert provider.read(created.id, props).id == ""


def test_without_a_configured_token_the_provider_uses_consul_http_token(
        consul_agent: ConsulAgent, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", consul_agent.management_token)
    created = PreparedQueryProvider().create({**_props(consul_agent, service, ["idcf"]),
                                              "token": None})
    assert _stored(consul_agent, created.id)["Name"] == f"{service}-failover"


def test_a_token_without_query_write_fails_naming_the_query_and_the_fix(
        consul_agent: ConsulAgent, service: str) -> None:
    token = consul_agent.make_token(f'service "{service}" {{ policy = "read" }}')
    with pytest.raises(PreparedQueryError) as err:
        PreparedQueryProvider().create(_props(consul_agent, service, ["idcf"], token))
    message = str(err.value)
    assert f"{service}-failover" in message
    assert "query` write" in message
    assert "403" in message
    assert token not in message


@pytest.fixture(scope="module")
def osaka(consul_agent: ConsulAgent, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ConsulAgent]:
    """A second datacenter's server, WAN-joined to the first (same gossip key and management
    token, as federated datacenters share them)."""
    join = f'retry_join_wan = ["127.0.0.1:{consul_agent.ports["serf_wan"]}"]\n'
    with running_agent(tmp_path_factory.mktemp("consul-osaka"), extra_hcl=join,
                       datacenter="osaka", token=consul_agent.management_token,
                       gossip_key=consul_agent.gossip_key) as agent:
        deadline = time.monotonic() + 30
        while "osaka" not in consul_agent.api("GET", "/v1/catalog/datacenters").json():
            assert time.monotonic() < deadline, "osaka never joined the WAN pool"
            time.sleep(0.2)
        yield agent


def _register(agent: ConsulAgent, node: str, service: str) -> None:
    answer = agent.api("PUT", "/v1/catalog/register", json={
        "Node": node, "Address": "127.0.0.2", "Service": {"Service": service, "Port": 8080}})
    assert answer.status_code == 200, answer.text


def test_the_app_reaches_the_peer_datacenter_when_no_local_instance_is_healthy(
        consul_agent: ConsulAgent, osaka: ConsulAgent, service: str) -> None:
    created = PreparedQueryProvider().create(_props(consul_agent, service, ["idcf", "osaka"]))
    _register(osaka, "osaka-web-1", service)
    answer = consul_agent.api("GET", f"/v1/query/{created.id}/execute").json()
    # Consul skips a failover datacenter it does not know (idcf): osaka is the first it tries.
    assert (answer["Datacenter"], answer["Failovers"]) == ("osaka", 1)
    assert [n["Node"]["Node"] for n in answer["Nodes"]] == ["osaka-web-1"]
    _register(consul_agent, f"webapp-staging-{service}", service)
    try:
        answer = consul_agent.api("GET", f"/v1/query/{created.id}/execute").json()
        assert (answer["Datacenter"], answer["Failovers"]) == ("dc1", 0)
    finally:
        consul_agent.api("PUT", "/v1/catalog/deregister",
                         json={"Node": f"webapp-staging-{service}"})
