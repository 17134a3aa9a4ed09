"""Who calls Consul, with which token, asking for what: the one token model of a stack.

Each actor lists the requests it makes and the one ACL grant each needs; a token's policy is the
union of the grants of the actors that use it, plus explicit denials, and nothing else. The rule
text (consul_tokens/rules.py), the token table in docs/consul.md (consul_tokens/doc_table.py) and
the real-agent matrix (tests/consul_agent/) are all derived from this data.

Tokens are split by who can read them, not per actor: every file the `consul` user reads
(secrets.hcl, app-service.hcl, watch-deploy.hcl) holds the agent token, because a second token
in a file the same user reads isolates nothing. Root on a node can read that file too, so the
node-side writes that run as root (release-pull's report, the lifecycle hook's leave) use it as
well; consul-template, which renders operator-chosen templates, gets a read token, plus what its
restart command needs to take a slot of the restart semaphore (the lock prefix only).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.consul.prepared_query_payload import query_name
from contracts.consul_agent import node_name_prefix
from contracts.escaping import hcl_string
from contracts.names import PROJECT
from contracts.release_layout import (
    deploy_event,
    deploy_folder,
    deploy_keys,
    restart_lock_prefix,
    service_name,
)

AGENT, TEMPLATE, KV_WRITER, DEPLOY = "agent", "template", "kv-writer", "deploy"


@dataclass(frozen=True)
class Grant:
    """One ACL rule: `<resource> "<segment>" { policy = "<policy>" }`."""

    resource: str
    segment: str
    policy: str

    def text(self) -> str:
        # Segments come from settings (app, KV prefix, services): written with the one HCL rule.
        return f'{self.resource} {hcl_string(self.segment)} {{\n  policy = "{self.policy}"\n}}\n'


@dataclass(frozen=True)
class Request:
    """One request an actor makes (an RPC for the agent's own syncs), and the grant it needs."""

    method: str
    path: str
    what: str
    needs: Grant


@dataclass(frozen=True)
class Actor:
    name: str
    token: str
    """The role of the token it sends."""
    where: str
    """Where Consul or the tool reads that token."""
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Token:
    role: str
    config_key: str | None
    """The stack's secret config key that takes it (None: the operator keeps it)."""
    denies: tuple[Grant, ...] = ()
    """Rules that carve a sub-prefix out of a wider grant (Consul's longest prefix wins)."""


@dataclass(frozen=True)
class StackScope:
    app: str
    stack: str
    kv_prefix: str
    failover_services: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        # The trailing slash keeps app/staging from covering app/staging-old.
        return f"{self.kv_prefix.strip('/')}/"

    @property
    def nodes(self) -> str:
        return node_name_prefix(self.app, self.stack)

    @property
    def sample_node(self) -> str:
        """A node name as boot sets it (<prefix><instance id>), for the examples and tests."""
        return f"{self.nodes}i-0123456789abcdef0"


TOKENS = (Token(AGENT, "consulAgentToken"), Token(TEMPLATE, "consulTemplateToken"),
          Token(KV_WRITER, "consulKvToken"), Token(DEPLOY, None))


def _node_actors(s: StackScope) -> list[Actor]:
    keys = deploy_keys(s.kv_prefix, s.app)
    node, service, event = s.sample_node, service_name(s.app, s.stack), deploy_event(s.app, s.stack)
    lock = restart_lock_prefix(s.kv_prefix, s.app)
    return [
        Actor("agent (node registration, anti-entropy)", AGENT,
              "`acl.tokens.agent` (secrets.hcl)", (
            Request("RPC", "Catalog.Register", "register and sync its node",
                    Grant("node_prefix", s.nodes, "write")),
            Request("RPC", "Coordinate.Update", "send its network coordinate",
                    Grant("node_prefix", s.nodes, "write")),
        )),
        Actor("app service from app-service.hcl", AGENT, "the service definition's `token`", (
            Request("RPC", "Catalog.Register", f"register service {service} and its check",
                    Grant("service", service, "write")),
        )),
        Actor("deploy watch", AGENT, "the watch's `token` (watch-deploy.hcl)", (
            Request("GET", f"/v1/event/list?name={event}", "see its stack's deploy events",
                    Grant("event", event, "read")),
        )),
        Actor("release-pull node report", AGENT, "CONSUL_HTTP_TOKEN from node-token.env", (
            Request("PUT", f"/v1/kv/{keys.nodes}{node}", "report the release it runs",
                    Grant("key_prefix", keys.nodes, "write")),
        )),
        Actor("lifecycle hook `consul leave`", AGENT, "CONSUL_HTTP_TOKEN from node-token.env", (
            Request("PUT", "/v1/agent/leave", "leave before the instance terminates",
                    Grant("agent_prefix", s.nodes, "write")),
        )),
        Actor("consul-template", TEMPLATE, "CONSUL_HTTP_TOKEN (consul-template.env)", (
            Request("GET", f"/v1/kv/{s.prefix}database/master-user", "read the stack's settings",
                    Grant("key_prefix", s.prefix, "read")),
        )),
        Actor("app-config-restart (`consul lock -n`)", TEMPLATE,
              "CONSUL_HTTP_TOKEN (consul-template.env, through its unit)", (
            Request("GET", "/v1/agent/self", "`consul lock` names its session's node",
                    Grant("agent_prefix", s.nodes, "read")),
            Request("PUT", "/v1/session/create", "a session of this node holds the slot",
                    Grant("session_prefix", s.nodes, "write")),
            Request("PUT", f"/v1/kv/{lock}/.lock?acquire=", "take and free a restart slot",
                    Grant("key_prefix", f"{lock}/", "write")),
            Request("GET", f"/v1/agent/health/service/name/{service}",
                    "wait for the app's check to pass before freeing the slot",
                    Grant("service", service, "read")),
        )),
        Actor("release-pull pointer read", TEMPLATE, "CONSUL_HTTP_TOKEN (consul-template.env)", (
            Request("GET", f"/v1/kv/{keys.current}?raw", "read the deploy pointer at boot",
                    Grant("key_prefix", s.prefix, "read")),
        )),
    ]


def _operator_actors(s: StackScope) -> list[Actor]:
    keys = deploy_keys(s.kv_prefix, s.app)
    service, event = service_name(s.app, s.stack), deploy_event(s.app, s.stack)
    kv_writer = [
        Request("GET", f"/v1/kv/{s.prefix}?recurse", "read what the stack wrote",
                Grant("key_prefix", s.prefix, "read")),
        Request("PUT", "/v1/txn", "write and delete the stack's keys (CAS)",
                Grant("key_prefix", s.prefix, "write")),
    ]
    for svc in s.failover_services:
        kv_writer += [
            Request("POST", "/v1/query", f"create, update, delete {query_name(svc)}",
                    Grant("query", query_name(svc), "write")),
            Request("POST", "/v1/query", f"a query on {svc} needs read on the service",
                    Grant("service", svc, "read")),
        ]
    pointer = [Grant("key", k, "write") for k in (keys.current, keys.previous, keys.history)]
    deploy = [
        *(Request("PUT", "/v1/txn", f"move the pointer: cas {g.segment}", g) for g in pointer),
        Request("GET", f"/v1/kv/{keys.canary}", "see a canary in flight (lock)",
                Grant("key", keys.canary, "read")),
        Request("PUT", f"/v1/kv/{keys.canary}?cas=0", "take and drop the canary lock",
                Grant("key", keys.canary, "write")),
        Request("GET", f"/v1/kv/{keys.nodes}?recurse", "read the nodes' reports",
                Grant("key_prefix", keys.nodes, "read")),
        Request("GET", f"/v1/health/service/{service}", "the nodes' health (node read)",
                Grant("node_prefix", s.nodes, "read")),
        Request("GET", f"/v1/health/service/{service}", "the nodes' health (service read)",
                Grant("service", service, "read")),
        Request("PUT", f"/v1/event/fire/{event}", "fire its stack's deploy event",
                Grant("event", event, "write")),
    ]
    return [
        Actor("`pulumi up` KV writer", KV_WRITER,
              "`consulKvToken` (else CONSUL_HTTP_TOKEN)", tuple(kv_writer)),
        Actor("`python -m deploy` (push, canary, status, rollback)", DEPLOY,
              "CONSUL_HTTP_TOKEN", tuple(deploy)),
    ]


def actors(s: StackScope) -> list[Actor]:
    return _node_actors(s) + _operator_actors(s)


def denials(s: StackScope, role: str) -> tuple[Grant, ...]:
    """The kv-writer writes the stack's prefix but never the deploy state under it."""
    if role != KV_WRITER:
        return ()
    return (Grant("key_prefix", deploy_folder(s.kv_prefix), "deny"),)


_RANK = {"read": 1, "write": 2}


def grants(s: StackScope, role: str) -> list[Grant]:
    """The token's rules: per resource and segment the strongest policy its actors need (write
    includes read), in first-use order, then the denials."""
    strongest: dict[tuple[str, str], str] = {}
    for actor in actors(s):
        for need in (r.needs for r in actor.requests if actor.token == role):
            held = strongest.get((need.resource, need.segment))
            if held is None or _RANK[need.policy] > _RANK[held]:
                strongest[(need.resource, need.segment)] = need.policy
    return [Grant(r, seg, p) for (r, seg), p in strongest.items()] + list(denials(s, role))


def policy_name(s: StackScope, role: str) -> str:
    return f"{PROJECT}-{s.app}-{s.stack}-{role}"
