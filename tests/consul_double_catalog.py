"""Catalog, health and prepared queries for the Consul double: enough of /v1/catalog/register,
/v1/health/{node,service} and /v1/query (create, list, read, update, delete, execute with
failover) to test what the stack creates and what its tokens may do.

Other datacenters are modelled as their healthy instances per service (``peer_services``), which
is what a failover query sees of them.

    catalog = Catalog(consul)   # installs itself as an extension of the double
    catalog.peer_services["idcf"] = {"webapp": ["idcf-web-1"]}
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.consul_double import ConsulDouble, RecordedRequest, Reply


class Catalog:
    def __init__(self, double: ConsulDouble) -> None:
        self.double = double
        self.queries: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        """Node name -> {"Service": name or None, "Passing": bool}."""
        self.peer_services: dict[str, dict[str, list[str]]] = {}
        double.extensions.append(self.handle)

    def handle(self, req: RecordedRequest, denied: bool) -> Reply | None:
        path = req.path
        if not path.startswith(("/v1/query", "/v1/health/", "/v1/catalog/register")):
            return None
        if denied:
            raise Reply(403, "Permission denied")
        if path == "/v1/catalog/register":
            body = json.loads(req.body or b"{}")
            service = (body.get("Service") or {}).get("Service")
            self.nodes[body["Node"]] = {"Service": service, "Passing": True}
            return Reply(200, True, as_json=True)
        if path.startswith("/v1/health/node/"):
            node = path[len("/v1/health/node/"):]
            checks = [{"Node": node, "CheckID": "serfHealth", "Status": "passing"}] \
                if node in self.nodes else []
            return Reply(200, checks, as_json=True)
        if path.startswith("/v1/health/service/"):
            name = path[len("/v1/health/service/"):]
            return Reply(200, self._instances(name), as_json=True)
        return self._query(req)

    def _instances(self, service: str) -> list[dict[str, Any]]:
        return [{"Node": {"Node": n}, "Service": {"Service": service}}
                for n, v in sorted(self.nodes.items()) if v["Service"] == service and v["Passing"]]

    def _query(self, req: RecordedRequest) -> Reply:
        rest = req.path[len("/v1/query"):].strip("/").split("/") if req.path != "/v1/query" \
            else []
        if not rest:
            if req.method == "GET":
                return Reply(200, list(self.queries.values()), as_json=True)
            if req.method == "POST":
                body = self._valid(json.loads(req.body or b"{}"), None)
                query_id = str(uuid.uuid4())
                self.queries[query_id] = {**body, "ID": query_id}
                return Reply(200, {"ID": query_id}, as_json=True)
            raise Reply(405, f"method {req.method} not allowed")
        query_id = rest[0]
        if query_id not in self.queries:
            if req.method in ("PUT", "DELETE"):
                # Only a read says 404; Consul refuses to change a missing query with a 500.
                raise Reply(500, f"Cannot modify non-existent prepared query: '{query_id}'")
            raise Reply(404, "Query not found")
        if len(rest) == 2 and rest[1] == "execute":
            return Reply(200, self._execute(self.queries[query_id]), as_json=True)
        if req.method == "GET":
            return Reply(200, [self.queries[query_id]], as_json=True)
        if req.method == "PUT":
            body = self._valid(json.loads(req.body or b"{}"), query_id)
            self.queries[query_id] = {**body, "ID": query_id}
            return Reply(200, b"")
        if req.method == "DELETE":
            del self.queries[query_id]
            return Reply(200, b"")
        raise Reply(405, f"method {req.method} not allowed")

    def _valid(self, body: dict[str, Any], query_id: str | None) -> dict[str, Any]:
        if not (body.get("Service") or {}).get("Service"):
            raise Reply(400, "Must provide a Service name to query")
        clash = [q for q in self.queries.values()
                 if q.get("Name") and q["Name"] == body.get("Name") and q["ID"] != query_id]
        if clash:
            raise Reply(500, f"raft apply failed: name {body['Name']!r} aliases an existing "
                             "query name")
        return body

    def _execute(self, query: dict[str, Any]) -> dict[str, Any]:
        service = query["Service"]["Service"]
        local = self._instances(service)
        result = {"Service": service, "Nodes": local, "Datacenter": self.double.datacenter,
                  "Failovers": 0}
        if local:
            return result
        # Failovers counts the remote datacenters queried (API docs, "Execute Prepared Query"):
        # only the ones the servers know over WAN are, in the order given, each counted even
        # when it answers no node (seen on the 1.14.11 agent with a joined peer and no instance).
        known = [dc for dc in query["Service"].get("Failover", {}).get("Datacenters", [])
                 if dc in self.peer_services]
        for tried, dc in enumerate(known, start=1):
            nodes = self.peer_services[dc].get(service, [])
            if nodes:
                return {**result, "Datacenter": dc, "Failovers": tried,
                        "Nodes": [{"Node": {"Node": n}, "Service": {"Service": service}}
                                  for n in nodes]}
        return {**result, "Failovers": len(known)}
