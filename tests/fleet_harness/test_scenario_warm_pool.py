"""Scenario 6, warm pool: AWS pauses a launch in Warmed:Pending:Wait and again in Pending:Wait when
the instance leaves the pool (warm-pool-instance-lifecycle.html); user data runs on the first boot
only. A node warmed and stopped, then started, must pull the release current *then*, prove health
and complete its hook, retrying while AWS answers "No active Lifecycle Action found". Returned to
the pool on scale-in, its terminate hook pauses it in Warmed:Pending:Wait and must be completed."""

from __future__ import annotations

import pytest

from tests.fleet_harness.app_release import make_release
from tests.fleet_harness.conftest import FIRST_RELEASE
from tests.fleet_harness.deploy_view import ServiceSightings, consul_name
from tests.fleet_harness.fleet import SERVICE, Fleet
from tests.fleet_harness.node import Node

pytestmark = pytest.mark.fleet_harness

SECOND_RELEASE = "r2-fleet"
ACTIVE_AFTER = 20.0
"""Seconds after the node is started before AWS holds its Pending:Wait action: a completion sent
sooner is answered "No active Lifecycle Action found" and must be retried."""


IN_POOL: dict[str, int | None] = {}
"""What the server showed of the pooled node while it was warmed and stopped in the pool."""


@pytest.fixture(scope="module")
def pooled(fleet: Fleet) -> Node:
    node = fleet.add_node(into_pool=True)
    node.wait_booted()
    with ServiceSightings(fleet, node) as warming:
        fleet.run_user_data(node)
        fleet.wait_state(node, "Warmed:Stopped", timeout=300)
    IN_POOL["service_statuses"] = len(warming.seen)
    fleet.power_off(node)
    IN_POOL["member"] = fleet.member_status(node)
    release = make_release(fleet.workdir / "releases" / SECOND_RELEASE, 8080)
    pushed = fleet.deploy("push", str(release), "--release-id", SECOND_RELEASE, "--no-wait")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    fleet.lifecycle.leave_pool(node.instance_id, delay=ACTIVE_AFTER)
    fleet.power_on(node)
    node.wait_booted()
    fleet.wait_in_service(node, timeout=300)
    return node


def test_warm_pool_launch_hook_completes_at_both_pauses(fleet: Fleet, pooled: Node) -> None:
    inst = fleet.lifecycle.instances[pooled.instance_id]
    assert inst.history[:4] == ["Warmed:Pending", "Warmed:Pending:Wait", "Warmed:Pending:Proceed",
                                "Warmed:Stopped"]
    assert inst.history[-3:] == ["Pending:Wait", "Pending:Proceed", "InService"]


def test_warm_pool_node_left_consul_before_it_was_stopped_in_the_pool(
        fleet: Fleet, pooled: Node) -> None:
    # Left (3), not failed (4): a stopped node in the catalog would hold every deploy waiting.
    assert IN_POOL["member"] == 3


def test_warm_pool_node_is_no_node_of_the_service_while_warming(
        fleet: Fleet, pooled: Node) -> None:
    # Its app ran and passed its check while warming, yet nothing could route to it or wait
    # for it; out of the pool, it is registered and passing.
    assert IN_POOL["service_statuses"] == 0
    passing = fleet.server.call("GET", f"/v1/health/service/{SERVICE}?passing=true")
    assert consul_name(pooled) in {e["Node"]["Node"] for e in passing}


def test_warm_pool_node_pulls_the_current_release_when_it_leaves_the_pool(
        fleet: Fleet, pooled: Node) -> None:
    assert FIRST_RELEASE != SECOND_RELEASE
    assert pooled.run("readlink", "/opt/app/current").stdout.strip() == \
        f"releases/{SECOND_RELEASE}"
    health = fleet.node_health(pooled)
    assert health is not None
    assert health["release"] == SECOND_RELEASE


def test_warm_pool_completion_is_retried_until_the_action_is_active(
        fleet: Fleet, pooled: Node) -> None:
    calls = fleet.lifecycle.calls_of("CompleteLifecycleAction", pooled.instance_id)
    after_pool = [c for c in calls if c.detail == "webtier-launch CONTINUE"][1:]
    assert len(after_pool) >= 2  # at least one refused, then the one that landed


def test_warm_pool_return_on_scale_in_completes_the_terminate_hook(
        fleet: Fleet, pooled: Node) -> None:
    fleet.lifecycle.scale_in(pooled.instance_id, to_pool=True)
    fleet.wait_state(pooled, "Warmed:Stopped", timeout=120)
    done = [c.detail for c in fleet.lifecycle.calls_of("CompleteLifecycleAction",
                                                       pooled.instance_id)]
    assert done[-1] == "webtier-terminate CONTINUE"
    assert fleet.lifecycle.calls_of("DeregisterTargets", pooled.instance_id) == []
    fleet.power_off(pooled)
