"""The work units pytest-xdist hands to its workers (`scripts/test` runs `-n auto`).

A unit runs whole, in collection order, on one worker:
- the fleet harness (tests/fleet_harness/): one bridge, one set of node addresses, one fleet at
  a time (/run/lock/webtier-fleet.lock), and its module fixture must be gone before the session
  fixture starts, as in a serial run;
- every other test module: its module- and class-scoped fixtures (a converged chroot, a started
  stack, a parsed stack) are set up once, not once per worker.
Units go out largest first (xdist's loadscope order). Session fixtures (the Consul agents, moto,
the debootstrapped root) start once per worker, each on free ports in the worker's own temp dir.

Not `--dist loadgroup` with `xdist_group` marks: with pytest 9.2 its group suffix on the node id
no longer takes effect and every test is scheduled alone (pytest-xdist issue 1386).
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

FLEET_HARNESS = "tests/fleet_harness/"


def unit_of(nodeid: str) -> str:
    """The unit a test belongs to: the fleet harness as a whole, else its module."""
    module = nodeid.split("::", 1)[0]
    return FLEET_HARNESS if module.startswith(FLEET_HARNESS) else module


class SharedSetupScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)
