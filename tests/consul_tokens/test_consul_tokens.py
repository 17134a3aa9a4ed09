"""The token command: pure policy rules, then the command against a real Consul 1.14.11 agent with
default-deny ACLs and a fake `pulumi` process: it stores three tokens through stdin only, a second
run changes nothing, a drifted policy is put back, and no token reaches output that is not the
operator's terminal. What each token may do is tests/consul_agent/test_token_matrix.py."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.settings.secrets import SECRET_KEYS
from consul_tokens.cli import run
from consul_tokens.rules import deploy_rules, kv_writer_rules, stack_tokens, template_rules
from contracts.release_layout import deploy_keys, restart_lock_prefix
from tests.consul_double_acl import parse_rules  # a parser of Consul's rule syntax, nothing more
from tests.real_consul import ConsulAgent

# --- pure rules ---------------------------------------------------------------------------------

def test_every_stored_token_goes_to_a_known_secret_key() -> None:
    keys = {s.role: s.config_key for s in stack_tokens("webapp", "staging", "webapp/staging")}
    assert keys == {"agent": "consulAgentToken", "template": "consulTemplateToken",
                    "kv-writer": "consulKvToken", "deploy": None}
    assert {k for k in keys.values() if k} <= set(SECRET_KEYS)


def test_template_reads_the_stack_prefix_and_writes_only_the_restart_lock() -> None:
    rules = parse_rules(template_rules("webapp", "staging", "webapp/staging"))
    assert [(r.resource, r.segment, r.prefix, r.policy) for r in rules] == [
        ("key", "webapp/staging/", True, "read"),
        ("agent", "webapp-staging-", True, "read"),
        ("session", "webapp-staging-", True, "write"),
        ("key", f"{restart_lock_prefix('webapp/staging', 'webapp')}/", True, "write"),
        ("service", "webapp-staging", False, "read")]


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
            # The agent may act on its own stack's agents (the lifecycle hook's leave) only; the
            # template token only reads them (`consul lock` asks its agent for its node name).
            assert r.resource != "agent" or (spec.role, r.segment, r.policy) in (
                ("agent", "webapp-staging-", "write"), ("template", "webapp-staging-", "read"))


# --- the command against a real Consul 1.14.11 (default-deny ACLs) -------------------------------
# Which token may do what, request by request, is tests/consul_agent/test_token_matrix.py.

PREFIX = "webtier-webapp-staging-"
DEAD = "http://127.0.0.1:9"  # nothing listens: a command that contacts Consul fails here


@dataclass
class Setup:
    agent: ConsulAgent
    env: dict[str, str]
    pulumi_log: Path
    address: str


def forget_staging_tokens(agent: ConsulAgent) -> None:
    """The session's agent is shared: start from no staging token or policy of this command."""
    for t in agent.api("GET", "/v1/acl/tokens").json():
        if str(t.get("Description", "")).startswith(PREFIX):
            agent.api("DELETE", f"/v1/acl/token/{t['AccessorID']}")
    for pol in agent.api("GET", "/v1/acl/policies").json():
        if str(pol["Name"]).startswith(PREFIX):
            agent.api("DELETE", f"/v1/acl/policy/{pol['ID']}")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          consul_agent: ConsulAgent) -> Iterator[Setup]:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    log = tmp_path / "pulumi-calls.jsonl"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps("
                    "{'args': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{Path('/usr/bin')}:{Path('/bin')}")
    forget_staging_tokens(consul_agent)
    try:
        yield Setup(consul_agent, {"CONSUL_HTTP_TOKEN": consul_agent.management_token}, log,
                    consul_agent.address)
    finally:
        forget_staging_tokens(consul_agent)


def command(s: Setup, *extra: str, terminal: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["--stack", "staging", "--address", s.address, "--datacenter",
                s.agent.datacenter, *extra],
               environ=s.env, out=out, err=err, is_terminal=terminal)
    return code, out.getvalue(), err.getvalue()


def secrets_of(s: Setup) -> dict[str, str]:
    """Description's first word -> SecretID, for this command's staging tokens."""
    found = {}
    for t in s.agent.api("GET", "/v1/acl/tokens").json():
        if str(t.get("Description", "")).startswith(PREFIX):
            full = s.agent.api("GET", f"/v1/acl/token/{t['AccessorID']}").json()
            found[str(t["Description"]).split()[0]] = str(full["SecretID"])
    return found


