"""Scenario 1, boot: each node's agent joins the server over TLS, the app registers with a passing
check, consul-template renders from KV, the release is pulled, and the launch hook is completed
only after the app's health passes."""

from __future__ import annotations

import pytest

from tests.fleet_harness.conftest import FIRST_RELEASE, KV
from tests.fleet_harness.fleet import NODE_PREFIX, SERVICE, Fleet

pytestmark = pytest.mark.fleet_harness


def test_boot_every_agent_joins_the_server(fleet: Fleet) -> None:
    # The server verifies every RPC client's certificate (verify_incoming): a node in the catalog
    # got its certificate through auto_encrypt and spoke TLS.
    names = {n["Node"] for n in fleet.server.call("GET", "/v1/catalog/nodes")}
    assert {f"{NODE_PREFIX}{n.instance_id}" for n in fleet.nodes[:3]} <= names
    members = {m["Name"]: m["Status"] for m in fleet.server.call("GET", "/v1/agent/members")}
    assert all(members[f"{NODE_PREFIX}{n.instance_id}"] == 1 for n in fleet.nodes[:3])


def test_boot_agents_use_auto_encrypt_certificates(fleet: Fleet) -> None:
    for node in fleet.nodes[:3]:
        tls = node.run("cat", "/etc/consul.d/tls.hcl").stdout
        assert "auto_encrypt" in tls
        assert "verify_server_hostname = true" in tls


def test_boot_the_app_registers_with_a_passing_check(fleet: Fleet) -> None:
    passing = fleet.server.call("GET", f"/v1/health/service/{SERVICE}?passing=true")
    assert sorted(e["Node"]["Node"] for e in passing) == sorted(
        f"{NODE_PREFIX}{n.instance_id}" for n in fleet.nodes[:3])


def test_boot_consul_template_renders_the_apps_config_from_kv(fleet: Fleet) -> None:
    for node in fleet.nodes[:3]:
        config = node.run("cat", "/opt/app/shared/config/app.toml").stdout
        assert f'log_level = "{KV["app/log-level"]}"' in config
        assert KV["database/master-password"] in config
        mode = node.run("stat", "-c", "%a %U", "/opt/app/shared/config/app.toml").stdout.split()
        assert mode == ["600", "app"]


def test_boot_pulls_the_published_release_and_the_app_serves_it(fleet: Fleet) -> None:
    for node in fleet.nodes[:3]:
        current, health = fleet.boot_state[node.name]
        assert current == f"releases/{FIRST_RELEASE}"
        assert health is not None
        assert health["release"] == FIRST_RELEASE


def test_boot_launch_hook_completes_once_after_health_passes(fleet: Fleet) -> None:
    for node in fleet.nodes[:3]:
        completions = fleet.lifecycle.calls_of("CompleteLifecycleAction", node.instance_id)
        assert [c.detail for c in completions] == ["webtier-launch CONTINUE"]
        health = fleet.boot_state[node.name][1]
        assert health is not None
        # The app started (and so could answer /health) before the hook was completed.
        assert float(str(health["started"])) < completions[0].wall
        assert fleet.lifecycle.instances[node.instance_id].history[-1] == "InService"
