"""The consul-agent-tls policy against passing and failing fixtures, through the SDK's validate
(as tests/policy/test_policy.py runs every other policy), and against the stacks' real user data."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from components.fleet.user_data import BootSettings, render
from policy import rules
from policy.consul_tls import consul_agent_tls
from tests.policy.pack_cases import CONFIGURATION, TEMPLATE, b64, changed, violations

NAME = "consul-agent-tls"


def user_data(tls: bool) -> str:
    return render(BootSettings(
        environment="production", app="webapp", region="ap-northeast-1", datacenter="production",
        kv_prefix="webapp/production", release_bucket="b", deploy_pointer_key="k",
        ssm_prefix="/webapp/production", join_tag_key="consul-cluster",
        join_tag_value="production", node_name_prefix="webapp-production-", tls=tls))


@pytest.mark.parametrize(("kind", "base", "encode"), [
    (rules.LAUNCH_TEMPLATE, TEMPLATE, b64), (rules.LAUNCH_CONFIGURATION, CONFIGURATION, str)])
def test_consul_tls_passes_launch_whose_agent_verifies_the_servers(
        kind: str, base: dict[str, Any], encode: Any) -> None:
    props = changed(base, "userData", encode(user_data(tls=True)))
    assert violations(NAME, kind, props) == []


@pytest.mark.parametrize(("kind", "base", "encode"), [
    (rules.LAUNCH_TEMPLATE, TEMPLATE, b64), (rules.LAUNCH_CONFIGURATION, CONFIGURATION, str)])
def test_consul_tls_fails_launch_whose_agent_runs_without_tls(
        kind: str, base: dict[str, Any], encode: Any) -> None:
    props = changed(base, "userData", encode(user_data(tls=False)))
    found = violations(NAME, kind, props)
    assert len(found) == 1
    assert "starts a Consul agent without TLS" in found[0]
    assert "the CA certificate or the TLS block" in found[0]
    assert "webtier:consul.tls.enabled" in found[0]


def test_consul_tls_fails_agent_given_a_ca_but_no_tls_block() -> None:
    script = user_data(tls=True).replace("/etc/consul.d/tls.hcl", "/etc/consul.d/tls.off")
    found = violations(NAME, rules.LAUNCH_TEMPLATE, changed(TEMPLATE, "userData", b64(script)))
    assert len(found) == 1
    assert "does not write the TLS block" in found[0]


def test_consul_tls_ignores_launches_that_run_no_consul_agent() -> None:
    props = changed(TEMPLATE, "userData", base64.b64encode(b"#!/bin/sh\necho hi\n").decode())
    assert violations(NAME, rules.LAUNCH_TEMPLATE, props) == []


def test_consul_tls_ignores_other_resource_types() -> None:
    assert violations(NAME, rules.GROUP, {"userData": user_data(tls=False)}) == []


def test_consul_tls_message_names_both_settings_and_reads_the_second_property() -> None:
    props = {"userData": "#!/bin/sh\necho no agent here\n",
             "userDataBase64": base64.b64encode(user_data(tls=False).encode()).decode()}
    assert consul_agent_tls(rules.LAUNCH_TEMPLATE, props) == [
        "userDataBase64 starts a Consul agent without TLS (it does not write the CA certificate "
        "or the TLS block): set webtier:consul.tls.enabled: true and webtier:consul.tls.caCert"]
