"""Where the nodes stand, read from an in-memory Consul (no HTTP), and the `status` node table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.consul.client import ConsulHttpError, ConsulUnreachable
from deploy.fleet_status import UNREGISTERED, FleetError, FleetView, NodeStatus, render_table
from tests.deploy.fake_consul import FakeConsul

PREFIX = "shop/prod/deploy/shop/nodes/"


def entry(node: str, *checks: dict[str, Any] | None, stack: str = "prod") -> dict[str, Any]:
    return {"Node": {"Node": node, "Meta": {"environment": stack, "app": "shop"}},
            "Checks": None if checks == (None,) else list(checks)}


def check(status: str | None, output: str | None = "") -> dict[str, Any]:
    found: dict[str, Any] = {"Output": output}
    if status is not None:
        found["Status"] = status
    return found


def view(consul: FakeConsul) -> FleetView:
    return FleetView(consul, "shop/prod", "shop", "prod")


def report(consul: FakeConsul, node: str, value: object) -> None:
    consul.set(PREFIX + node, value if isinstance(value, bytes) else json.dumps(value))


def test_the_nodes_prefix_is_the_apps_deploy_nodes_folder() -> None:
    assert view(FakeConsul()).nodes_prefix == PREFIX


def test_nodes_join_the_service_catalog_and_the_reports_sorted_by_name() -> None:
    consul = FakeConsul()
    consul.health = [entry("b", check("passing", "HTTP GET: 200 OK\n")), entry("a")]
    report(consul, "b", {"release": "r2", "since": "2026-01-02T00:00:00Z"})
    report(consul, "c", {"release": "r1", "since": "2026-01-01T00:00:00Z"})
    assert view(consul).nodes() == [
        NodeStatus("a", None, None, "passing", ""),
        NodeStatus("b", "r2", "2026-01-02T00:00:00Z", "passing", "HTTP GET: 200 OK"),
        NodeStatus("c", "r1", "2026-01-01T00:00:00Z", UNREGISTERED, ""),
    ]
    assert consul.service_asked == "shop-prod"


def test_nodes_of_another_stack_under_the_same_service_do_not_count() -> None:
    consul = FakeConsul()
    consul.health = [entry("shop-prod-i-1", check("passing")),
                     entry("shop-staging-i-2", check("critical"), stack="staging"),
                     {"Node": {"Node": "no-meta"}, "Checks": []}]
    # FakeConsul applies the node-meta filter as Consul does (tests/deploy/fake_consul.py).
    assert [n.node for n in view(consul).nodes()] == ["shop-prod-i-1"]


@pytest.mark.parametrize(("checks", "health"), [
    ([check("passing", "ok"), check("warning", "slow")], ("warning", "slow")),
    ([check("warning", "slow"), check("critical", " 500 ")], ("critical", "500")),
    ([check("critical", "first"), check("critical", "second")], ("critical", "first")),
    ([check("passing", "ok"), check("maintenance", "m")], ("maintenance", "m")),
    ([check("critical", "c"), check("maintenance", "m")], ("critical", "c")),
    ([check("passing", "ok"), check(None, "gone")], ("critical", "gone")),
    ([check("critical", None)], ("critical", "")),
    ([check("passing", "fine")], ("passing", "fine")),
    ([], ("passing", "")),
    (None, ("passing", "")),
])
def test_a_nodes_health_is_its_worst_check_and_that_checks_output(
        checks: list[dict[str, Any]] | None, health: tuple[str, str]) -> None:
    consul = FakeConsul()
    consul.health = [entry("a", *(checks if checks is not None else [None]))]
    node = view(consul).nodes()[0]
    assert (node.health, node.output) == health


@pytest.mark.parametrize(("value", "release"), [
    ({"release": "r1"}, ("r1", None)),
    ({"release": "r1", "since": ""}, ("r1", None)),
    ({"release": "r1", "since": None}, ("r1", None)),
    ({"release": 7, "since": "t"}, ("7", "t")),
    ({"since": "t"}, (None, None)),
    ([1, 2], (None, None)),
    (b"not json", (None, None)),
    (b"", (None, None)),
])
def test_a_report_that_is_not_the_nodes_json_shows_as_unknown(
        value: object, release: tuple[str | None, str | None]) -> None:
    consul = FakeConsul()
    report(consul, "a", value)
    node = view(consul).nodes()[0]
    assert (node.release, node.since) == release


def test_a_report_without_a_value_shows_as_unknown() -> None:
    consul = FakeConsul()
    consul.kv[PREFIX + "a"] = (None, 3)
    assert view(consul).nodes() == [NodeStatus("a", None, None, UNREGISTERED, "")]


def test_no_node_at_all_is_an_empty_list() -> None:
    assert view(FakeConsul()).nodes() == []


@pytest.mark.parametrize("method", ["service_health", "read_tree"])
def test_a_denied_listing_names_every_acl_rule_it_needs(method: str) -> None:
    consul = FakeConsul()
    consul.fail[method] = error = ConsulHttpError(403, "Permission denied")
    with pytest.raises(FleetError) as caught:
        view(consul).nodes()
    assert str(caught.value) == (
        'Consul refused to list the nodes: the token needs `service "shop-prod" { policy = '
        '"read" }`, '
        '`node_prefix "" { policy = "read" }` and read on shop/prod/deploy/shop/nodes/ '
        "(Consul answered 403 Permission denied)")
    assert caught.value.__cause__ is error


@pytest.mark.parametrize("error", [ConsulHttpError(500, "boom"), ConsulUnreachable("no route")])
def test_a_failed_listing_says_what_consul_answered(error: Exception) -> None:
    consul = FakeConsul()
    consul.fail["service_health"] = error
    with pytest.raises(FleetError) as caught:
        view(consul).nodes()
    assert str(caught.value) == f"could not ask Consul where the nodes stand: {error}"
    assert caught.value.__cause__ is error


def test_the_table_aligns_names_and_marks_nodes_off_the_pointer_release() -> None:
    nodes = [NodeStatus("a", "r1", "2026-01-01T00:00:00Z", "passing", ""),
             NodeStatus("node-long", None, None, "critical", "500"),
             NodeStatus("c", "r2", None, UNREGISTERED, "")]
    assert render_table(nodes, "r1") == [
        "nodes: 3 (1 healthy)",
        "   a          r1                        passing       since 2026-01-01T00:00:00Z",
        " ! node-long  -                         critical      since -",
        " ! c          r2                        unregistered  since -",
    ]


def test_the_table_without_a_pointer_release_marks_only_nodes_that_report_one() -> None:
    nodes = [NodeStatus("a", None, None, "warning", ""), NodeStatus("b", "r1", "t", "passing", "")]
    assert render_table(nodes, None) == [
        "nodes: 2 (1 healthy)",
        "   a  -                         warning       since -",
        " ! b  r1                        passing       since t",
    ]


def test_the_table_of_an_empty_service_says_so() -> None:
    assert render_table([], "r1") == ["nodes: none registered and none reported"]
