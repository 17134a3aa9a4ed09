"""The real-agent fixture is what the Consul tests claim it is: Consul 1.14.11, default-deny ACLs,
gossip encryption, non-default loopback ports, and a TLS variant that only speaks HTTPS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests import go_tools
from tests.real_consul import ConsulAgent, running_agent

DEFAULT_PORTS = {8300, 8301, 8302, 8500, 8501, 8502, 8503, 8600}


def test_the_agent_is_consul_1_14_11(consul_agent: ConsulAgent) -> None:
    done = subprocess.run([consul_agent.consul_binary, "version"], capture_output=True,
                          text=True, timeout=30, check=True)
    assert done.stdout.startswith("Consul v1.14.11")
    me = consul_agent.api("GET", "/v1/agent/self").json()
    assert me["Config"]["Version"] == "1.14.11"
    assert me["Config"]["Server"] is True


def test_acls_deny_the_anonymous_token_and_admit_the_management_token(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    assert consul_agent.api("PUT", f"/v1/kv/{kv_prefix}/a", token="", data=b"1"
                            ).status_code == 403
    assert consul_agent.api("PUT", f"/v1/kv/{kv_prefix}/a", data=b"1").json() is True
    # Default deny: a single key is refused, a listing filtered to an empty 404.
    assert consul_agent.api("GET", f"/v1/kv/{kv_prefix}/a", token="").status_code == 403
    listing = consul_agent.api("GET", f"/v1/kv/{kv_prefix}/", token="", params={"recurse": ""})
    assert (listing.status_code, listing.text) == (404, "")


def test_a_made_token_holds_exactly_its_rules(consul_agent: ConsulAgent, kv_prefix: str) -> None:
    reader = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "read" }}')
    consul_agent.api("PUT", f"/v1/kv/{kv_prefix}/a", data=b"1")
    assert consul_agent.api("GET", f"/v1/kv/{kv_prefix}/a?raw", token=reader).text == "1"
    assert consul_agent.api("PUT", f"/v1/kv/{kv_prefix}/a", token=reader, data=b"2"
                            ).status_code == 403


def test_gossip_is_encrypted_and_every_listener_is_off_the_defaults(
        consul_agent: ConsulAgent) -> None:
    stats = consul_agent.api("GET", "/v1/agent/self").json()["Stats"]
    assert stats["serf_lan"]["encrypted"] == "true"
    assert stats["serf_wan"]["encrypted"] == "true"
    assert not set(consul_agent.ports.values()) & DEFAULT_PORTS
    assert set(consul_agent.ports) == {"http", "dns", "serf_lan", "serf_wan", "server", "grpc"}


def test_each_test_gets_its_own_prefix(consul_agent: ConsulAgent, kv_prefix: str) -> None:
    assert kv_prefix != consul_agent.fresh_prefix()
    assert consul_agent.api("GET", f"/v1/kv/{kv_prefix}/?recurse").status_code == 404


def test_the_tls_agent_speaks_https_with_its_ca_and_verifies(
        consul_agent_tls: ConsulAgent) -> None:
    agent = consul_agent_tls
    assert agent.scheme == "https"
    assert agent.ca_file
    assert agent.api("GET", "/v1/status/leader").json()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(agent.address + "/v1/status/leader", timeout=5)  # not the system CA
    # No plain-HTTP listener at all: the HTTPS port answers plain HTTP with Go's 400.
    plain = requests.get(agent.address.replace("https", "http") + "/v1/status/leader", timeout=5)
    assert plain.status_code == 400
    config = agent.api("GET", "/v1/agent/self").json()["DebugConfig"]
    assert config["TLS"]["InternalRPC"]["VerifyServerHostname"] is True
    assert config["TLS"]["InternalRPC"]["VerifyIncoming"] is True
    assert config["AutoEncryptAllowTLS"] is True
    assert set(agent.ports) == {"https", "dns", "serf_lan", "serf_wan", "server", "grpc_tls"}


def test_without_the_binary_the_fixture_fails_naming_setup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A failure, never a skip: a skipped Consul test would read as a pass.
    monkeypatch.setattr(go_tools, "BIN", tmp_path / "no-tools")
    with pytest.raises(pytest.fail.Exception, match=r"run `bash scripts/setup`"), \
            running_agent(tmp_path / "agent"):
        pass
