"""The ACL policy of each token a stack needs, as Consul rule text: rendered from the token model
(consul_tokens/model.py, which says who sends each token and what for), pure, tested without
Consul and as a matrix on a real agent (tests/consul_agent/).

  agent        the node's own token: node registration, the app's config-file service, the
               deploy watch, release-pull's node report and the lifecycle hook's leave
  template     reads the stack's KV prefix (consul-template, release-pull's pointer read); takes
               a slot of the stack's restart semaphore for app-config-restart (session on its
               node, key write on the lock prefix only) and reads the app's health
  kv-writer    writes the stack's KV prefix except deploy/ (this program), and the failover
               queries it creates
  deploy       moves the deploy pointer, takes the canary lock, reads the nodes' reports and
               health, fires the deploy event
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consul_tokens.model import (
    AGENT,
    DEPLOY,
    KV_WRITER,
    TEMPLATE,
    TOKENS,
    Grant,
    StackScope,
    grants,
    policy_name,
)


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
    return Grant(resource, segment, policy).text()


def rules_for(scope: StackScope, role: str) -> str:
    return "".join(g.text() for g in grants(scope, role))


def agent_rules(app: str, stack: str, kv_prefix: str | None = None) -> str:
    return rules_for(StackScope(app, stack, kv_prefix or f"{app}/{stack}"), AGENT)


def template_rules(app: str, stack: str, kv_prefix: str) -> str:
    return rules_for(StackScope(app, stack, kv_prefix), TEMPLATE)


def kv_writer_rules(kv_prefix: str, failover_services: Sequence[str],
                    app: str = "webapp") -> str:
    return rules_for(StackScope(app, "-", kv_prefix, tuple(failover_services)), KV_WRITER)


def deploy_rules(app: str, stack: str, kv_prefix: str) -> str:
    return rules_for(StackScope(app, stack, kv_prefix), DEPLOY)


def stack_tokens(app: str, stack: str, kv_prefix: str,
                 failover_services: Sequence[str] = ()) -> list[TokenSpec]:
    scope = StackScope(app, stack, kv_prefix, tuple(failover_services))
    out = []
    for token in TOKENS:
        name = policy_name(scope, token.role)
        out.append(TokenSpec(token.role, name, f"{name} (python -m consul_tokens)",
                             rules_for(scope, token.role), token.config_key))
    return out
