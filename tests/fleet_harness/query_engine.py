"""The stack's failover prepared query, created as `pulumi up` creates it: the real
PreparedQueries component under the real Pulumi engine (Automation API, inline program, file
backend in the run's temp dir), with the kv-writer token, against the fleet's real Consul."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
from pulumi import automation as auto

from components.consul.prepared_query import PreparedQueries, PreparedQueriesArgs
from tests.engine.workspace import inline_stack


class QueryEngine:
    def __init__(self, workdir: Path, address: str, datacenter: str, token: str,
                 services: Sequence[str], peers: Sequence[str]) -> None:
        def program() -> None:
            queries = PreparedQueries("queries", PreparedQueriesArgs(
                services=tuple(services), peers=tuple(peers), datacenter=datacenter,
                address=address, token=pulumi.Output.secret(token), ca_pem=None))
            pulumi.export("queryIds", queries.query_ids)

        self.stack = inline_stack(workdir, "webtier-fleet-queries", "staging", program)

    def up(self) -> dict[str, str]:
        result = self.stack.up(on_output=lambda _line: None)
        return dict(result.outputs["queryIds"].value)

    def destroy(self) -> auto.DestroyResult:
        return self.stack.destroy(on_output=lambda _line: None)
