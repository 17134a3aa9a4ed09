"""The token model on a real Consul 1.14.11 with default-deny ACLs: each actor's requests with
the token the model gives it are allowed, and the requests one step outside are denied, with
the tokens `python -m consul_tokens` really creates for staging and production.

Expected and observed are compared as one table; a failure prints every row that differs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consul_tokens.model import AGENT, DEPLOY, KV_WRITER, TEMPLATE, Request, StackScope, actors
from contracts.release_layout import deploy_keys, restart_lock_prefix, service_name
from tests.consul_agent import token_probes as p
from tests.consul_agent.stack_tokens import make_stack_tokens
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.consul_agent, pytest.mark.integration]

STAGING = StackScope("webapp", "staging", "webapp/staging")
PRODUCTION = StackScope("webapp", "production", "webapp/production")
ROLES = (AGENT, TEMPLATE, KV_WRITER, DEPLOY)
CLIENT_AGENT_TESTED = ("/v1/agent/leave", "/v1/agent/self",
                       *(f"/v1/agent/health/service/name/{service_name('webapp', stack)}"
                         for stack in ("staging", "production")))
"""tests/consul_agent/test_node_agent.py runs these on a client agent with the stack's tokens."""


def probe_for(s: StackScope, r: Request) -> p.Judge | None:
    """The executable form of one request of the model (None: an agent endpoint about the
    agent's own node, checked on a client agent named as the stack's nodes are, in
    tests/consul_agent/test_node_agent.py; the test server's node is no stack's)."""
    keys = deploy_keys(s.kv_prefix, s.app)
    path = r.path.split("?")[0]
    if r.method == "RPC":
        if r.path == "Coordinate.Update":
            return p.coordinate(s.sample_node)
        if r.needs.resource == "service":
            return p.register_service(s)
        return p.register_node(s.nodes)
    if path.startswith("/v1/agent/"):
        return None
    if path == "/v1/session/create":
        return p.session_create(s.sample_node)
    if path.startswith("/v1/event/list"):
        return p.event_list(s)
    if path.startswith("/v1/event/fire/"):
        return p.event_fire(s)
    if path.startswith("/v1/health/service/"):
        return p.health(s)
    if path == "/v1/txn":
        key = r.needs.segment if r.needs.resource == "key" else f"{s.prefix}{p.SETTING}"
        return p.txn_cas(key)
    key = path.removeprefix("/v1/kv/")
    if "recurse" in r.path:
        hold = f"{keys.nodes}{s.sample_node}" if key == keys.nodes else f"{s.prefix}{p.SETTING}"
        return p.read_tree(key, hold)
    if r.method == "PUT" and key == keys.canary:
        return p.take_lock(keys.canary)
    if r.method == "PUT":
        return p.write_key(key)
    return p.read_key(key)


