"""The Consul double answers as Consul's HTTP API does, over plain HTTP.

Other tests trust the double in place of a real agent (the KV provider, the deploy events), so
the API behaviours they rely on are pinned here.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.consul_double import ConsulDouble

TOKEN = "double-test-token"
pytestmark = pytest.mark.integration


@pytest.fixture
def double() -> Iterator[ConsulDouble]:
    with ConsulDouble(token=TOKEN) as d:
        yield d


class Agent:
    """The few Consul calls these tests make, as any HTTP client would send them."""

    def __init__(self, double: ConsulDouble) -> None:
        self.base = double.address
        self.session = requests.Session()
        self.session.headers["X-Consul-Token"] = TOKEN

    def get(self, path: str, **params: str) -> requests.Response:
        return self.session.get(f"{self.base}{path}", params=params, timeout=10)

    def put(self, path: str, data: str = "", **params: str) -> requests.Response:
        return self.session.put(f"{self.base}{path}", data=data.encode(), params=params,
                                timeout=10)

    def kv_put(self, key: str, value: str, **params: str) -> bool:
        return bool(self.put(f"/v1/kv/{key}", value, **params).json())

    def kv_get(self, key: str, **params: str) -> tuple[str, Any]:
        """(X-Consul-Index, the entry with its Value decoded, or the body for ?keys)."""
        r = self.get(f"/v1/kv/{key}", **params)
        body = r.json() if r.status_code == 200 else None
        if body and "keys" not in params:
            body = body[0]
            body["Value"] = base64.b64decode(body["Value"]) if body["Value"] else None
        return r.headers["X-Consul-Index"], body

    def fire(self, name: str, payload: str) -> requests.Response:
        return self.put(f"/v1/event/fire/{name}", payload)

    def events(self, **params: str) -> tuple[str, list[dict[str, Any]]]:
        r = self.get("/v1/event/list", **params)
        events = r.json()
        for e in events:
            e["Payload"] = base64.b64decode(e["Payload"]) if e["Payload"] else None
        return r.headers["X-Consul-Index"], events


@pytest.fixture
def agent(double: ConsulDouble) -> Iterator[Agent]:
    client = Agent(double)
    try:
        yield client
    finally:
        client.session.close()


def txn(double: ConsulDouble, ops: list[dict[str, object]]) -> requests.Response:
    return requests.put(f"{double.address}/v1/txn", json=ops,
                        headers={"X-Consul-Token": TOKEN}, timeout=5)


def kv_set(key: str, value: str) -> dict[str, object]:
    return {"KV": {"Verb": "set", "Key": key, "Value": base64.b64encode(value.encode()).decode()}}


def test_a_missing_key_is_404_with_an_index_header(double: ConsulDouble) -> None:
    r = requests.get(f"{double.address}/v1/kv/nope", headers={"X-Consul-Token": TOKEN},
                     timeout=5)
    assert (r.status_code, r.headers["X-Consul-Index"].isdigit()) == (404, True)


def test_put_get_round_trips(agent: Agent) -> None:
    agent.kv_put("app/a", "1")
    _, entry = agent.kv_get("app/a")
    assert (entry["Value"], entry["CreateIndex"] == entry["ModifyIndex"]) == (b"1", True)


def test_cas_put_succeeds_only_on_the_current_modify_index(agent: Agent) -> None:
    agent.kv_put("app/a", "1")
    index = str(agent.kv_get("app/a")[1]["ModifyIndex"])
    assert (agent.kv_put("app/a", "2", cas=index), agent.kv_put("app/a", "3", cas=index)) == (
        True, False)


def test_cas_zero_creates_only_if_absent(agent: Agent) -> None:
    assert (agent.kv_put("app/a", "1", cas="0"), agent.kv_put("app/a", "2", cas="0")) == (
        True, False)


def test_keys_with_a_separator_fold_subfolders(agent: Agent) -> None:
    for key in ("app/a", "app/db/user", "app/db/host"):
        agent.kv_put(key, "x")
    assert agent.kv_get("app/", keys="", separator="/")[1] == ["app/a", "app/db/"]


def test_raw_returns_the_bare_value(double: ConsulDouble) -> None:
    double.put("app/a", "hello")
    r = requests.get(f"{double.address}/v1/kv/app/a?raw", headers={"X-Consul-Token": TOKEN},
                     timeout=5)
    assert r.text == "hello"


def test_a_blocking_query_returns_when_the_key_changes(double: ConsulDouble,
                                                       agent: Agent) -> None:
    double.put("app/a", "1")
    index, _ = agent.kv_get("app/a")
    threading.Timer(0.2, lambda: double.put("app/a", "2")).start()
    started = time.monotonic()
    _, entry = agent.kv_get("app/a", index=index, wait="5s")
    assert entry["Value"] == b"2"
    assert time.monotonic() - started < 4


def test_a_blocking_query_ignores_writes_to_other_keys(double: ConsulDouble,
                                                       agent: Agent) -> None:
    double.put("app/a", "1")
    index, _ = agent.kv_get("app/a")
    double.put("app/other", "x")
    started = time.monotonic()
    agent.kv_get("app/a", index=index, wait="300ms")
    assert time.monotonic() - started >= 0.25


def test_a_txn_gives_every_write_one_modify_index(double: ConsulDouble) -> None:
    body = txn(double, [kv_set("a", "1"), kv_set("b", "2")]).json()
    assert len({r["KV"]["ModifyIndex"] for r in body["Results"]}) == 1


def test_a_failing_txn_op_rolls_back_the_whole_txn_with_409(double: ConsulDouble) -> None:
    double.put("b", "old")
    r = txn(double, [kv_set("a", "1"), {"KV": {"Verb": "cas", "Key": "b", "Index": 1}}])
    assert r.status_code == 409
    assert r.json()["Errors"] == [{"OpIndex": 1,
                                   "What": 'failed to set key "b", index is stale'}]
    assert "a" not in double.kv


def test_a_txn_over_the_op_limit_is_413(double: ConsulDouble) -> None:
    r = txn(double, [kv_set(f"k{i}", "v") for i in range(65)])
    assert (r.status_code, r.text) == (413, "Transaction contains too many operations (65 > 64)")


def test_a_txn_with_a_fractional_index_is_400_like_go_decoding(double: ConsulDouble) -> None:
    r = txn(double, [{"KV": {"Verb": "cas", "Key": "a", "Index": 2.0}}])
    assert r.status_code == 400


def test_a_request_without_the_token_is_denied(double: ConsulDouble) -> None:
    r = requests.get(f"{double.address}/v1/kv/a", timeout=5)
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_a_request_with_an_unknown_token_is_acl_not_found(double: ConsulDouble) -> None:
    r = requests.get(f"{double.address}/v1/kv/a", headers={"X-Consul-Token": "x"}, timeout=5)
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_a_fired_event_is_listed_with_its_payload(double: ConsulDouble, agent: Agent) -> None:
    fired = agent.fire("deploy", "release-42").json()
    _, events = agent.events(name="deploy")
    assert [(e["ID"], e["Payload"]) for e in events] == [(fired["ID"], b"release-42")]
    assert double.events[0].payload == b"release-42"


def test_event_list_filters_by_name(double: ConsulDouble, agent: Agent) -> None:
    agent.fire("deploy", "1")
    agent.fire("other", "2")
    assert [e["Name"] for e in agent.events(name="deploy")[1]] == ["deploy"]


def test_a_blocking_event_list_returns_on_the_next_event(double: ConsulDouble,
                                                         agent: Agent) -> None:
    agent.fire("deploy", "1")
    index, _ = agent.events(name="deploy")
    threading.Timer(0.2, lambda: agent.fire("deploy", "2")).start()
    _, events = agent.events(name="deploy", index=index, wait="5s")
    assert [e["Payload"] for e in events] == [b"1", b"2"]


def test_an_event_over_the_size_limit_is_refused(agent: Agent) -> None:
    r = agent.fire("deploy", "x" * 600)
    assert r.status_code == 500
    assert "exceeds limit of 512 bytes" in r.text


def test_status_leader_answers(agent: Agent) -> None:
    assert agent.get("/v1/status/leader").json() == "127.0.0.1:8300"
