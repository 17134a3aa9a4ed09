"""The ACL policy of each token a stack needs, as Consul rule text: pure, tested without Consul.

Least privilege, each named for its one job:
  agent        registers its own node (the stack's node-name prefix) and the app's service, and
               reads the deploy event its watch handles
  template     reads the stack's KV prefix (consul-template, release-pull at boot)
  kv-writer    writes the stack's KV prefix (this program), and the failover queries it creates
  deploy       fires the deploy event, moves the deploy pointer/previous/history keys, and reads
               the health of the stack's nodes and app
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.prepared_query_payload import query_name
from contracts.consul_agent import node_name_prefix
from contracts.escaping import hcl_string
from contracts.names import PROJECT
from contracts.release_layout import DEPLOY_EVENT, deploy_keys


@dataclass(frozen=True)
class TokenSpec:
    role: str
    policy_name: str
    description: str
    """Also how the command finds the token again on the next run."""
    rules: str
    config_key: str | None
    """The stack's secret config key that takes the token (None: the operator keeps it)."""


def rule(resource: str, segment: str, policy: str) -> str:
    # Segments come from settings (app, KV prefix, services): written with the one HCL rule.
    return f'{resource} {hcl_string(segment)} {{\n  policy = "{policy}"\n}}\n'


def _prefix(kv_prefix: str) -> str:
    # The trailing slash keeps app/staging from covering app/staging-old.
    return f"{kv_prefix.strip('/')}/"


def agent_rules(app: str, stack: str) -> str:
    return (rule("node_prefix", node_name_prefix(app, stack), "write")
            + rule("service", app, "write")
            + rule("event", DEPLOY_EVENT, "read"))


def template_rules(kv_prefix: str) -> str:
    return rule("key_prefix", _prefix(kv_prefix), "read")


def kv_writer_rules(kv_prefix: str, failover_services: Sequence[str]) -> str:
    text = rule("key_prefix", _prefix(kv_prefix), "write")
    for service in failover_services:
        text += rule("query", query_name(service), "write") + rule("service", service, "read")
    return text


def deploy_rules(app: str, stack: str, kv_prefix: str) -> str:
    keys = deploy_keys(kv_prefix, app)
    return (rule("event", DEPLOY_EVENT, "write")
            + "".join(rule("key", k, "write") for k in (keys.current, keys.previous,
                                                         keys.history))
            + rule("node_prefix", node_name_prefix(app, stack), "read")
            + rule("service", app, "read"))


def stack_tokens(app: str, stack: str, kv_prefix: str,
                 failover_services: Sequence[str] = ()) -> list[TokenSpec]:
    def spec(role: str, rules: str, config_key: str | None) -> TokenSpec:
        name = f"{PROJECT}-{app}-{stack}-{role}"
        return TokenSpec(role, name, f"{name} (python -m consul_tokens)", rules, config_key)

    return [
        spec("agent", agent_rules(app, stack), "consulAgentToken"),
        spec("template", template_rules(kv_prefix), "consulTemplateToken"),
        spec("kv-writer", kv_writer_rules(kv_prefix, failover_services), "consulKvToken"),
        spec("deploy", deploy_rules(app, stack, kv_prefix), None),
    ]
