"""Scenario 8, a node powered off mid-deploy: the group still holds it InService (it has not
noticed), so the push must not report that every node runs the release: it waits out --timeout,
names the node and exits 5 (docs/exit-codes.md). Powered on again, the node catches up to the
pointer by itself: user data does not run again, and the deploy event it missed is gone."""

from __future__ import annotations

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
