"""The stack's KV, written as `pulumi up` writes it: the real ConsulKv component under the real
Pulumi engine (Automation API, inline program, file backend in the run's temp dir), with the
kv-writer token from consul_tokens' rules, against the fleet's real Consul server."""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi import automation as auto

from components.consul.kv import ConsulConnection, ConsulKv, ConsulKvArgs
from tests.engine.workspace import inline_stack

SECRET_KEYS = frozenset({"database/master-password"})


class KvEngine:
    def __init__(self, workdir: Path, address: str, prefix: str, token: str) -> None:
        self.desired: dict[str, str] = {}

        def program() -> None:
            entries: dict[str, pulumi.Input[str]] = {
                k: pulumi.Output.secret(v) if k in SECRET_KEYS else v
                for k, v in self.desired.items()}
            kv = ConsulKv("kv", ConsulKvArgs(
                prefix=prefix, entries=entries,
                connection=ConsulConnection(address=address,
                                            token=pulumi.Output.secret(token))))
            pulumi.export("keys", kv.keys)

        self.stack = inline_stack(workdir, "webtier-fleet", "staging", program)

    def up(self, entries: dict[str, str]) -> auto.UpResult:
        self.desired = dict(entries)
        return self.stack.up(on_output=lambda _line: None)
