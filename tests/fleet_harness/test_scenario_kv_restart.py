"""Scenario 4, a KV change: `pulumi up` writes a setting through the real ConsulKv, every node's
consul-template re-renders the app's config, and the restarts roll: at most the configured
number of nodes (webtier:consul.restartConcurrency, in node.env) restart at once, each waiting
until the one before passes health. consul-template alone restarts every node together
(consul-template #337).

Measured from systemd's journal on each node, not from what the restart script says: a restart
runs from app.service's "Stopping" until the new process passes /health (each app is given a
warm-up, so passing health takes a visible while)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fleet_harness.conftest import KV
from tests.fleet_harness.fleet import BOOT, NODE_PREFIX, SERVICE, Fleet
from tests.fleet_harness.node import Node
from tests.fleet_harness.restart_windows import RESTART_UNIT, Window, journal, most_at_once, windows

pytestmark = pytest.mark.fleet_harness

WARMUP = 3.0
"""Seconds each app answers 503 after a start: long enough that restarts overlapping would
show, short enough to keep the scenario quick."""
WARMUP_FILE = "/opt/app/shared/warmup-seconds"
CHANGED = {**KV, "app/log-level": "debug"}


@dataclass
class Roll:
    nodes: list[Node]
    since: float
    windows: dict[str, list[Window]]
    configs: dict[str, object]
    took: float


def in_service(fleet: Fleet) -> list[Node]:
    return [n for n in fleet.nodes if n.powered()
            and fleet.lifecycle.instances[n.instance_id].state == "InService"]


def passing(fleet: Fleet) -> set[str]:
    return {e["Node"]["Node"] for e in
            fleet.server.call("GET", f"/v1/health/service/{SERVICE}?passing=true")}


def roll_to(fleet: Fleet, nodes: list[Node], values: dict[str, str], warmup: float,
            timeout: float = 240) -> Roll:
    """Write ``values`` through the engine and wait until every node restarted once with the
    new config, its app healthy and its Consul check passing again."""
    before = {n.name: (fleet.node_health(n) or {}).get("config") for n in nodes}
    since = time.time()
    fleet.put_kv(values)
    deadline = time.monotonic() + timeout
    while True:
        seen = {n.name: windows(n, since, warmup) for n in nodes}
        health = {n.name: fleet.node_health(n) for n in nodes}
        # Restarted, serving the new config, and the restart's own turn over (the unit that
        # restarted it has finished: it frees its slot only after the checks).
        done = all(seen[n.name] and health[n.name] is not None
                   and health[n.name]["config"] != before[n.name]
                   and n.run("systemctl", "is-active", RESTART_UNIT).stdout.strip()
                   in ("inactive", "failed") for n in nodes)
        if done and time.time() > max(w.healthy for ws in seen.values() for w in ws) and \
                {f"{NODE_PREFIX}{n.instance_id}" for n in nodes} <= passing(fleet):
            return Roll(nodes, since, seen, {k: (v or {}).get("config")
                                              for k, v in health.items()},
                        time.time() - since)
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {n.name}\n" + "\n".join(
                f"{at:.2f} {m}" for at, m in journal(n, RESTART_UNIT, since)[-15:])
                for n in nodes)
            raise AssertionError(f"the KV change did not roll through every node in "
                                 f"{timeout:.0f} s: restarts {seen}; health {health}{logs}")
        time.sleep(1)


@pytest.fixture(scope="module")
def rolled(fleet: Fleet) -> Iterator[Roll]:
    nodes = in_service(fleet)
    assert len(nodes) >= 3, [n.name for n in nodes]
    for n in nodes:
        n.run("sh", "-c", f"echo {WARMUP} > {WARMUP_FILE}", check=True)
    try:
        yield roll_to(fleet, nodes, CHANGED, WARMUP)
    finally:
        # Leave the fleet as the other scenarios expect: the boot KV, healthy everywhere.
        for n in nodes:
            n.run("rm", "-f", WARMUP_FILE)
        roll_to(fleet, nodes, KV, 0.0)


def test_kv_change_re_renders_every_node(fleet: Fleet, rolled: Roll) -> None:
    for n in rolled.nodes:
        config = n.run("cat", "/opt/app/shared/config/app.toml").stdout
        assert 'log_level = "debug"' in config, n.name
    # Every app runs with the same new config: the one rendered file, read after its restart.
    assert len(set(rolled.configs.values())) == 1


def test_kv_change_restarts_each_node_once(rolled: Roll) -> None:
    assert {name: len(ws) for name, ws in rolled.windows.items()} == \
        {n.name: 1 for n in rolled.nodes}


def test_kv_change_restarts_at_most_the_configured_share_at_once(
        fleet: Fleet, rolled: Roll) -> None:
    limit = BOOT.restart_concurrency
    for n in rolled.nodes:
        env = n.run("cat", "/etc/webtier/node.env").stdout
        assert f"RESTART_CONCURRENCY={limit}\n" in env
    found = [w for ws in rolled.windows.values() for w in ws]
    assert most_at_once(found) <= limit, sorted(found, key=lambda w: w.stopping)


def test_kv_change_each_restart_waits_for_the_previous_to_pass_health(rolled: Roll) -> None:
    found = sorted((w for ws in rolled.windows.values() for w in ws), key=lambda w: w.stopping)
    assert BOOT.restart_concurrency == 1
    for before, after in itertools.pairwise(found):
        assert after.stopping >= before.healthy, (before, after)


def test_kv_change_slot_is_freed_only_after_the_consul_check_passes(rolled: Roll) -> None:
    """The script frees its slot once /health and the agent's check pass: never before the app
    was healthy (its own journal line, cross-checked against systemd's)."""
    for n in rolled.nodes:
        lines = journal(n, RESTART_UNIT, rolled.since)
        freed = [at for at, m in lines if "slot freed" in m]
        assert len(freed) == 1, (n.name, lines)
        assert freed[0] >= rolled.windows[n.name][0].healthy, n.name
