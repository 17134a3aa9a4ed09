"""Executable probes for the token matrix: one real HTTP request each, judged allowed or denied.

A read answered empty (404 for a key that exists, [] for a tree or a health list that holds
entries) is ACL filtering, so it counts as denied, like a 403: the seeds make every read target
exist. Writes put back the value they found, so the probes leave the seeded state as it was.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consul_tokens.model import StackScope
from contracts.release_layout import deploy_event, deploy_keys, service_name
from tests.real_consul import ConsulAgent

SETTING = "database/master-user"
Judge = Callable[[ConsulAgent, str], tuple[bool, str]]


@dataclass(frozen=True)
class Probe:
    label: str
    run: Judge
    """(allowed, what Consul answered) for one token."""


def seed(agent: ConsulAgent, s: StackScope) -> None:
    """What each probe reads must exist: a setting, the deploy keys, a node report, a node of the
    stack with the stack's app service (node_meta as boot sets it), and one of its deploy events."""
    keys = deploy_keys(s.kv_prefix, s.app)
    for key, value in ((f"{s.prefix}{SETTING}", s.app), (keys.current, "s3://b/m.yml"),
                       (keys.previous, "s3://b/p.yml"), (keys.history, "[]"),
                       (keys.canary, "{}"), (f"{keys.nodes}{s.sample_node}", '{"release":"r1"}')):
        assert agent.api("PUT", f"/v1/kv/{key}", data=value).json() is True
    register = agent.api("PUT", "/v1/catalog/register", json={
        "Node": s.sample_node, "Address": "127.0.0.2",
        "NodeMeta": {"environment": s.stack, "app": s.app},
        "Service": {"Service": service_name(s.app, s.stack), "ID": service_name(s.app, s.stack),
                    "Port": 8080}})
    assert register.status_code == 200, register.text
    fired = agent.api("PUT", f"/v1/event/fire/{deploy_event(s.app, s.stack)}", data=b"seed")
    assert fired.status_code == 200


def _status(r: Any) -> str:
    return f"{r.status_code} {r.text.strip()[:80]}"


def read_key(key: str) -> Judge:
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("GET", f"/v1/kv/{key}", token)
        return r.status_code == 200, _status(r)
    return judge


def read_tree(prefix: str, must_hold: str) -> Judge:
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("GET", f"/v1/kv/{prefix}", token, params={"recurse": ""})
        keys = [e["Key"] for e in r.json()] if r.status_code == 200 else []
        return must_hold in keys, f"{r.status_code}, {len(keys)} keys"
    return judge


def write_key(key: str) -> Judge:
    """PUT the value the key holds (or a report when it is new), then put it back."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        before = agent.api("GET", f"/v1/kv/{key}", params={"raw": ""})
        value = before.content if before.status_code == 200 else b'{"release":"probe"}'
        r = agent.api("PUT", f"/v1/kv/{key}", token, data=value)
        if before.status_code != 200:
            agent.api("DELETE", f"/v1/kv/{key}")
        return r.status_code == 200 and r.json() is True, _status(r)
    return judge


def txn_cas(key: str) -> Judge:
    """A transaction that sets the key to its own value, check-and-set on its index."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        item = agent.api("GET", f"/v1/kv/{key}").json()[0]
        op = {"KV": {"Verb": "cas", "Key": key, "Value": item["Value"] or "",
                     "Index": item["ModifyIndex"]}}
        r = agent.api("PUT", "/v1/txn", token, data=json.dumps([op]))
        return r.status_code == 200, _status(r)
    return judge


def take_lock(key: str) -> Judge:
    """The canary lock: create with cas=0 and delete with the index, as deploy does."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        held = agent.api("GET", f"/v1/kv/{key}", params={"raw": ""}).content
        agent.api("DELETE", f"/v1/kv/{key}")
        r = agent.api("PUT", f"/v1/kv/{key}", token, params={"cas": "0"}, data=b"{}")
        taken = r.status_code == 200 and r.json() is True
        if taken:
            index = agent.api("GET", f"/v1/kv/{key}").json()[0]["ModifyIndex"]
            d = agent.api("DELETE", f"/v1/kv/{key}", token, params={"cas": str(index)})
            taken = d.status_code == 200 and d.json() is True
        agent.api("PUT", f"/v1/kv/{key}", data=held)
        return taken, _status(r)
    return judge


def event_list(s: StackScope) -> Judge:
    """The stack's deploy events, as its nodes' watch lists them (seeded: one exists)."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("GET", "/v1/event/list", token,
                      params={"name": deploy_event(s.app, s.stack)})
        events = r.json() if r.status_code == 200 else []
        return bool(events), f"{r.status_code}, {len(events or [])} events"
    return judge


