"""Scenario 8, a node powered off mid-deploy: the group still holds it InService (it has not
noticed), so the push must not report that every node runs the release: it waits out --timeout,
names the node and exits 5 (docs/exit-codes.md). Powered on again, the node catches up to the
pointer by itself: user data does not run again, and the deploy event it missed is gone.
A node the group no longer holds InService (marked Terminated in the lifecycle double after it
is powered off) is ignored instead, and the push succeeds without it."""

from __future__ import annotations

import time

import pytest

from tests.fleet_harness.app_release import make_release
from tests.fleet_harness.deploy_view import (
    consul_name,
    current,
    in_service,
    wait_until_runs,
)
from tests.fleet_harness.fleet import APP_PORT, Fleet
from tests.fleet_harness.node import Node

pytestmark = pytest.mark.fleet_harness

RELEASE = "r8-power"
GONE_RELEASE = "r8-gone"
TIMEOUT = 20


@pytest.fixture(scope="module")
def off(fleet: Fleet) -> tuple[Node, int, str]:
    node = max(in_service(fleet), key=consul_name)  # never the canary scenario's canary node
    before = current(node)
    release = make_release(fleet.workdir / "releases" / RELEASE, APP_PORT)
    # SIGTERM to its nspawn: systemd shuts the node down, as `poweroff` or a stop would.
    fleet.power_off(node)
    try:
        done = fleet.deploy("push", str(release), "--release-id", RELEASE,
                            "--timeout", str(TIMEOUT))
    finally:
        fleet.power_on(node)
    assert before != RELEASE
    return node, done.returncode, done.stderr


def test_push_names_the_powered_off_node_and_fails(fleet: Fleet,
                                                   off: tuple[Node, int, str]) -> None:
    node, code, err = off
    assert fleet.lifecycle.instances[node.instance_id].state == "InService"
    assert code == 5, err
    assert f"the pointer names {RELEASE}, but the fleet is not healthy on it" in err
    assert consul_name(node) in err


def test_powered_on_node_catches_up_to_the_pointer(fleet: Fleet,
                                                   off: tuple[Node, int, str]) -> None:
    node = off[0]
    node.wait_booted()
    wait_until_runs(fleet, node, RELEASE, timeout=120)
    # The whole group is on the pointer's release again, healthy: what the next scenario expects.
    done = fleet.deploy("status", "--wait", RELEASE, "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    for other in in_service(fleet):
        assert current(other) == RELEASE, other.name


def test_a_node_the_group_no_longer_holds_is_ignored_and_the_push_succeeds(
        fleet: Fleet, off: tuple[Node, int, str]) -> None:
    """A spot loss, or a stopped instance the group replaced: the node never left Consul
    (leave_on_terminate = false), so it stays there failed for up to reconnect_timeout. The
    group no longer lists it InService, so the push waits for the others alone, says once that
    it ignores the node, and succeeds."""
    gone = max(in_service(fleet), key=consul_name)
    release = make_release(fleet.workdir / "releases" / GONE_RELEASE, APP_PORT)
    fleet.power_off(gone)
    inst = fleet.lifecycle.instances[gone.instance_id]
    with fleet.lifecycle.lock:
        inst.state = "Terminated"  # DescribeAutoScalingGroups no longer lists it
    try:
        wait_failed_in_consul(fleet, gone)
        done = fleet.deploy("push", str(release), "--release-id", GONE_RELEASE,
                            "--timeout", "120")
    finally:
        with fleet.lifecycle.lock:  # as it was, for the scenarios after this one
            inst.state = "InService"
        fleet.power_on(gone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"every node runs {GONE_RELEASE}, healthy" in done.stdout
    ignored = [line for line in done.stderr.splitlines() if consul_name(gone) in line]
    assert len(ignored) == 1, done.stderr
    assert "does not hold it InService" in ignored[0], done.stderr
    for other in in_service(fleet):
        if other is not gone:
            assert current(other) == GONE_RELEASE, other.name
    gone.wait_booted()
    wait_until_runs(fleet, gone, GONE_RELEASE, timeout=120)


def wait_failed_in_consul(fleet: Fleet, node: Node, timeout: float = 60) -> None:
    """Until the server lists the node's serfHealth critical: the node failed, not left."""
    deadline = time.monotonic() + timeout
    while True:
        checks = fleet.server.call("GET", f"/v1/health/node/{consul_name(node)}") or []
        if any(c["CheckID"] == "serfHealth" and c["Status"] == "critical" for c in checks):
            return
        assert time.monotonic() < deadline, f"{consul_name(node)} never failed in Consul"
        time.sleep(1)