def expected_rows(s: StackScope) -> list[tuple[str, str, p.Judge, bool]]:
    """(token role, what, probe, allowed?) for the stack: the model's requests, allowed with
    the actor's token, then the denials the issue names and their neighbours."""
    keys = deploy_keys(s.kv_prefix, s.app)
    other = PRODUCTION if s is STAGING else STAGING
    other_keys = deploy_keys(other.kv_prefix, other.app)
    rows: list[tuple[str, str, p.Judge, bool]] = []
    for actor in actors(s):
        for r in actor.requests:
            judge = probe_for(s, r)
            if judge is not None:
                rows.append((actor.token, f"{actor.name}: {r.method} {r.path}", judge, True))
    setting = f"{s.prefix}{p.SETTING}"
    slot = f"{restart_lock_prefix(s.kv_prefix, s.app)}/.lock"
    rows += [
        (TEMPLATE, "template opens a session on another stack's node",
         p.session_create(other.sample_node), False),
        (TEMPLATE, "template takes another stack's restart slot",
         p.write_key(f"{restart_lock_prefix(other.kv_prefix, other.app)}/.lock"), False),
        (TEMPLATE, "template writes the deploy pointer", p.write_key(keys.current), False),
        (TEMPLATE, "template takes the canary lock", p.take_lock(keys.canary), False),
        (AGENT, "agent takes a restart slot", p.write_key(slot), False),
        (KV_WRITER, "kv-writer writes the restart lock", p.write_key(slot), False),
        (DEPLOY, "deploy opens a session", p.session_create(s.sample_node), False),
        (KV_WRITER, "kv-writer moves the deploy pointer (txn cas current)",
         p.txn_cas(keys.current), False),
        (KV_WRITER, "kv-writer writes the deploy pointer (PUT current)",
         p.write_key(keys.current), False),
        (KV_WRITER, "kv-writer takes the canary lock", p.take_lock(keys.canary), False),
        (KV_WRITER, "kv-writer reads the pointer", p.read_key(keys.current), False),
        (TEMPLATE, "template writes a setting", p.write_key(setting), False),
        (TEMPLATE, "template writes a node report",
         p.write_key(f"{keys.nodes}{s.sample_node}"), False),
        (AGENT, "agent reads a setting (database/master-user)", p.read_key(setting), False),
        (AGENT, "agent moves the pointer", p.txn_cas(keys.current), False),
        (AGENT, "agent fires the deploy event", p.event_fire(s), False),
        (AGENT, f"agent registers {other.stack}'s service on its own node",
         p.register_service(other, on=s), False),
        (AGENT, "agent registers another stack's node", p.register_node(other.nodes), False),
        (AGENT, "agent makes the test server (no stack's node) leave", p.leave_server(), False),
        # The documented limit (docs/consul.md, "the stack is the trust boundary"): every node
        # of a stack holds one agent token, so one node can speak for another of its stack.
        (AGENT, "agent writes another node's report, same stack",
         p.write_key(f"{keys.nodes}{s.nodes}i-0fedcba9876543210"), True),
        (AGENT, "agent writes a passing check on another node, same stack",
         p.forge_check(s.nodes), True),
        (AGENT, f"agent writes a passing check on a {other.stack} node",
         p.forge_check(other.nodes), False),
        (DEPLOY, "deploy reads a setting", p.read_key(setting), False),
        (DEPLOY, "deploy writes a setting", p.write_key(setting), False),
        (DEPLOY, "deploy registers a node", p.register_node(s.nodes), False),
        ("anonymous", "no token sees the deploy event (a watch without `token`)",
         p.event_list(s), False),
    ]
    for role in ROLES:
        rows += [
            (role, f"{role} reads {other.stack}'s setting",
             p.read_key(f"{other.prefix}{p.SETTING}"), False),
            (role, f"{role} lists {other.stack}'s prefix",
             p.read_tree(other.prefix, f"{other.prefix}{p.SETTING}"), False),
            (role, f"{role} reads {other.stack}'s pointer", p.read_key(other_keys.current), False),
            (role, f"{role} reads {other.stack}'s node reports",
             p.read_tree(other_keys.nodes, f"{other_keys.nodes}{other.sample_node}"), False),
            # Within a stack every node shares the agent token (docs/consul.md, "the stack is
            # the trust boundary"); across stacks no report can be forged.
            (role, f"{role} writes a {other.stack} node's report",
             p.write_key(f"{other_keys.nodes}{other.sample_node}"), False),
            (role, f"{role} moves {other.stack}'s pointer", p.txn_cas(other_keys.current), False),
            (role, f"{role} sees {other.stack}'s nodes", p.health(other), False),
            # On a Consul cluster both stacks share, one stack's deploy never wakes the other's
            # nodes, and no token of one stack can fire or watch the other's deploy event.
            (role, f"{role} fires {other.stack}'s deploy event", p.event_fire(other), False),
            (role, f"{role} sees {other.stack}'s deploy events", p.event_list(other), False),
        ]
    return rows


@pytest.fixture(scope="module")
def tokens(consul_agent: ConsulAgent, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("tokens")
    made = {s.stack: make_stack_tokens(consul_agent, s.stack, tmp / s.stack)
            for s in (STAGING, PRODUCTION)}
    for s in (STAGING, PRODUCTION):
        p.seed(consul_agent, s)
    return made


@pytest.mark.parametrize("scope", [STAGING, PRODUCTION], ids=lambda s: s.stack)
def test_every_actor_may_do_exactly_what_the_model_says(
        consul_agent: ConsulAgent, tokens: dict[str, dict[str, str]], scope: StackScope,
        tmp_path: Path) -> None:
    table, wrong = [], []
    for role, what, judge, allowed in expected_rows(scope):
        token = "" if role == "anonymous" else tokens[scope.stack][role]
        observed, answer = judge(consul_agent, token)
        mark = "ok" if observed == allowed else "WRONG"
        line = (f"{mark:5} {role:9} {'allow' if allowed else 'deny':5} -> "
                f"{'allowed' if observed else 'denied':7}  {what}  [{answer}]")
        table.append(line)
        if observed != allowed:
            wrong.append(line)
    (tmp_path / "matrix.txt").write_text("\n".join(table) + "\n")
    assert not wrong, "\n".join(["actor x request: expected vs observed", *wrong])
    assert len(table) > 40


def test_every_request_of_the_model_has_a_probe_or_a_client_agent_test() -> None:
    for s in (STAGING, PRODUCTION):
        for actor in actors(s):
            for r in actor.requests:
                assert probe_for(s, r) is not None or r.path in CLIENT_AGENT_TESTED, r
