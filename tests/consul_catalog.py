"""The catalog and health half of the Consul double: nodes, the app service, and its HTTP check.

Each registered node stands for an agent that loaded /etc/consul.d/app-service.hcl: the double
runs that HTTP check for real, as the agent would (a GET of the node's health URL every
`interval`, at most `timeout`; 2xx passing, 429 warning, anything else or no answer critical, the
output worded as Consul words it), and serves the results on /v1/health/service/<name>,
/v1/health/node/<node> and /v1/catalog/nodes. `delivers` applies a user event's NodeFilter and
ServiceFilter to a node, as serf does, so tests can hand each simulated node only its events.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

CHECK_ID = "app-health"


@dataclass
class CatalogNode:
    name: str
    service: str
    check_url: str
    interval: float
    timeout: float
    status: str = "critical"
    output: str = ""
    checks_run: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


class Catalog:
    def __init__(self, datacenter: str) -> None:
        self.datacenter = datacenter
        self.nodes: dict[str, CatalogNode] = {}
        self._lock = threading.Lock()

    def register(self, name: str, service: str, check_url: str, interval: float = 0.2,
                 timeout: float = 1.0) -> CatalogNode:
        """A node joins with the app service; its check starts critical, as Consul's do."""
        node = CatalogNode(name, service, check_url, interval, timeout)
        with self._lock:
            self.nodes[name] = node
        threading.Thread(target=self._run_check, args=(node,), daemon=True,
                         name=f"check-{name}").start()
        return node

    def deregister(self, name: str) -> None:
        with self._lock:
            node = self.nodes.pop(name, None)
        if node is not None:
            node.stop.set()

    def stop(self) -> None:
        for name in list(self.nodes):
            self.deregister(name)

    def _run_check(self, node: CatalogNode) -> None:
        while not node.stop.is_set():
            status, output = http_check(node.check_url, node.timeout)
            with self._lock:
                node.status, node.output = status, output
                node.checks_run += 1
            node.stop.wait(node.interval)

    def delivers(self, node_filter: str, service_filter: str, node: str) -> bool:
        """Whether an event with these filters reaches ``node`` (serf: regexp match, unanchored)."""
        if node_filter and not re.search(node_filter, node):
            return False
        if service_filter:
            entry = self.nodes.get(node)
            return entry is not None and re.search(service_filter, entry.service) is not None
        return True

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self._lock:
            nodes = sorted(self.nodes.values(), key=lambda n: n.name)
            if path == "/v1/catalog/nodes":
                return 200, [self._node(n) for n in nodes]
            if path.startswith("/v1/health/service/"):
                name = path[len("/v1/health/service/"):]
                chosen = [n for n in nodes if n.service == name
                          and ("passing" not in query or n.status == "passing")]
                return 200, [{"Node": self._node(n), "Service": self._service(n),
                              "Checks": [self._check(n)]} for n in chosen]
            if path.startswith("/v1/health/node/"):
                name = path[len("/v1/health/node/"):]
                return 200, [self._check(n) for n in nodes if n.name == name]
        return 404, f"Invalid URL path: not a recognized HTTP API endpoint: {path}"

    def _node(self, n: CatalogNode) -> dict[str, Any]:
        return {"ID": "", "Node": n.name, "Address": "127.0.0.1", "Datacenter": self.datacenter,
                "Meta": {}}

    @staticmethod
    def _service(n: CatalogNode) -> dict[str, Any]:
        return {"ID": n.service, "Service": n.service, "Tags": [], "Port": 0}

    @staticmethod
    def _check(n: CatalogNode) -> dict[str, Any]:
        return {"Node": n.name, "CheckID": CHECK_ID, "Name": f"Service '{n.service}' check",
                "Status": n.status, "Output": n.output, "ServiceID": n.service,
                "ServiceName": n.service}


def http_check(url: str, timeout: float) -> tuple[str, str]:
    """One run of Consul's HTTP check: (status, output)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(4096).decode(errors="replace")
            return "passing", f"HTTP GET {url}: {response.status} OK Output: {body}"
    except urllib.error.HTTPError as e:
        body = e.read(4096).decode(errors="replace")
        status = "warning" if e.code == 429 else "critical"
        return status, f"HTTP GET {url}: {e.code} {e.reason} Output: {body}"
    except (urllib.error.URLError, OSError) as e:
        return "critical", f"Get \"{url}\": {getattr(e, 'reason', e)}"
