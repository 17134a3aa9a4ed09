"""`python -m consul_tokens` on a real Consul 1.14.11: a token found by its description that
someone gave `global-management` since is refused (exit 6, one line naming its accessor and the
fix), reused and stored nowhere; once the extra policy is gone it is handed out again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.consul_agent.stack_tokens import ROOT, make_stack_tokens
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.consul_agent, pytest.mark.integration]

GLOBAL_MANAGEMENT = "00000000-0000-0000-0000-000000000001"
DESCRIPTION = "webtier-webapp-staging-agent (python -m consul_tokens)"


def test_a_token_given_global_management_is_refused_and_never_stored(
        consul_agent: ConsulAgent, tmp_path: Path) -> None:
    make_stack_tokens(consul_agent, "staging", tmp_path / "first")
    listed = consul_agent.api("GET", "/v1/acl/tokens").json()
    mine = next(t for t in listed if t["Description"] == DESCRIPTION)
    accessor = mine["AccessorID"]
    token = consul_agent.api("GET", f"/v1/acl/token/{accessor}").json()
    own = token["Policies"]
    widened = consul_agent.api("PUT", f"/v1/acl/token/{accessor}", json={
        "Description": DESCRIPTION, "Policies": [*own, {"ID": GLOBAL_MANAGEMENT}]})
    assert widened.status_code == 200, widened.text
    try:
        fake = tmp_path / "bin" / "pulumi"
        fake.parent.mkdir()
        log = tmp_path / "stored"
        fake.write_text(f"#!/bin/sh\ncat >> {log}\n")
        fake.chmod(0o755)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")},
               **consul_agent.env(), "PATH": f"{fake.parent}:{os.environ['PATH']}"}
        done = subprocess.run([sys.executable, "-m", "consul_tokens", "--stack", "staging",
                               "--set-config", "--address", consul_agent.address], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 6, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert f"token {accessor}" in lines[0]
        assert "global-management" in lines[0]
        assert f"consul acl token delete -id {accessor}" in lines[0]
        assert token["SecretID"] not in done.stdout + done.stderr
        assert not log.exists(), "a token was handed to `pulumi config set`"
    finally:
        restored = consul_agent.api("PUT", f"/v1/acl/token/{accessor}", json={
            "Description": DESCRIPTION, "Policies": own})
        assert restored.status_code == 200, restored.text
    again = make_stack_tokens(consul_agent, "staging", tmp_path / "again")
    assert again["agent"] == token["SecretID"]
