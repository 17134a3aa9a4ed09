"""What the deploy scenarios read off the fleet: which instances the group holds in service, what
each node really runs (its `current`, its app's /health, every release it ever unpacked), and a
timeline of the deploy pointer and the nodes' reports as the server saw them change."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from typing import Self

from consul_tokens.rules import stack_tokens
from contracts.release_layout import deploy_event
from tests.fleet_harness.fleet import APP, KEYS, NODE_PREFIX, REGION, SERVICE, STACK, Fleet
from tests.fleet_harness.node import Node


def consul_name(node: Node) -> str:
    return f"{NODE_PREFIX}{node.instance_id}"


def in_service(fleet: Fleet) -> list[Node]:
    """The nodes the Auto Scaling double holds InService: the ones a push must reach."""
    return [n for n in fleet.nodes
            if fleet.lifecycle.instances[n.instance_id].state == "InService"]


def current(node: Node) -> str:
    """The release `/opt/app/current` names on the node."""
    return node.run("readlink", "/opt/app/current").stdout.strip().removeprefix("releases/")


def unpacked(node: Node) -> set[str]:
    """Every release directory the node holds (release-switch keeps the newest few)."""
    return set(node.run("ls", "-1", "/opt/app/releases").stdout.split())


EVENT = deploy_event(APP, STACK)


def events_seen(node: Node) -> list[str]:
    """The payloads (manifest URLs) of the stack's deploy events the node's own agent received since
    it started: an agent keeps only the user events whose node filter matched it, and its watch
    hands exactly those to deploy-event-handler (/v1/event/list, agent-local)."""
    # With the node's own token (the one its deploy watch reads events with), read on the node.
    done = node.run("sh", "-c", ". /etc/webtier/node-token.env && curl -fsS -H "
                    "\"X-Consul-Token: $CONSUL_HTTP_TOKEN\" "
                    f"'http://127.0.0.1:8500/v1/event/list?name={EVENT}'", check=True)
    return [base64.b64decode(e["Payload"] or "").decode() for e in json.loads(done.stdout)]


def wait_until_runs(fleet: Fleet, node: Node, release: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        health = fleet.node_health(node)
        if current(node) == release and health is not None and health["release"] == release:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{node.name} does not run {release} after {timeout:.0f} s: "
                                 f"current {current(node)!r}, health {health}")
        time.sleep(1)


class Poller:
    """Polls the server on a thread while a block runs, and once more when it ends: a deploy
    returns as soon as it has seen the last node's report, which can fall between two polls of a
    thread slowed by load, so the final look records whatever the deploy itself saw."""

    INTERVAL = 0.3

    def __init__(self) -> None:
        self.stop_flag = threading.Event()
        self.errors: list[str] = []

    def __enter__(self) -> Self:
        self.thread = threading.Thread(target=self._poll, daemon=True, name=type(self).__name__)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=10)
        self._look_once()

    def _poll(self) -> None:
        while not self.stop_flag.is_set():
            self._look_once()
            self.stop_flag.wait(self.INTERVAL)

    def _look_once(self) -> None:
        try:
            self._look(time.monotonic())
        except (OSError, ValueError) as e:  # a slow answer under load: look again
            self.errors.append(str(e))

    def _look(self, now: float) -> None:
        raise NotImplementedError


class Timeline(Poller):
    """First moment (monotonic) the server held each pointer value and each node report."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet
        self.pointer: dict[str, float] = {}
        self.reports: dict[tuple[str, str], float] = {}
        """(consul node name, release) -> first seen."""

    def _look(self, now: float) -> None:
        for item in self.fleet.server.call("GET", f"/v1/kv/{KEYS.nodes}?recurse=true") or []:
            data = json.loads(base64.b64decode(item["Value"] or ""))
            self.reports.setdefault((item["Key"][len(KEYS.nodes):], str(data["release"])), now)
        value = self.fleet.server.call("GET", f"/v1/kv/{KEYS.current}?raw=true")
        self.pointer.setdefault(str(value).strip(), now)

    def pointer_moved_to(self, release: str) -> float | None:
        return next((t for url, t in self.pointer.items() if f"/{release}/" in url), None)


def deploy_other_stack(fleet: Fleet, stack: str, *args: str,
                       timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `python -m deploy` for a second stack of the same app in the same datacenter,
    with its own bucket and its own deploy token (from consul_tokens' rules): no node of it
    exists, so its group has zero in-service instances."""
    kv_prefix, bucket = f"{APP}/{stack}", f"{APP}-{stack}-releases-123456789012"
    token = fleet.workdir / f"deploy-token-{stack}"
    if not token.exists():
        spec = next(s for s in stack_tokens(APP, stack, kv_prefix) if s.role == "deploy")
        policy = fleet.server.call("PUT", "/v1/acl/policy",
                                   {"Name": spec.policy_name, "Rules": spec.rules})
        made = fleet.server.call("PUT", "/v1/acl/token", {"Description": spec.description,
                                                          "Policies": [{"ID": policy["ID"]}]})
        fleet.aws("s3").create_bucket(  # type: ignore[attr-defined]
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        token.write_text(made["SecretID"])
        token.chmod(0o600)
    # Its group exists (`pulumi up` made it) and holds no instance.
    group = f"{APP}-{stack}-fleet-asg"
    if group not in fleet.api.empty_groups:
        fleet.api.empty_groups.append(group)
    return fleet.deploy_as(stack, bucket, kv_prefix, token, *args, timeout=timeout)


class ServiceSightings(Poller):
    """Every health status the server listed ``node`` with in the app's service, polled."""

    def __init__(self, fleet: Fleet, node: Node) -> None:
        super().__init__()
        self.fleet, self.node = fleet, node
        self.seen: set[str] = set()

    def _look(self, now: float) -> None:
        name = consul_name(self.node)
        for entry in self.fleet.server.call("GET", f"/v1/health/service/{SERVICE}") or []:
            if entry["Node"]["Node"] == name:
                self.seen.update(str(c["Status"]) for c in entry["Checks"])
