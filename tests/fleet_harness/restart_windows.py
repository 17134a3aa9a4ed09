"""Each node's app restarts as systemd recorded them, independent of what restarts the app.

A window runs from systemd's "Stopping" of app.service to the moment the new process passes
/health: its "Started" plus the warm-up the node's app was given (app_release.py answers 503 for
that long after each start). All nodes share the host's clock (containers, one kernel), so
windows of different nodes compare directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.fleet_harness.node import Node

APP_UNIT = "app.service"
RESTART_UNIT = "app-config-restart.service"


@dataclass(frozen=True)
class Window:
    node: str
    stopping: float
    healthy: float


def journal(node: Node, unit: str, since: float) -> list[tuple[float, str]]:
    """(wall time, message) of the unit's journal entries since ``since`` (epoch seconds)."""
    done = node.run("journalctl", "-u", unit, "-o", "json", "--no-pager",
                    f"--since=@{since:.6f}", timeout=30)
    out = []
    for line in done.stdout.splitlines():
        entry = json.loads(line)
        out.append((int(entry["__REALTIME_TIMESTAMP"]) / 1e6, str(entry.get("MESSAGE", ""))))
    return out


def windows(node: Node, since: float, warmup: float) -> list[Window]:
    """The node's app restarts since ``since``; one still starting has no window yet."""
    found: list[Window] = []
    stopping: float | None = None
    for at, message in journal(node, APP_UNIT, since):
        if message.startswith("Stopping "):
            stopping = at
        elif message.startswith("Started ") and stopping is not None:
            found.append(Window(node.name, stopping, at + warmup))
            stopping = None
    return found


def most_at_once(found: list[Window]) -> int:
    """The largest number of windows open at the same moment."""
    edges = sorted([(w.stopping, 1) for w in found] + [(w.healthy, -1) for w in found],
                   key=lambda e: (e[0], e[1]))
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak
