"""A stack of the real ConsulKv component under the real Pulumi engine, against the Consul double.

The program reads its entries from `KvStack.desired` on every run, so a test changes an input by
editing that dict. Each operation's CLI output is kept for assertions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi import automation as auto

from components.consul.kv import ConsulConnection, ConsulKv, ConsulKvArgs
from tests.consul_double import ConsulDouble, RecordedRequest
from tests.engine.workspace import Captured, inline_stack

PROJECT = "webtier-engine"
PREFIX = "app/enginetest"
TOKEN = "engine-kv-token-7d41c9e2"
SECRET_KEY = "database/master-password"
SECRET = "engine-secret-Vq3xZ8pL"
PLAIN = {"service/port": "8080", "feature/flag": "on"}
ENTRIES_TYPE = "pulumi-python:dynamic/consul:KvEntries"
WRITES = ("PUT", "DELETE", "POST")


@dataclass
class KvStack:
    consul: ConsulDouble
    stack: auto.Stack
    tmp: Path
    desired: dict[str, str] = field(default_factory=lambda: dict(PLAIN))
    outputs: list[Captured] = field(default_factory=list)
    first_up: list[RecordedRequest] = field(default_factory=list)
    """What the first up sent, kept before any test resets the double's log."""

    def capture(self) -> Captured:
        captured = Captured()
        self.outputs.append(captured)
        return captured

    def up(self) -> auto.UpResult:
        return self.stack.up(on_output=self.capture())

    def writes(self) -> list[tuple[str, str]]:
        """Requests since the last `consul.reset_requests()` that could change Consul."""
        return [(m, p) for m, p in self.consul.requests if m in WRITES]

    def all_output(self) -> str:
        return "\n".join(c.text for c in self.outputs)


@contextmanager
def kv_stack(tmp: Path, stack_name: str) -> Iterator[KvStack]:
    """A converged stack (one `up` done) and its Consul double; the double stops afterwards."""
    with ConsulDouble(token=TOKEN) as consul:
        holder: dict[str, KvStack] = {}

        def program() -> None:
            entries: dict[str, pulumi.Input[str]] = dict(holder["kv"].desired)
            entries[SECRET_KEY] = pulumi.Output.secret(SECRET)
            kv = ConsulKv("kv", ConsulKvArgs(
                prefix=PREFIX, entries=entries,
                connection=ConsulConnection(address=consul.address, token=TOKEN)))
            pulumi.export("keys", kv.keys)

        stack = inline_stack(tmp, PROJECT, stack_name, program)
        holder["kv"] = KvStack(consul, stack, tmp)
        holder["kv"].up()
        holder["kv"].first_up = list(consul.recorded)
        yield holder["kv"]
