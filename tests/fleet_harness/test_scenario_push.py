"""Scenario 2, push: `deploy push` reaches every node the group holds in service, `deploy status`
shows what each node really runs and how its check stands, and a push reports success only when
every in-service instance runs the release healthy, never when no node runs it at all (exit 5,
docs/exit-codes.md: "the pointer moved, but the fleet is not healthy on the release")."""

from __future__ import annotations

import re
import time

import pytest

from tests.fleet_harness.app_release import make_release
from tests.fleet_harness.deploy_view import (
    consul_name,
    current,
    deploy_other_stack,
    in_service,
)
from tests.fleet_harness.fleet import APP_PORT, SERVICE, Fleet

pytestmark = pytest.mark.fleet_harness

RELEASE = "r3-push"
ROW = re.compile(r"^ (?P<mark>[ !]) (?P<node>\S+)\s+(?P<release>\S+)\s+(?P<health>\S+)\s+since ")


def status_rows(fleet: Fleet) -> dict[str, dict[str, str]]:
    done = fleet.deploy("status")
    assert done.returncode == 0, done.stdout + done.stderr
    return {m["node"]: m.groupdict() for m in map(ROW.match, done.stdout.splitlines()) if m}


@pytest.fixture(scope="module")
def pushed(fleet: Fleet) -> tuple[float, str]:
    release = make_release(fleet.workdir / "releases" / RELEASE, APP_PORT)
    started = time.monotonic()
    done = fleet.deploy("push", str(release), "--release-id", RELEASE, "--timeout", "180")
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started, done.stdout


def test_push_reaches_every_in_service_node(fleet: Fleet, pushed: tuple[float, str]) -> None:
    nodes = in_service(fleet)
    assert len(nodes) >= 3
    # Success was reported: by then every instance the group holds in service runs it, healthy.
    assert f"every node runs {RELEASE}, healthy" in pushed[1]
    for node in nodes:
        assert current(node) == RELEASE, node.name
        health = fleet.node_health(node)
        assert health is not None, node.name
        assert health["release"] == RELEASE, node.name
    passing = fleet.server.call("GET", f"/v1/health/service/{SERVICE}?passing=true")
    assert {e["Node"]["Node"] for e in passing} >= {consul_name(n) for n in nodes}


def test_status_shows_each_nodes_truth(fleet: Fleet, pushed: tuple[float, str]) -> None:
    nodes = in_service(fleet)
    rows = status_rows(fleet)
    for node in nodes:
        row = rows[consul_name(node)]
        assert (row["mark"], row["release"], row["health"]) == (" ", current(node), "passing")
    # One node's app goes down: status says so for that node alone, and says it again once it is
    # back; what it shows is the node's check, not what the pointer names.
    down = nodes[-1]
    down.run("systemctl", "stop", "app.service", check=True)
    try:
        deadline = time.monotonic() + 30
        while (rows := status_rows(fleet))[consul_name(down)]["health"] == "passing":
            assert time.monotonic() < deadline, "the stopped app still shows passing"
            time.sleep(1)
        assert rows[consul_name(down)]["health"] == "critical"
        assert all(rows[consul_name(n)]["health"] == "passing" for n in nodes[:-1])
    finally:
        down.run("systemctl", "start", "app.service", check=True)
    deadline = time.monotonic() + 30
    while status_rows(fleet)[consul_name(down)]["health"] != "passing":
        assert time.monotonic() < deadline, "the restarted app never passed again"
        time.sleep(1)


def test_push_to_a_group_with_no_node_fails(fleet: Fleet) -> None:
    # The other stack of the project (Pulumi.production.yaml) in the same datacenter, its group
    # holding no instance: the push moves its pointer (new instances would boot it), but must
    # not claim that every node runs it.
    release = make_release(fleet.workdir / "releases" / "r3-empty", APP_PORT)
    done = deploy_other_stack(fleet, "production", "push", str(release), "--release-id",
                              "r3-empty", "--timeout", "20")
    assert done.returncode == 5, done.stdout + done.stderr
    assert "every node runs" not in done.stdout
    assert "no node of this stack is in service" in done.stderr
    # The other stack's event reached this stack's nodes, which refused its bucket.
    for node in in_service(fleet):
        assert current(node) != "r3-empty"
