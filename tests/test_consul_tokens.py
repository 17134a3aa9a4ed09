"""The token command: pure policy rules, then the command against the Consul double with its ACL
rules enforced (real HTTP and a real fake `pulumi` process, double Consul): each token does its
job and is denied one step outside it; a second run changes nothing; no token reaches output
that is not the operator's terminal."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from components.settings.secrets import SECRET_KEYS
from consul_tokens.cli import run
from consul_tokens.rules import deploy_rules, kv_writer_rules, stack_tokens, template_rules
from contracts.release_layout import deploy_keys
from tests.consul_double import ConsulDouble
from tests.consul_double_acl import AclStore, parse_rules
from tests.consul_double_catalog import Catalog

MANAGEMENT = "bootstrap-management-0c1d"


# --- pure rules ---------------------------------------------------------------------------------

def test_every_stored_token_goes_to_a_known_secret_key() -> None:
    keys = {s.role: s.config_key for s in stack_tokens("webapp", "staging", "webapp/staging")}
    assert keys == {"agent": "consulAgentToken", "template": "consulTemplateToken",
                    "kv-writer": "consulKvToken", "deploy": None}
    assert {k for k in keys.values() if k} <= set(SECRET_KEYS)


def test_template_reads_only_below_the_stack_prefix() -> None:
    rules = parse_rules(template_rules("webapp/staging"))
    assert [(r.resource, r.segment, r.prefix, r.policy) for r in rules] == \
        [("key", "webapp/staging/", True, "read")]


def test_kv_writer_may_write_failover_queries_only_when_there_are_peers() -> None:
    assert "query" not in kv_writer_rules("webapp/staging", ())
    rules = parse_rules(kv_writer_rules("webapp/staging", ("webapp",)))
    assert ("query", "webapp-failover", False, "write") in \
        [(r.resource, r.segment, r.prefix, r.policy) for r in rules]


def test_deploy_writes_exactly_the_contracts_deploy_keys() -> None:
    keys = deploy_keys("webapp/staging", "webapp")
    written = {r.segment for r in parse_rules(deploy_rules("webapp", "staging", "webapp/staging"))
               if r.resource == "key" and r.policy == "write"}
    # The canary lock record is the deploy tool's too (deploy/canary_lock.py).
    assert written == {keys.current, keys.previous, keys.history, keys.canary}


def test_no_rule_grants_acl_operator_or_prefix_wide_writes() -> None:
    for spec in stack_tokens("webapp", "staging", "webapp/staging", ("webapp",)):
        for r in parse_rules(spec.rules):
            assert r.resource not in ("acl", "operator", "keyring"), spec.role
            assert not (r.prefix and r.segment == ""), spec.role
            # The agent may act on its own stack's agents (the lifecycle hook's leave) only.
            assert r.resource != "agent" or (spec.role, r.segment) == ("agent", "webapp-staging-")


# --- the command against the double -------------------------------------------------------------

@dataclass
class Setup:
    consul: ConsulDouble
    catalog: Catalog
    env: dict[str, str]
    pulumi_log: Path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    log = tmp_path / "pulumi-calls.jsonl"
    fake.write_text("#!/usr/bin/env python3\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps("
                    "{'args': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{Path('/usr/bin')}:{Path('/bin')}")
    with ConsulDouble(token=MANAGEMENT, datacenter="staging") as consul:
        consul.acl = AclStore()
        catalog = Catalog(consul)
        env = {"CONSUL_HTTP_TOKEN": MANAGEMENT}
        yield Setup(consul, catalog, env, log)


def command(s: Setup, *extra: str, terminal: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--stack", "staging", "--address", s.consul.address, *extra],
               environ=s.env, out=out, err=err, is_terminal=terminal)
    return code, out.getvalue(), err.getvalue()


def secrets_of(s: Setup) -> dict[str, str]:
    assert s.consul.acl is not None
    return {t["Description"].split()[0]: t["SecretID"] for t in s.consul.acl.tokens.values()}


def token(s: Setup, role: str) -> dict[str, str]:
    return {"X-Consul-Token": secrets_of(s)[f"webtier-webapp-staging-{role}"]}


def call(s: Setup, method: str, path: str, headers: dict[str, str], body: object = None) -> int:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
    return requests.request(method, f"{s.consul.address}{path}", headers=headers, data=data,
                            timeout=5).status_code


def txn_set(key: str) -> list[dict[str, object]]:
    return [{"KV": {"Verb": "set", "Key": key, "Value": "eA=="}}]


@pytest.mark.integration
def test_double_set_config_stores_three_tokens_through_stdin_only(setup: Setup) -> None:
    code, out, err = command(setup, "--set-config")
    assert code == 0, err
    calls = [json.loads(line) for line in setup.pulumi_log.read_text().splitlines()]
    secrets = secrets_of(setup)
    assert [c["args"][:4] for c in calls] == [
        ["config", "set", "--secret", k] for k in
        ("consulAgentToken", "consulTemplateToken", "consulKvToken")]
    assert {c["stdin"] for c in calls} == {secrets[f"webtier-webapp-staging-{r}"]
                                           for r in ("agent", "template", "kv-writer")}
    assert not any(v in c["args"] for c in calls for v in secrets.values())
    assert not any(v in out + err for v in secrets.values())


@pytest.mark.integration
def test_double_second_run_creates_nothing_and_keeps_the_tokens(setup: Setup) -> None:
    assert command(setup, "--set-config")[0] == 0
    first = dict(secrets_of(setup))
    assert setup.consul.acl is not None
    policies = dict(setup.consul.acl.policies)
    code, out, _ = command(setup, "--set-config")
    assert code == 0
    assert secrets_of(setup) == first
    assert setup.consul.acl.policies == policies
    assert out.count("policy unchanged, token found") == 4


@pytest.mark.integration
def test_double_a_drifted_policy_is_put_back(setup: Setup) -> None:
    assert command(setup, "--set-config")[0] == 0
    assert setup.consul.acl is not None
    agent = next(p for p in setup.consul.acl.policies.values() if p["Name"].endswith("-agent"))
    agent["Rules"] = 'node_prefix "" {\n  policy = "write"\n}\n'
    code, out, _ = command(setup, "--set-config")
    assert code == 0
    assert "webtier-webapp-staging-agent: policy updated" in out
    assert 'node_prefix "webapp-staging-"' in setup.consul.acl.policies[agent["ID"]]["Rules"]


@pytest.mark.integration
def test_double_refuses_to_print_tokens_off_a_terminal_before_contacting_consul(
        setup: Setup) -> None:
    code, out, err = command(setup)
    assert code == 5
    assert "use --set-config" in err
    assert out == ""
    assert setup.consul.requests == []


@pytest.mark.integration
def test_double_terminal_gets_the_commands_to_run(setup: Setup) -> None:
    code, out, _ = command(setup, terminal=True)
    assert code == 0
    secrets = secrets_of(setup)
    agent = secrets["webtier-webapp-staging-agent"]
    assert f"pulumi config set --secret consulAgentToken {agent} --stack staging" in out
    assert f"export CONSUL_HTTP_TOKEN={secrets['webtier-webapp-staging-deploy']}" in out


@pytest.mark.integration
def test_double_dry_run_contacts_nothing(setup: Setup) -> None:
    code, out, _ = command(setup, "--dry-run")
    assert code == 0
    assert 'key_prefix "webapp/staging/"' in out
    assert setup.consul.requests == []


@pytest.mark.integration
def test_double_refusal_exits_3_without_the_token(setup: Setup) -> None:
    setup.env["CONSUL_HTTP_TOKEN"] = "not-a-management-token-9"
    code, _, err = command(setup, "--set-config")
    assert code == 3
    assert "403" in err
    assert "not-a-management-token-9" not in err


def test_missing_management_token_is_a_usage_error() -> None:
    err = io.StringIO()
    code = run(["--stack", "staging", "--set-config"], environ={}, out=io.StringIO(), err=err,
               is_terminal=False)
    assert code == 2
    assert "CONSUL_HTTP_TOKEN is not set" in err.getvalue()


def test_unknown_stack_is_a_usage_error() -> None:
    assert run(["--stack", "qa"], environ={}, out=io.StringIO(), err=io.StringIO(),
               is_terminal=False) == 2


# --- least privilege: each token does its job, and is denied one step outside ------------------

@pytest.fixture
def tokens(setup: Setup) -> Setup:
    assert command(setup, "--set-config")[0] == 0
    setup.consul.put("webapp/staging/database/master-user", "webapp")
    setup.consul.put("webapp/staging-old/database/master-user", "old")
    return setup


@pytest.mark.integration
def test_double_agent_token_registers_its_node_and_app_only(tokens: Setup) -> None:
    h = token(tokens, "agent")
    mine = {"Node": "webapp-staging-i-0abc", "Address": "10.0.0.5",
            "Service": {"Service": "webapp", "Port": 8080}}
    assert call(tokens, "PUT", "/v1/catalog/register", h, mine) == 200
    assert call(tokens, "PUT", "/v1/catalog/register", h,
                {**mine, "Node": "webapp-production-i-0abc"}) == 403
    assert call(tokens, "PUT", "/v1/catalog/register", h,
                {**mine, "Service": {"Service": "billing"}}) == 403
    assert call(tokens, "GET", "/v1/kv/webapp/staging/database/master-user", h) == 403


@pytest.mark.integration
def test_double_template_token_reads_the_stack_prefix_only(tokens: Setup) -> None:
    h = token(tokens, "template")
    assert call(tokens, "GET", "/v1/kv/webapp/staging/database/master-user", h) == 200
    assert call(tokens, "GET", "/v1/kv/webapp/staging-old/database/master-user", h) == 403
    assert call(tokens, "PUT", "/v1/kv/webapp/staging/database/master-user", h, b"x") == 403


@pytest.mark.integration
def test_double_kv_writer_token_writes_the_stack_prefix_only(tokens: Setup) -> None:
    h = token(tokens, "kv-writer")
    assert call(tokens, "PUT", "/v1/txn", h, txn_set("webapp/staging/app/log-level")) == 200
    assert call(tokens, "PUT", "/v1/txn", h, txn_set("webapp/production/app/log-level")) == 409
    assert call(tokens, "PUT", "/v1/event/fire/deploy", h, b"") == 403


@pytest.mark.integration
def test_double_deploy_token_moves_the_pointer_and_fires_the_event_only(tokens: Setup) -> None:
    h = token(tokens, "deploy")
    keys = deploy_keys("webapp/staging", "webapp")
    for key in (keys.current, keys.previous, keys.history):
        assert call(tokens, "PUT", "/v1/txn", h, txn_set(key)) == 200, key
    assert call(tokens, "PUT", "/v1/event/fire/deploy", h, b"") == 200
    assert call(tokens, "GET", "/v1/health/node/webapp-staging-i-0abc", h) == 200
    assert call(tokens, "GET", "/v1/health/service/webapp", h) == 200
    # One step outside: the app's settings, another event, another stack's nodes, ACLs.
    assert call(tokens, "PUT", "/v1/txn", h, txn_set("webapp/staging/app/log-level")) == 409
    assert call(tokens, "PUT", "/v1/event/fire/restart", h, b"") == 403
    assert call(tokens, "GET", "/v1/health/node/webapp-production-i-0abc", h) == 403
    assert call(tokens, "PUT", "/v1/acl/token", h, {"Description": "x"}) == 403


@pytest.mark.integration
def test_double_kv_writer_token_creates_the_failover_query_only_with_peers(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    import consul_tokens.cli as cli

    real = cli.load_stack

    def with_peers(stack: str, root: Path) -> object:
        from dataclasses import replace

        settings = real(stack, root)
        wan = replace(settings.consul.wan, peers=("idcf",), failover_services=("webapp",))
        return replace(settings, consul=replace(settings.consul, wan=wan))

    monkeypatch.setattr(cli, "load_stack", with_peers)
    assert command(setup, "--set-config")[0] == 0
    h = token(setup, "kv-writer")
    query = {"Name": "webapp-failover", "Service": {"Service": "webapp"}}
    assert call(setup, "POST", "/v1/query", h, query) == 200
    assert call(setup, "POST", "/v1/query", h,
                {"Name": "billing-failover", "Service": {"Service": "billing"}}) == 403


def test_rules_text_is_plain_consul_hcl() -> None:
    for spec in stack_tokens("webapp", "staging", "webapp/staging", ("webapp",)):
        assert re.fullmatch(r'(\w+ "[^"]*" \{\n  policy = "(read|write|deny)"\n\}\n)+', spec.rules)
