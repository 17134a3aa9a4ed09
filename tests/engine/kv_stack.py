"""A stack of the real ConsulKv component under the real Pulumi engine, against a real Consul
1.14.11 agent (tests/real_consul.py), or the HTTP double where a test injects a fault.

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
from tests.consul_double import ConsulDouble
from tests.engine.workspace import Captured, inline_stack
from tests.real_consul import ConsulAgent

PROJECT = "webtier-engine"
TOKEN = "engine-kv-token-7d41c9e2"
"""The double's token (the agent's kv-writer token is made per stack)."""
SECRET_KEY = "database/master-password"
SECRET = "engine-secret-Vq3xZ8pL"
PLAIN = {"service/port": "8080", "feature/flag": "on"}
ENTRIES_TYPE = "pulumi-python:dynamic/consul:KvEntries"


@dataclass
class Consul:
    """The Consul a stack writes to, seen as an operator sees it (management token, HTTP)."""

    address: str
    token: str
    """The stack's token: key_prefix write on its prefix only (agent), or the double's."""
    prefix: str
    agent: ConsulAgent | None = None
    double: ConsulDouble | None = None

    def value(self, key: str) -> str | None:
        if self.double is not None:
            return self.double.value(key)
        assert self.agent is not None
        answer = self.agent.api("GET", f"/v1/kv/{key}", params={"raw": ""})
        return None if answer.status_code == 404 else answer.text

    def put(self, key: str, value: str) -> None:
        if self.double is not None:
            self.double.put(key, value)
            return
        assert self.agent is not None
        assert self.agent.api("PUT", f"/v1/kv/{key}", data=value.encode()).json() is True

    def keys(self, under: str = "") -> list[str]:
        if self.double is not None:
            return sorted(k for k in self.double.kv if k.startswith(under))
        assert self.agent is not None
        answer = self.agent.api("GET", f"/v1/kv/{under}", params={"keys": ""})
        return [] if answer.status_code == 404 else sorted(answer.json())

    def write_index(self) -> int:
        """Consul's index of the last write anywhere in KV: unchanged means nothing was written."""
        if self.double is not None:
            return self.double.count("PUT") + self.double.count("DELETE")
        assert self.agent is not None
        answer = self.agent.api("GET", "/v1/kv/", params={"keys": ""})
        return int(answer.headers["X-Consul-Index"])


@dataclass
class KvStack:
    consul: Consul
    stack: auto.Stack
    tmp: Path
    desired: dict[str, str] = field(default_factory=lambda: dict(PLAIN))
    outputs: list[Captured] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return self.consul.prefix

    def capture(self) -> Captured:
        captured = Captured()
        self.outputs.append(captured)
        return captured

    def up(self) -> auto.UpResult:
        return self.stack.up(on_output=self.capture())

    def all_output(self) -> str:
        return "\n".join(c.text for c in self.outputs)


@contextmanager
def _stack(tmp: Path, stack_name: str, consul: Consul) -> Iterator[KvStack]:
    holder: dict[str, KvStack] = {}

    def program() -> None:
        entries: dict[str, pulumi.Input[str]] = dict(holder["kv"].desired)
        entries[SECRET_KEY] = pulumi.Output.secret(SECRET)
        kv = ConsulKv("kv", ConsulKvArgs(
            prefix=consul.prefix, entries=entries,
            connection=ConsulConnection(address=consul.address, token=consul.token)))
        pulumi.export("keys", kv.keys)

    stack = inline_stack(tmp, PROJECT, stack_name, program)
    holder["kv"] = KvStack(consul, stack, tmp)
    holder["kv"].up()
    yield holder["kv"]


@contextmanager
def kv_stack(tmp: Path, stack_name: str, agent: ConsulAgent) -> Iterator[KvStack]:
    """A converged stack (one `up` done) on the real agent, with a least-privilege token."""
    prefix = agent.fresh_prefix()
    token = agent.make_token(f'key_prefix "{prefix}/" {{ policy = "write" }}')
    try:
        with _stack(tmp, stack_name, Consul(agent.address, token, prefix, agent=agent)) as kv:
            yield kv
    finally:
        agent.wipe(prefix)


@contextmanager
def kv_stack_on_double(tmp: Path, stack_name: str) -> Iterator[tuple[KvStack, ConsulDouble]]:
    """The same on the HTTP double, for a test that injects a Consul fault."""
    with ConsulDouble(token=TOKEN) as double:
        consul = Consul(double.address, TOKEN, "app/enginetest", double=double)
        with _stack(tmp, stack_name, consul) as kv:
            yield kv, double
