"""Each token's rule text, whole: a rule made broader (a prefix for a key, write for read, a
segment cut short, a denial dropped) changes the text and fails here. The text is also handed to
a real Consul 1.14.11, which must accept it as written; what each token may then do, request by
request, is tests/consul_agent/test_token_matrix.py."""

from __future__ import annotations

import pytest

from consul_tokens.model import KV_WRITER, StackScope, denials, grants, policy_name
from consul_tokens.rules import (
    agent_rules,
    deploy_rules,
    kv_writer_rules,
    rule,
    stack_tokens,
    template_rules,
)
from tests.real_consul import ConsulAgent


def block(resource: str, segment: str, policy: str) -> str:
    return f'{resource} "{segment}" {{\n  policy = "{policy}"\n}}\n'


DEPLOY = "webapp/staging/deploy/webapp"
EXPECTED = {
    "agent": "".join([
        block("node_prefix", "webapp-staging-", "write"),
        block("service", "webapp-staging", "write"),
        block("event", "webapp-staging-deploy", "read"),
        block("key_prefix", f"{DEPLOY}/nodes/", "write"),
        block("agent_prefix", "webapp-staging-", "write"),
    ]),
    "template": "".join([
        block("key_prefix", "webapp/staging/", "read"),
        # app-config-restart: `consul lock -n` on the restart semaphore (agent read, a session
        # on its own node, the lock's keys) and the app's check before it frees the slot.
        block("agent_prefix", "webapp-staging-", "read"),
        block("session_prefix", "webapp-staging-", "write"),
        block("key_prefix", f"{DEPLOY}/restart/", "write"),
        block("service", "webapp-staging", "read"),
    ]),
    "kv-writer": "".join([
        block("key_prefix", "webapp/staging/", "write"),
        block("query", "webapp-failover", "write"),
        block("service", "webapp", "read"),
        block("key_prefix", "webapp/staging/deploy/", "deny"),
    ]),
    "deploy": "".join([
        block("key", f"{DEPLOY}/current", "write"),
        block("key", f"{DEPLOY}/previous", "write"),
        block("key", f"{DEPLOY}/history", "write"),
        block("key", f"{DEPLOY}/canary", "write"),
        block("key_prefix", f"{DEPLOY}/nodes/", "read"),
        block("node_prefix", "webapp-staging-", "read"),
        block("service", "webapp-staging", "read"),
        block("event", "webapp-staging-deploy", "write"),
    ]),
}


def test_each_tokens_rules_are_exactly_these() -> None:
    specs = stack_tokens("webapp", "staging", "webapp/staging", ("webapp",))
    assert {s.role: s.rules for s in specs} == EXPECTED
    assert [(s.role, s.policy_name, s.description, s.config_key) for s in specs] == [
        (role, f"webtier-webapp-staging-{role}",
         f"webtier-webapp-staging-{role} (python -m consul_tokens)", key)
        for role, key in (("agent", "consulAgentToken"), ("template", "consulTemplateToken"),
                          ("kv-writer", "consulKvToken"), ("deploy", None))]


def test_the_helpers_render_the_same_rules_as_the_token_list() -> None:
    assert agent_rules("webapp", "staging") == EXPECTED["agent"]
    assert agent_rules("webapp", "staging", "webapp/staging") == EXPECTED["agent"]
    assert template_rules("webapp", "staging", "webapp/staging") == EXPECTED["template"]
    assert kv_writer_rules("webapp/staging", ["webapp"]) == EXPECTED["kv-writer"]
    assert deploy_rules("webapp", "staging", "webapp/staging") == EXPECTED["deploy"]
    assert rule("key", "a/b", "read") == block("key", "a/b", "read")


def test_without_failover_peers_the_kv_writer_has_no_query_or_service_rule() -> None:
    assert kv_writer_rules("webapp/staging", ()) == (
        block("key_prefix", "webapp/staging/", "write")
        + block("key_prefix", "webapp/staging/deploy/", "deny"))


def test_another_app_stack_and_prefix_move_every_segment() -> None:
    rules = agent_rules("shop", "production", "kv/shop")
    assert rules == "".join([
        block("node_prefix", "shop-production-", "write"),
        block("service", "shop-production", "write"),
        block("event", "shop-production-deploy", "read"),
        block("key_prefix", "kv/shop/deploy/shop/nodes/", "write"),
        block("agent_prefix", "shop-production-", "write")])


@pytest.mark.parametrize("kv_prefix", ["webapp/staging", "webapp/staging/", "/webapp/staging/"])
def test_the_prefix_ends_in_one_slash_so_a_sibling_prefix_is_not_covered(kv_prefix: str) -> None:
    scope = StackScope("webapp", "staging", kv_prefix)
    assert scope.prefix == "webapp/staging/"
    assert template_rules("webapp", "staging", kv_prefix) == EXPECTED["template"]


def test_only_the_kv_writer_is_denied_the_deploy_state() -> None:
    scope = StackScope("webapp", "staging", "webapp/staging")
    assert [g.text() for g in denials(scope, KV_WRITER)] == [
        block("key_prefix", "webapp/staging/deploy/", "deny")]
    for role in ("agent", "template", "deploy"):
        assert denials(scope, role) == ()
        assert all(g.policy != "deny" for g in grants(scope, role))


def test_the_scope_names_nodes_as_boot_does() -> None:
    scope = StackScope("webapp", "staging", "webapp/staging")
    assert scope.nodes == "webapp-staging-"
    assert scope.sample_node == "webapp-staging-i-0123456789abcdef0"
    assert policy_name(scope, "deploy") == "webtier-webapp-staging-deploy"


def test_a_real_consul_accepts_each_tokens_rules_as_written(consul_agent: ConsulAgent) -> None:
    for role, rules in EXPECTED.items():
        made = consul_agent.api("PUT", "/v1/acl/policy",
                                json={"Name": f"exact-rules-test-{role}", "Rules": rules})
        assert made.status_code == 200, f"{role}: {made.status_code} {made.text}"
        try:
            read = consul_agent.api("GET", f"/v1/acl/policy/{made.json()['ID']}").json()
            assert read["Rules"] == rules
        finally:
            consul_agent.api("DELETE", f"/v1/acl/policy/{made.json()['ID']}")
    # And refuses a rule that is not Consul's syntax, so acceptance means something.
    bad = consul_agent.api("PUT", "/v1/acl/policy", json={
        "Name": "exact-rules-test-bad", "Rules": 'key_prefix "x" { policy = "writ" }'})
    assert bad.status_code >= 400