def policies_of(s: Setup) -> dict[str, str]:
    return {str(p["Name"]): str(s.agent.api("GET", f"/v1/acl/policy/{p['ID']}").json()["Rules"])
            for p in s.agent.api("GET", "/v1/acl/policies").json()
            if str(p["Name"]).startswith(PREFIX)}


@pytest.mark.integration
def test_set_config_stores_three_tokens_through_stdin_only(setup: Setup) -> None:
    code, out, err = command(setup, "--set-config")
    assert code == 0, err
    calls = [json.loads(line) for line in setup.pulumi_log.read_text().splitlines()]
    secrets = secrets_of(setup)
    assert [c["args"][:4] for c in calls] == [
        ["config", "set", "--secret", k] for k in
        ("consulAgentToken", "consulTemplateToken", "consulKvToken")]
    assert {c["stdin"] for c in calls} == {secrets[f"{PREFIX}{r}"]
                                           for r in ("agent", "template", "kv-writer")}
    assert not any(v in c["args"] for c in calls for v in secrets.values())
    assert not any(v in out + err for v in secrets.values())


@pytest.mark.integration
def test_second_run_creates_nothing_and_keeps_the_tokens(setup: Setup) -> None:
    assert command(setup, "--set-config")[0] == 0
    first, policies = secrets_of(setup), policies_of(setup)
    code, out, _ = command(setup, "--set-config")
    assert code == 0
    assert secrets_of(setup) == first
    assert policies_of(setup) == policies
    assert out.count("policy unchanged, token found") == 4


@pytest.mark.integration
def test_a_drifted_policy_is_put_back(setup: Setup) -> None:
    assert command(setup, "--set-config")[0] == 0
    agent = next(p for p in setup.agent.api("GET", "/v1/acl/policies").json()
                 if p["Name"] == f"{PREFIX}agent")
    widened = setup.agent.api("PUT", f"/v1/acl/policy/{agent['ID']}", json={
        "Name": agent["Name"], "Rules": 'node_prefix "" {\n  policy = "write"\n}\n'})
    assert widened.status_code == 200, widened.text
    code, out, _ = command(setup, "--set-config")
    assert code == 0
    assert f"{PREFIX}agent: policy updated" in out
    assert 'node_prefix "webapp-staging-"' in policies_of(setup)[f"{PREFIX}agent"]


@pytest.mark.integration
def test_refuses_to_print_tokens_off_a_terminal_before_contacting_consul(setup: Setup) -> None:
    setup.address = DEAD
    code, out, err = command(setup)
    assert code == 5
    assert "use --set-config" in err
    assert out == ""


@pytest.mark.integration
def test_terminal_gets_the_commands_to_run(setup: Setup) -> None:
    code, out, _ = command(setup, terminal=True)
    assert code == 0
    secrets = secrets_of(setup)
    agent = secrets[f"{PREFIX}agent"]
    assert f"pulumi config set --secret consulAgentToken {agent} --stack staging" in out
    assert f"export CONSUL_HTTP_TOKEN={secrets[f'{PREFIX}deploy']}" in out


@pytest.mark.integration
def test_dry_run_contacts_nothing(setup: Setup) -> None:
    setup.address = DEAD
    code, out, _ = command(setup, "--dry-run")
    assert code == 0
    assert 'key_prefix "webapp/staging/"' in out


@pytest.mark.integration
def test_refusal_exits_3_without_the_token(setup: Setup) -> None:
    setup.env["CONSUL_HTTP_TOKEN"] = "0b0e3c3e-0000-4000-8000-00000000dead"
    code, _, err = command(setup, "--set-config")
    assert code == 3
    assert "403" in err or "ACL not found" in err
    assert "0b0e3c3e-0000-4000-8000-00000000dead" not in err


def test_missing_management_token_is_a_usage_error() -> None:
    err = io.StringIO()
    code = run(["--stack", "staging", "--set-config"], environ={}, out=io.StringIO(), err=err,
               is_terminal=False)
    assert code == 2
    assert "CONSUL_HTTP_TOKEN is not set" in err.getvalue()


def test_unknown_stack_is_a_usage_error() -> None:
    assert run(["--stack", "qa"], environ={}, out=io.StringIO(), err=io.StringIO(),
               is_terminal=False) == 2


def test_rules_text_is_plain_consul_hcl() -> None:
    for spec in stack_tokens("webapp", "staging", "webapp/staging", ("webapp",)):
        assert re.fullmatch(r'(\w+ "[^"]*" \{\n  policy = "(read|write|deny)"\n\}\n)+', spec.rules)
