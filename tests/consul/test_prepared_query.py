"""Failover prepared queries: the pure payload, the provider against the Consul double (real
HTTP, double Consul), and the offline plan of a two-datacenter stack."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from components.consul.prepared_query import PreparedQueryError, PreparedQueryProvider
from components.consul.prepared_query_payload import failover_query, query_name
from plan.cli import registrations, tree_text
from tests.consul_double import ConsulDouble
from tests.consul_double_catalog import Catalog

TOKEN = "management-token-5e1f"
TWO_DC = {"webtier:consul.wan": {"peers": ["idcf", "osaka"], "advertiseAddrWan": "public-ipv4"}}
QUERY = "pulumi-python:dynamic/consul:PreparedQuery"


@pytest.fixture
def consul() -> Iterator[tuple[ConsulDouble, Catalog]]:
    with ConsulDouble(token=TOKEN, datacenter="staging") as double:
        yield double, Catalog(double)


def props(double: ConsulDouble, peers: list[str], token: str = TOKEN) -> dict[str, object]:
    return {"name": query_name("webapp"), "service": "webapp", "failoverDatacenters": peers,
            "address": double.address, "datacenter": "staging", "caCert": "", "token": token}


def test_failover_query_tries_the_peers_in_the_given_order_with_healthy_instances_only() -> None:
    body = failover_query("webapp", ["idcf", "osaka"])
    assert body["Name"] == "webapp-failover"
    assert body["Service"]["Failover"] == {"Datacenters": ["idcf", "osaka"]}
    assert body["Service"]["OnlyPassing"] is True


@pytest.mark.integration
def test_double_provider_creates_the_query_in_consul(
        consul: tuple[ConsulDouble, Catalog]) -> None:
    double, catalog = consul
    created = PreparedQueryProvider().create(props(double, ["idcf"]))
    stored = catalog.queries[created.id]
    assert stored["Name"] == "webapp-failover"
    assert stored["Service"]["Failover"]["Datacenters"] == ["idcf"]
    assert created.outs["queryId"] == created.id


@pytest.mark.integration
def test_double_provider_adopts_a_query_of_the_same_name_instead_of_failing(
        consul: tuple[ConsulDouble, Catalog]) -> None:
    double, catalog = consul
    first = PreparedQueryProvider().create(props(double, ["idcf"]))
    # State lost: the next `up` creates again and must take over the query, not clash with it.
    second = PreparedQueryProvider().create(props(double, ["osaka"]))
    assert second.id == first.id
    assert len(catalog.queries) == 1
    assert catalog.queries[first.id]["Service"]["Failover"]["Datacenters"] == ["osaka"]


@pytest.mark.integration
def test_double_provider_updates_and_deletes_the_query(
        consul: tuple[ConsulDouble, Catalog]) -> None:
    double, catalog = consul
    provider = PreparedQueryProvider()
    created = provider.create(props(double, ["idcf"]))
    old, new = props(double, ["idcf"]), props(double, ["idcf", "osaka"])
    assert provider.diff(created.id, old, new).changes
    provider.update(created.id, old, new)
    assert catalog.queries[created.id]["Service"]["Failover"]["Datacenters"] == ["idcf", "osaka"]
    provider.delete(created.id, new)
    assert catalog.queries == {}
    provider.delete(created.id, new)  # already gone: still fine
    assert provider.read(created.id, new).id == ""


@pytest.mark.integration
def test_double_provider_without_a_configured_token_uses_consul_http_token(
        consul: tuple[ConsulDouble, Catalog], monkeypatch: pytest.MonkeyPatch) -> None:
    # As the KV provider does: a stack without consulKvToken writes with the operator's token.
    double, catalog = consul
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", TOKEN)
    created = PreparedQueryProvider().create({**props(double, ["idcf"]), "token": None})
    assert created.id in catalog.queries


def test_moving_the_query_to_another_datacenter_replaces_it() -> None:
    old = {"datacenter": "staging", "service": "webapp"}
    diff = PreparedQueryProvider().diff("q", old, {**old, "datacenter": "tokyo"})
    assert diff.replaces == ["datacenter"]


@pytest.mark.integration
def test_double_app_reaches_the_service_in_the_peer_datacenter_when_none_is_local(
        consul: tuple[ConsulDouble, Catalog]) -> None:
    double, catalog = consul
    created = PreparedQueryProvider().create(props(double, ["idcf", "osaka"]))
    catalog.peer_services["osaka"] = {"webapp": ["osaka-web-1"]}
    answer = requests.get(f"{double.address}/v1/query/{created.id}/execute",
                          headers={"X-Consul-Token": TOKEN}, timeout=5).json()
    assert (answer["Datacenter"], answer["Failovers"]) == ("osaka", 2)
    catalog.nodes["webapp-staging-i-1"] = {"Service": "webapp", "Passing": True}
    answer = requests.get(f"{double.address}/v1/query/{created.id}/execute",
                          headers={"X-Consul-Token": TOKEN}, timeout=5).json()
    assert answer["Datacenter"] == "staging"


@pytest.mark.integration
def test_double_provider_error_names_the_query_and_the_fix_without_the_token(
        consul: tuple[ConsulDouble, Catalog]) -> None:
    double, _ = consul
    with pytest.raises(PreparedQueryError) as err:
        PreparedQueryProvider().create(props(double, ["idcf"], token="wrong-token-77"))
    assert "webapp-failover" in str(err.value)
    assert "query` write" in str(err.value)
    assert "wrong-token-77" not in str(err.value)


def test_committed_stacks_create_no_prepared_query() -> None:
    assert not [r for r in registrations("staging") if r.type == QUERY]


def test_two_datacenter_plan_shows_the_failover_query() -> None:
    queries = [r for r in registrations("staging", config_overrides=TWO_DC) if r.type == QUERY]
    assert [(q.inputs["name"], q.inputs["failoverDatacenters"]) for q in queries] == \
        [("webapp-failover", ["idcf", "osaka"])]
    text = tree_text("staging", config_overrides=TWO_DC)
    assert "failoverDatacenters: [idcf, osaka]" in text
    assert "name: webapp-failover" in text


def test_two_datacenter_plan_advertises_the_wan_address_at_boot() -> None:
    regs = registrations("staging", config_overrides=TWO_DC)
    template = next(r for r in regs if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert "advertise_addr_wan" in script
    assert "imds public-ipv4" in script
