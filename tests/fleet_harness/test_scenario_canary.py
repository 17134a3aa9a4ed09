"""Scenario 3, canary: `push --canary 1 --bake 20` sends the release to one node, moves the pointer
only after that node has run it healthy for the bake time, then the rest follow. A release whose
/health fails fails the canary: the canary node goes back, the pointer stays, exit 4
(docs/exit-codes.md), and no other node ever unpacked or was even sent that release."""

from __future__ import annotations

import pytest

from tests.fleet_harness.app_release import make_release
from tests.fleet_harness.deploy_view import (
    Timeline,
    consul_name,
    current,
    events_seen,
    in_service,
    unpacked,
)
from tests.fleet_harness.fleet import APP_PORT, KEYS, Fleet

pytestmark = pytest.mark.fleet_harness

GOOD, BROKEN, BAKE = "r4-canary", "r5-broken", 20.0


def pointer(fleet: Fleet) -> str:
    return str(fleet.server.call("GET", f"/v1/kv/{KEYS.current}?raw=true")).strip()


@pytest.fixture(scope="module")
def good(fleet: Fleet) -> Timeline:
    release = make_release(fleet.workdir / "releases" / GOOD, APP_PORT)
    with Timeline(fleet) as seen:
        done = fleet.deploy("push", str(release), "--release-id", GOOD, "--canary", "1",
                            "--bake", str(BAKE), "--timeout", "180")
    assert done.returncode == 0, done.stdout + done.stderr
    return seen


def test_canary_passes_then_the_pointer_moves_then_the_rest_follow(
        fleet: Fleet, good: Timeline) -> None:
    nodes = sorted(consul_name(n) for n in in_service(fleet))
    moved = good.pointer_moved_to(GOOD)
    assert moved is not None
    first = {name: good.reports.get((name, GOOD)) for name in nodes}
    assert None not in first.values(), (first, good.errors)
    canary, *rest = nodes  # the first healthy node by name (deploy.canary.choose_canaries)
    started = first[canary]
    assert started is not None
    # The canary ran the release for the whole bake before the pointer moved ...
    assert moved - started >= BAKE - 1, (moved, started)
    # ... and no other node had it before the pointer moved.
    for name in rest:
        t = first[name]
        assert t is not None, name
        assert t > moved, (name, t, moved)
    for node in in_service(fleet):
        assert current(node) == GOOD


@pytest.fixture(scope="module")
def broken(fleet: Fleet, good: Timeline) -> tuple[int, str, str]:
    before = pointer(fleet)
    release = make_release(fleet.workdir / "releases" / BROKEN, APP_PORT, healthy=False)
    done = fleet.deploy("push", str(release), "--release-id", BROKEN, "--canary", "1",
                        "--bake", str(BAKE), "--timeout", "120")
    return done.returncode, done.stderr, before


def test_broken_canary_exits_4_and_leaves_the_pointer(
        fleet: Fleet, broken: tuple[int, str, str]) -> None:
    code, err, before = broken
    assert code == 4, err
    assert f"canary of {BROKEN} failed" in err
    assert pointer(fleet) == before
    assert f"/{GOOD}/" in before


def test_broken_canary_node_went_back_healthy(fleet: Fleet,
                                              broken: tuple[int, str, str]) -> None:
    canary = min(in_service(fleet), key=consul_name)
    assert BROKEN in unpacked(canary)  # it did run the broken release
    assert current(canary) == GOOD
    health = fleet.node_health(canary)
    assert health is not None
    assert health["release"] == GOOD


def test_no_other_node_ever_ran_the_broken_release(fleet: Fleet,
                                                   broken: tuple[int, str, str]) -> None:
    canary = min(in_service(fleet), key=consul_name)
    assert any(f"/{BROKEN}/" in m for m in events_seen(canary))  # the probe sees it
    for node in in_service(fleet):
        if node is canary:
            continue
        assert BROKEN not in unpacked(node), node.name
        # Not even sent: the canary event's node filter kept it from every other agent.
        assert not any(BROKEN in m for m in events_seen(node)), node.name
        assert current(node) == GOOD
