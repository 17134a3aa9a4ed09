"""A node agent's deploy watch, started before the agent joined, against the real Consul 1.14.11.

What the real agent does, and what consul-watch-rearm (consul.service's ExecStartPost) is for:
Consul starts its watches before it joins, and a watch query that resolved its token while no
server was known sees no event for up to 10 minutes, although the agent holds the event. The
fleet harness found it: a node booted shortly before a canary never acted on the rollout event.
Here the join is held back on purpose, so the query that starts before it is certain, not a race.

Then the image's own consul-watch-rearm, run as systemd runs it (MAINPID), restarts the watches
once the agent gets a leader, and the handler gets the event the agent had kept.

Changed for the test only, as in test_node_agent.py: listeners on free loopback ports, the
handler without sudo; and no retry_join (the test joins the agent itself, with the agent
recovery token, which the agent checks without asking a server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from consul_tokens.model import AGENT, DEPLOY
from tests.consul_agent.test_node_agent import (
    EVENT,
    INSTANCE,
    node_config,
    record_watch_calls,
    start_agent,
)
from tests.real_consul import ConsulAgent, _stop

pytestmark = [pytest.mark.consul_agent, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
REARM = ROOT / "image/ansible/roles/consul/files/consul-watch-rearm"
# Another node than test_node_agent's, which shares the session server.
NODE = f"webapp-staging-{INSTANCE[:-1]}2"
# Long enough for a handler the watch had been given to have run many times over.
BLIND_SECONDS = 8.0


@dataclass
class Unjoined:
    agent: ConsulAgent
    http: str
    proc: subprocess.Popen[bytes]
    log: Path
    calls: Path
    recovery: str
    tokens: dict[str, str]

    def handled(self) -> list[list[dict[str, object]]]:
        """Every event list the watch handed its handler, in order."""
        text = self.calls.read_text() if self.calls.exists() else ""
        return [json.loads(line) or [] for line in text.splitlines() if line.strip()]

    def local_events(self) -> list[str]:
        """IDs of the stack's events the node's agent holds, read with the node's token."""
        r = requests.get(f"{self.http}/v1/event/list", params={"name": EVENT},
                         headers={"X-Consul-Token": self.tokens[AGENT]}, timeout=10)
        r.raise_for_status()
        return [str(e["ID"]) for e in r.json() or []]


def wait(what: str, check: object, node: Unjoined, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s; agent log:\n"
                         f"{node.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def unjoined(consul_agent: ConsulAgent, tmp_path: Path) -> Iterator[Unjoined]:
    """The node's real config (boot's files, the baked consul.hcl), not joined to anything."""
    tokens, _, config = node_config(consul_agent, tmp_path, INSTANCE[:-1] + "2", join=False)
    calls = tmp_path / "calls.jsonl"
    record_watch_calls(config, calls)
    recovery = str(uuid.uuid4())
    proc, http, log = start_agent(
        consul_agent, config, tmp_path,
        f'acl {{\n  tokens {{\n    agent_recovery = "{recovery}"\n  }}\n}}\n')
    node = Unjoined(consul_agent, http, proc, log, calls, recovery, tokens)
    try:
        yield node
    finally:
        _stop(proc)
        # The node leaves the session server's catalog with it.
        consul_agent.api("PUT", "/v1/catalog/deregister", json={"Node": NODE})


def join_then_fire(node: Unjoined) -> str:
    """With the watch's query already started unjoined: join, then fire a deploy event."""
    wait("the watch ran its handler once (the empty list at its start)", node.handled, node)
    time.sleep(1.0)  # its next query is in flight, its token resolved while no server was known
    joined = requests.put(
        f"{node.http}/v1/agent/join/127.0.0.1:{node.agent.ports['serf_lan']}",
        headers={"X-Consul-Token": node.recovery}, timeout=30)
    assert joined.status_code == 200, joined.text
    wait("the agent reaches a leader", lambda: requests.get(
        f"{node.http}/v1/status/leader", timeout=5).json(), node)
    fired = node.agent.api("PUT", f"/v1/event/fire/{EVENT}", node.tokens[DEPLOY],
                           data=b"s3://b/releases/webapp/r9/manifest.yml")
    assert fired.status_code == 200, fired.text
    event_id = str(fired.json()["ID"])
    wait("the node's agent received the event", lambda: event_id in node.local_events(), node)
    return event_id


def handed(node: Unjoined, event_id: str) -> bool:
    return any(e.get("ID") == event_id for call in node.handled() for e in call)


def rearm(node: Unjoined, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONSUL_", "REARM_"))}
    return subprocess.run([sys.executable, str(REARM)], capture_output=True, text=True,
                          timeout=60, env={**clean, "MAINPID": str(node.proc.pid),
                                           "CONSUL_HTTP_ADDR": node.http, **env})


def test_a_watch_started_before_the_join_is_blind_and_the_rearm_makes_it_see(
        unjoined: Unjoined) -> None:
    event_id = join_then_fire(unjoined)
    # What Consul does: the agent holds the event, the watch hands it to nobody.
    time.sleep(BLIND_SECONDS)
    assert unjoined.local_events() == [event_id]
    assert not handed(unjoined, event_id), unjoined.handled()

    done = rearm(unjoined)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert "watches restarted" in done.stderr
    wait("the restarted watch handed the kept event to the handler",
         lambda: handed(unjoined, event_id), unjoined)
    assert unjoined.proc.poll() is None  # a reload, not a stop


def test_without_a_leader_the_rearm_leaves_the_agent_alone_and_exits_0(
        unjoined: Unjoined) -> None:
    wait("the agent answers", lambda: unjoined.handled(), unjoined)
    calls = len(unjoined.handled())
    done = rearm(unjoined, REARM_WAIT="2")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no leader after 2s" in done.stderr
    time.sleep(1.0)
    # No SIGHUP: a reload would have restarted the watch, which hands over its list again.
    assert len(unjoined.handled()) == calls
    assert unjoined.proc.poll() is None
