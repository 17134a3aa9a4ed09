"""The KV provider served by Pulumi's real dynamic provider host, against a real Consul 1.14.11
agent (tests/real_consul.py; the read-count test uses the double, which counts requests).

`pulumi up` runs dynamic providers in `python -m pulumi.dynamic`, which unpickles the provider
from state and speaks gRPC with the engine. Here that host process is real and the test plays the
engine: it catches a provider the host cannot import, and properties that do not survive the trip
through protobuf (numbers come back as doubles).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.consul.kv_provider import ConsulKvProvider
from tests.consul_double import ConsulDouble
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "host-test-token"
URN = "urn:pulumi:staging::webtier::pulumi-python:dynamic/consul:KvEntries::kv-entries"

pytestmark = pytest.mark.integration


def wire(props: dict[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def unwire(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


@pytest.fixture
def host() -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The real host, started the way the engine starts it: in the project directory."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_ADDR")}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        assert port.isdigit(), f"the dynamic provider host printed {port!r}, not its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Kv:
    """Where a test's provider writes: an address, a token for one prefix, and that prefix."""

    address: str
    token: str
    prefix: str
    agent: ConsulAgent | None = None
    double: ConsulDouble | None = None

    def value(self, rel: str) -> str | None:
        if self.double is not None:
            return self.double.value(f"{self.prefix}/{rel}")
        assert self.agent is not None
        got = self.agent.api("GET", f"/v1/kv/{self.prefix}/{rel}", params={"raw": ""})
        return None if got.status_code == 404 else got.text

    def put(self, rel: str, value: str) -> None:
        assert self.agent is not None
        self.agent.api("PUT", f"/v1/kv/{self.prefix}/{rel}", data=value.encode())

    def keys(self) -> list[str]:
        assert self.agent is not None
        got = self.agent.api("GET", f"/v1/kv/{self.prefix}/", params={"keys": ""})
        return [] if got.status_code == 404 else [k[len(self.prefix) + 1:] for k in got.json()]


@pytest.fixture
def kv(consul_agent: ConsulAgent, kv_prefix: str) -> Kv:
    token = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "write" }}')
    return Kv(consul_agent.address, token, kv_prefix, agent=consul_agent)


@pytest.fixture
def double() -> Iterator[Kv]:
    with ConsulDouble(token=TOKEN) as d:
        yield Kv(d.address, TOKEN, "app/staging", double=d)


def inputs(kv: Kv, values: dict[str, str]) -> dict[str, Any]:
    return {"__provider": serialize_provider(ConsulKvProvider()), "prefix": kv.prefix,
            "address": kv.address, "datacenter": "", "caCert": "", "token": kv.token,
            "values": values, "secretValues": {"database/master-password": "pw"}}


def create(host: provider_pb2_grpc.ResourceProviderStub, props: dict[str, Any]
           ) -> tuple[str, dict[str, Any]]:
    reply = host.Create(provider_pb2.CreateRequest(urn=URN, properties=wire(props)))
    return reply.id, unwire(reply.properties)


def test_kv_create_through_the_real_provider_host(
        host: provider_pb2_grpc.ResourceProviderStub, kv: Kv) -> None:
    resource_id, outs = create(host, inputs(kv, {"a": "1"}))
    assert (resource_id, kv.value("a")) == (kv.prefix, "1")
    assert set(outs["indexes"]) == {"a", "database/master-password"}


def test_kv_update_through_the_real_provider_host_uses_state_indexes(
        host: provider_pb2_grpc.ResourceProviderStub, kv: Kv) -> None:
    resource_id, outs = create(host, inputs(kv, {"a": "1"}))
    news = inputs(kv, {"a": "2"})
    diff = host.Diff(provider_pb2.DiffRequest(id=resource_id, urn=URN, olds=wire(outs),
                                              news=wire(news)))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    host.Update(provider_pb2.UpdateRequest(id=resource_id, urn=URN, olds=wire(outs),
                                           news=wire(news)))
    assert kv.value("a") == "2"


def test_kv_diff_and_update_through_the_real_provider_host_read_consul_once_against_consul_double(
        host: provider_pb2_grpc.ResourceProviderStub, double: Kv) -> None:
    # The host keeps one provider object per pickled provider: the diff's read serves the update.
    resource_id, outs = create(host, inputs(double, {"a": "1"}))
    news = inputs(double, {"a": "2"})
    assert double.double is not None
    double.double.reset_requests()
    host.Diff(provider_pb2.DiffRequest(id=resource_id, urn=URN, olds=wire(outs), news=wire(news)))
    host.Update(provider_pb2.UpdateRequest(id=resource_id, urn=URN, olds=wire(outs),
                                           news=wire(news)))
    assert double.double.requests == [("GET", "/v1/kv/app/staging/"), ("PUT", "/v1/txn")]


def test_kv_unchanged_diff_through_the_real_provider_host(
        host: provider_pb2_grpc.ResourceProviderStub, kv: Kv) -> None:
    resource_id, outs = create(host, inputs(kv, {"a": "1"}))
    diff = host.Diff(provider_pb2.DiffRequest(id=resource_id, urn=URN, olds=wire(outs),
                                              news=wire(inputs(kv, {"a": "1"}))))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE


def test_kv_delete_through_the_real_provider_host(
        host: provider_pb2_grpc.ResourceProviderStub, kv: Kv) -> None:
    resource_id, outs = create(host, inputs(kv, {"a": "1"}))
    kv.put("foreign", "x")
    host.Delete(provider_pb2.DeleteRequest(id=resource_id, urn=URN, properties=wire(outs)))
    assert kv.keys() == ["foreign"]


def test_kv_error_through_the_real_provider_host_names_the_key(
        host: provider_pb2_grpc.ResourceProviderStub, kv: Kv) -> None:
    kv.put("a", "someone else's")
    with pytest.raises(grpc.RpcError) as err:
        create(host, inputs(kv, {"a": "1"}))
    details = err.value.details() or ""
    assert f"{kv.prefix}/a already exists in Consul" in details
    assert kv.token not in details
