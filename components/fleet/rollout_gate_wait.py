"""The rollout gate's decisions, apart from its Pulumi wiring (components/fleet/rollout_gate.py):
which input changes are a diff, which ones make an `up` wait again, and the wait itself.

Pure over its ports (the Auto Scaling client, the log, the clock and the sleep come in or from
rollout_start), so fast unit tests reach every branch and the mutation run covers it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from components.fleet import rollout_start
from components.fleet.refresh_watch import Watch

WATCHED = ("groupName", "refreshId")
"""A change of either is another refresh to wait for."""
TUNING = ("timeout", "poll", "region")
"""How to wait, not what for: a change is recorded without waiting again."""


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The inputs whose change the gate's diff reports, in a stable order."""
    return [k for k in (*WATCHED, *TUNING) if olds.get(k) != news.get(k)]


def waits_again(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """An update waits only when the group or the refresh changed, never for tuning alone."""
    return any(olds.get(k) != news.get(k) for k in WATCHED)


def watch(props: Mapping[str, Any], client: Any = None, *, sleep: Any = time.sleep,
          clock: Any = time.monotonic) -> dict[str, Any]:
    """Wait for the refresh; the gate's outputs. Raises RolloutFailed (the `up` fails)."""
    refresh_id = str(props.get("refreshId") or "")
    group = str(props["groupName"])
    if not refresh_id:
        rollout_start.log(f"no instance refresh to wait for on {group}")
        return dict(props)
    w = Watch(client=client or rollout_start.client(str(props["region"])),
              log=rollout_start.log, sleep=sleep, clock=clock,
              timeout=int(props["timeout"]), poll=int(props["poll"]))
    w.wait(group, refresh_id)
    return dict(props)
