"""Fixtures of the fleet harness: bare nodes (the image alone) and the whole fleet."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.fleet_harness import netns, node_root
from tests.fleet_harness.app_release import make_release
from tests.fleet_harness.fleet import APP_PORT, Fleet
from tests.fleet_harness.host_lock import fleet_lock
from tests.fleet_harness.node import Node
from tests.instance.image_root import announce

pytestmark = pytest.mark.fleet_harness


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the fleet harness needs root (debootstrap, overlay mounts, systemd-nspawn)")
    for tool in ("systemd-nspawn", "nsenter", "ip", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `bash scripts/setup` (it installs it with apt)")


@pytest.fixture(scope="module")
def bare_nodes(tmp_path_factory: pytest.TempPathFactory,
               pytestconfig: pytest.Config) -> Iterator[list[Node]]:
    """Three nodes booted from the converged image, wired, nothing else started."""
    need_root()
    with fleet_lock():
        yield from _bare_nodes(tmp_path_factory, pytestconfig)


def _bare_nodes(tmp_path_factory: pytest.TempPathFactory,
                pytestconfig: pytest.Config) -> Iterator[list[Node]]:
    image, built = node_root.image_layer()
    workdir = tmp_path_factory.mktemp("bare-fleet")
    nodes = [Node(f"wtnode{i}", i, netns.node_address(i), f"i-bare{i}", workdir / f"n{i}")
             for i in (1, 2, 3)]
    netns.make_bridge()
    try:
        for node in nodes:
            node.mount([image])
            node.boot(workdir / f"{node.name}.log")
            node.wire()
        for node in nodes:
            node.wait_booted()
        boots = [n.timings["booted"] - n.timings["nspawn_started"] for n in nodes]
        made = f"built in {built:.0f} s" if built else "cached"
        announce(pytestconfig, f"fleet harness: image {made} ({Path(image).name}); "
                 "3 nodes booted to multi-user in "
                 + ", ".join(f"{b:.1f} s" for b in boots))
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        for node in nodes:
            node.unmount()
        netns.delete_bridge()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    fleet = getattr(item, "funcargs", {}).get("fleet")
    if report.failed and isinstance(fleet, Fleet):
        try:
            report.sections.append(("fleet nodes", fleet.diagnose()))
        except Exception as e:  # a report must never hide the failure it explains
            report.sections.append(("fleet nodes", f"could not read the nodes: {e!r}"))
    return report


KV = {"app/log-level": "info", "database/master-user": "webapp",
      "database/master-password": "fleet-db-password-7f3a", "database/master-host": "db.internal",
      "database/master-database": "webapp", "feature/new-checkout": "false"}
FIRST_RELEASE = "r1-fleet"


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory,
          pytestconfig: pytest.Config) -> Iterator[Fleet]:
    """The control plane, release r1 published, the stack's KV written, three nodes booted from
    the image running the stack's user data, each waited for until its launch hook completed."""
    need_root()
    workdir = tmp_path_factory.mktemp("fleet")
    fleet = Fleet(workdir, 3)
    try:
        fleet.start()
        release = make_release(workdir / "releases" / FIRST_RELEASE, APP_PORT)
        pushed = fleet.deploy("push", str(release), "--release-id", FIRST_RELEASE, "--no-wait")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        fleet.put_kv(KV)
        nodes = [fleet.add_node() for _ in range(3)]
        for node in nodes:
            node.wait_booted()
            fleet.run_user_data(node)
        for node in nodes:
            fleet.wait_in_service(node, timeout=300)
            # What each node ran when it came into service; later scenarios move the pointer.
            fleet.boot_state[node.name] = (
                node.run("readlink", "/opt/app/current").stdout.strip(), fleet.node_health(node))
        announce(pytestconfig, "fleet harness: " + fleet.timing_report())
        yield fleet
    finally:
        fleet.stop()
