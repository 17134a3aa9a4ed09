"""Scenario 5, scale-in: the group deregisters the node from the target group and waits out the
drain before Terminating:Wait (AWS, lifecycle-hooks-overview.html, steps 4-5), so the node's hook
must not drain again; it leaves Consul and completes its terminate hook once."""

from __future__ import annotations

import pytest

from tests.fleet_harness.fleet import Fleet
from tests.fleet_harness.node import Node

pytestmark = pytest.mark.fleet_harness


@pytest.fixture(scope="module")
def scaled_in(fleet: Fleet) -> Node:
    node = fleet.add_node()
    node.wait_booted()
    fleet.run_user_data(node)
    fleet.wait_in_service(node, timeout=300)
    assert fleet.member_status(node) == 1
    fleet.lifecycle.scale_in(node.instance_id)
    fleet.wait_state(node, "Terminated", timeout=120)
    return node


def test_scale_in_completes_the_terminate_hook_once(fleet: Fleet, scaled_in: Node) -> None:
    completions = fleet.lifecycle.calls_of("CompleteLifecycleAction", scaled_in.instance_id)
    assert [c.detail for c in completions] == ["webtier-launch CONTINUE",
                                               "webtier-terminate CONTINUE"]


def test_scale_in_drains_once_the_groups_drain(fleet: Fleet, scaled_in: Node) -> None:
    assert len(fleet.lifecycle.calls_of("AutoScaling:DeregisterFromLoadBalancer",
                                        scaled_in.instance_id)) == 1
    assert fleet.lifecycle.calls_of("DeregisterTargets", scaled_in.instance_id) == []


def test_scale_in_leaves_consul_before_completing(fleet: Fleet, scaled_in: Node) -> None:
    assert fleet.member_status(scaled_in) == 3  # left, not failed
    fleet.power_off(scaled_in)