def event_fire(s: StackScope) -> Judge:
    """Fire the stack's deploy event, filtered to no node: allowed or not, no watch runs."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("PUT", f"/v1/event/fire/{deploy_event(s.app, s.stack)}", token,
                      data=b"probe",
                      params={"node": "^no-such-node$"})
        return r.status_code == 200, _status(r)
    return judge


def health(s: StackScope) -> Judge:
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("GET", f"/v1/health/service/{service_name(s.app, s.stack)}", token)
        nodes = [e["Node"]["Node"] for e in r.json()] if r.status_code == 200 else []
        return s.sample_node in nodes, f"{r.status_code}, nodes {nodes}"
    return judge


def register_node(prefix: str) -> Judge:
    """A new node named <prefix><random>: re-posting a node unchanged needs no write at all
    (vetRegisterWithACL), so only a new one tells whether the token may write nodes there."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        node = f"{prefix}i-probe{uuid.uuid4().hex[:8]}"
        r = agent.api("PUT", "/v1/catalog/register", token,
                      json={"Node": node, "Address": "127.0.0.3"})
        agent.api("PUT", "/v1/catalog/deregister", json={"Node": node})
        return r.status_code == 200, _status(r)
    return judge


def coordinate(node: str) -> Judge:
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        agent.api("PUT", "/v1/catalog/register", json={"Node": node, "Address": "127.0.0.3"})
        r = agent.api("PUT", "/v1/coordinate/update", token, json={
            "Node": node, "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0,
                                    "Height": 1e-5}})
        return r.status_code == 200, _status(r)
    return judge


def register_service(s: StackScope, on: StackScope | None = None) -> Judge:
    """The stack's app service on the node of ``on`` (default: its own), node unchanged (what
    the agent's sync sends). Another stack's service, once registered, is taken away again."""
    node = on or s

    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        service = service_name(s.app, s.stack)
        r = agent.api("PUT", "/v1/catalog/register", token, json={
            "Node": node.sample_node, "Address": "127.0.0.2",
            "NodeMeta": {"environment": node.stack, "app": node.app}, "SkipNodeUpdate": True,
            "Service": {"Service": service, "ID": service, "Port": 8080}})
        if node is not s and r.status_code == 200:
            agent.api("PUT", "/v1/catalog/deregister",
                      json={"Node": node.sample_node, "ServiceID": service})
        return r.status_code == 200, _status(r)
    return judge


def session_create(node: str) -> Judge:
    """A session on ``node`` as `consul lock` opens one (without the serfHealth check, which a
    catalog-only node lacks), destroyed again with the management token."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("PUT", "/v1/session/create", token,
                      json={"Node": node, "Name": "probe", "Checks": []})
        if r.status_code == 200:
            agent.api("PUT", f"/v1/session/destroy/{r.json()['ID']}")
        return r.status_code == 200, _status(r)
    return judge


def leave_server() -> Judge:
    """`consul leave` against the test server, whose node is no stack's: must be refused (an
    allowed probe would stop the server, so it is only ever expected denied)."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        r = agent.api("PUT", "/v1/agent/leave", token)
        return r.status_code == 200, _status(r)
    return judge


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forge_check(prefix: str) -> Judge:
    """A passing check written onto another node named <prefix>…, through the catalog: what a
    node could do to make `python -m deploy` see a node of its stack as healthy."""
    def judge(agent: ConsulAgent, token: str) -> tuple[bool, str]:
        node = f"{prefix}i-other{uuid.uuid4().hex[:8]}"
        agent.api("PUT", "/v1/catalog/register", json={"Node": node, "Address": "127.0.0.5"})
        r = agent.api("PUT", "/v1/catalog/register", token, json={
            "Node": node, "Address": "127.0.0.5", "SkipNodeUpdate": True,
            "Check": {"CheckID": "app-health", "Name": "forged", "Status": "passing"}})
        agent.api("PUT", "/v1/catalog/deregister", json={"Node": node})
        return r.status_code == 200, _status(r)
    return judge
