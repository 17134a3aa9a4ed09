"""Where every node stands: the release it reports under `deploy/<app>/nodes/` and its app health.

Health is the Consul service check the image registers (/etc/consul.d/app-service.hcl); the
release is what the node's release-pull wrote after its last switch. A node that reports but is
not in the service catalog (stopped, terminated) is listed as `unregistered` and never waited on.

With the group's InService instances (deploy/fleet_group.py; push, rollback, `status --wait` and
canary selection ask it), those are exactly the nodes waited on: a node the group does not hold
InService is `not-in-service` and ignored (said once, through ``ignored``), and an InService
instance absent from the catalog is `missing`, never healthy, so the wait names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.consul.client import ConsulClient, ConsulError, ConsulHttpError
from contracts import json_text
from contracts.release_layout import deploy_keys, service_name
from deploy.fleet_group import GroupError, InService

UNREGISTERED = "unregistered"
NOT_IN_SERVICE = "not-in-service"
MISSING = "missing"
IGNORED = frozenset({UNREGISTERED, NOT_IN_SERVICE})
"""Health values of nodes no wait waits for."""
_ORDER = {"passing": 0, "warning": 1, "critical": 2}


class FleetError(Exception):
    """Consul could not be asked where the nodes stand; the message says what to check."""


@dataclass(frozen=True)
class NodeStatus:
    node: str
    release: str | None
    since: str | None
    health: str
    """passing, warning or critical (the worst of the node's checks), unregistered, or (with
    the group) not-in-service or missing."""
    output: str
    """The output of the worst check: what a failing node's health endpoint last answered."""

    @property
    def healthy(self) -> bool:
        return self.health == "passing"


class FleetView:
    def __init__(self, client: ConsulClient, kv_prefix: str, app: str, stack: str,
                 group: Callable[[], InService] | None = None,
                 ignored: Callable[[str], None] | None = None) -> None:
        self._client = client
        self._group = group
        self._ignored = ignored
        self._said: set[str] = set()
        self._service = service_name(app, stack)
        self.nodes_prefix = deploy_keys(kv_prefix, app).nodes
        # Boot sets node_meta {environment = <stack>, app = <app>} (components/fleet/user_data.py):
        # another stack's nodes registered under the same service name are not this fleet.
        self._meta = {"environment": stack, "app": app}

    def nodes(self) -> list[NodeStatus]:
        """Every node of the service and every node that reported, sorted by name."""
        try:
            group = self._group() if self._group is not None else None
        except GroupError as e:
            raise FleetError(str(e)) from e
        try:
            entries = self._client.service_health(self._service, self._meta)
            reports = self._client.read_tree(self.nodes_prefix)
        except ConsulHttpError as e:
            if e.status != 403:
                raise FleetError(f"could not ask Consul where the nodes stand: {e}") from e
            raise FleetError(f"Consul refused to list the nodes: the token needs `service "
                             f"\"{self._service}\" {{ policy = \"read\" }}`, `node_prefix \"\" "
                             f"{{ policy = \"read\" }}` and read on {self.nodes_prefix} ({e})"
                             ) from e
        except ConsulError as e:
            raise FleetError(f"could not ask Consul where the nodes stand: {e}") from e
        health = {str(e["Node"]["Node"]): _worst(e.get("Checks") or []) for e in entries or []
                  if self._not_others(e)}
        reported = {str(r["Key"])[len(self.nodes_prefix):]: _report(r) for r in reports or []}
        out = []
        for node in sorted(set(health) | set(reported) | (group.nodes if group else set())):
            release, since = reported.get(node, (None, None))
            status, output = health.get(node, (UNREGISTERED, ""))
            if group is not None and node not in group.nodes:
                if node in health:
                    self._say(node, f"ignoring {node}: Consul lists it {status}, but "
                              f"{', '.join(group.groups)} does not hold it InService")
                status = NOT_IN_SERVICE
            elif group is not None and node not in health:
                status, output = MISSING, (f"InService in {', '.join(group.groups)}, but not "
                                           f"in Consul's catalog of the service")
            out.append(NodeStatus(node, release, since, status, output))
        return out

    def _say(self, node: str, line: str) -> None:
        if self._ignored is not None and node not in self._said:
            self._said.add(node)
            self._ignored(line)


    def _not_others(self, entry: dict[str, Any]) -> bool:
        # Consul filtered by node-meta already; a node that says it belongs elsewhere is dropped
        # should a server or proxy have ignored the filter.
        meta = entry.get("Node", {}).get("Meta") or {}
        return all(meta.get(k, v) == v for k, v in self._meta.items())


def _worst(checks: list[dict[str, Any]]) -> tuple[str, str]:
    if not checks:
        return "passing", ""
    worst = max(checks, key=lambda c: _ORDER.get(str(c.get("Status")), 2))
    return str(worst.get("Status", "critical")), str(worst.get("Output") or "").strip()


def _report(item: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        data = json_text.loads(item.get("Value") or b"{}")
        return str(data["release"]), str(data.get("since") or "") or None
    except (ValueError, KeyError, TypeError):
        # A node writes only this JSON; anything else is shown as unknown, not fatal.
        return None, None


def render_table(nodes: list[NodeStatus], pointer_release: str | None) -> list[str]:
    """`status` lines: one per node, marking the nodes off the pointer's release."""
    if not nodes:
        return ["nodes: none registered and none reported"]
    width = max(len(n.node) for n in nodes)
    lines = [f"nodes: {len(nodes)} ({sum(n.healthy for n in nodes)} healthy)"]
    for n in nodes:
        mark = " " if n.release == pointer_release else "!"
        lines.append(f" {mark} {n.node:<{width}}  {n.release or '-':<24}  {n.health:<12}  "
                     f"since {n.since or '-'}")
    return lines
