"""What boot writes for the Consul agent, run for real (tests/fleet/boot_sandbox.py): every file
the `consul` user must read is root:consul 0640 even under the script's umask 077, and each token
sits where Consul (or the tool) reads it, as the token model says (consul_tokens/model.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.fleet.user_data import AppService, BootSettings, render
from contracts import consul_agent
from contracts.release_layout import deploy_event
from tests.fleet.boot_sandbox import AGENT_TOKEN, INSTANCE, TEMPLATE_TOKEN, Booted, run_boot

ROOT = Path(__file__).resolve().parents[2]
BOOT = BootSettings(environment="staging", app="webapp", region="ap-northeast-1",
                    datacenter="staging", kv_prefix="webapp/staging", release_bucket="b",
                    deploy_pointer_key="webapp/staging/deploy/webapp/current",
                    ssm_prefix="/webapp/staging", join_tag_key="consul-cluster",
                    join_tag_value="staging", node_name_prefix="webapp-staging-",
                    service=AppService(port=8080, health_path="/health", interval=10, timeout=5))


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Booted:
    return run_boot(BOOT, tmp_path_factory.mktemp("boot"))


@pytest.mark.parametrize("path", [consul_agent.NODE_CONFIG, consul_agent.SECRETS_CONFIG,
                                  consul_agent.SERVICE_CONFIG, consul_agent.WATCH_CONFIG])
def test_every_agent_file_boot_writes_is_readable_by_the_consul_group_only(
        booted: Booted, path: str) -> None:
    # The agent runs as `consul`; the script's umask 077 alone would leave 0600 root:root.
    assert (booted.mode(path), booted.chowned(path)) == ("0o640", ["root:consul"])


def test_the_app_service_registers_with_the_agent_token(booted: Booted) -> None:
    # Consul 1.14 syncs a config-file service with the service's own token, else the default
    # (anonymous) token: never the agent token (agent/local/state.go syncService).
    text = booted.path(consul_agent.SERVICE_CONFIG).read_text()
    assert re.search(r'service \{.*\n  token = "' + AGENT_TOKEN + '"\n', text, re.S), text


def test_the_deploy_watch_sends_the_agent_token(booted: Booted) -> None:
    # Without its own `token` a watch runs with the default (anonymous) token and sees no event.
    text = re.sub(r" +", " ", booted.path(consul_agent.WATCH_CONFIG).read_text())
    assert f'token = "{AGENT_TOKEN}"' in text
    assert 'type = "event"' in text
    # The stack's own event, as node.env names it for the handler.
    event = deploy_event(BOOT.app, BOOT.environment)
    assert f'name = "{event}"' in text
    assert f"DEPLOY_EVENT={event}\n" in booted.path("/etc/webtier/node.env").read_text()
    assert '"/usr/bin/sudo", "-n", ' in text
    assert "deploy-event-handler" in text


def test_the_node_token_file_is_root_only_and_holds_the_agent_token(booted: Booted) -> None:
    assert booted.mode(consul_agent.NODE_TOKEN_ENV) == "0o600"
    text = booted.path(consul_agent.NODE_TOKEN_ENV).read_text()
    assert text == f"CONSUL_HTTP_TOKEN={AGENT_TOKEN}\n"


def test_consul_template_keeps_the_read_only_token(booted: Booted) -> None:
    text = booted.path("/etc/webtier/consul-template.env").read_text()
    assert text == f"CONSUL_HTTP_TOKEN={TEMPLATE_TOKEN}\n"


def test_node_env_names_the_consul_node_so_the_report_key_matches_the_catalog(
        booted: Booted) -> None:
    # release-pull reports under NODES_PREFIX<node name>; `deploy status` joins that with the
    # health catalog by node name, which boot sets to <prefix><instance id>, not the hostname.
    text = booted.path("/etc/webtier/node.env").read_text()
    assert f"CONSUL_NODE_NAME=webapp-staging-{INSTANCE}\n" in text


def test_no_token_is_in_the_user_data_text() -> None:
    text = render(BOOT)
    assert AGENT_TOKEN not in text
    assert TEMPLATE_TOKEN not in text


def test_local_agents_translate_wan_addresses_for_the_app() -> None:
    # The agent that answers translates (agent/translate_addr.go reads its own config): the app
    # asks its local client agent, so the client config must carry it.
    agent = (ROOT / "config/consul-agent.hcl").read_text()
    assert re.search(r"^translate_wan_addrs\s*=\s*true$", agent, re.M)
