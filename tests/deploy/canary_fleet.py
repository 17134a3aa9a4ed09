"""Simulated nodes for the canary tests: what is real and what stands in.

Real: each node runs its own Consul 1.14.11 client agent (tests/real_consul.py), named as the
node, joined by gossip to the session's server, with the app service and its HTTP check
registered on it (what app-service.hcl defines) and run by the agent against the node's app; the
instance scripts (deploy-event-handler, release-pull, release-switch) run as processes per node in
its own temp dir against that agent, reading the node.env the stack's user data renders; releases
come from a real moto S3 server; each node's app is a real http.server on 127.0.0.1 whose /health
answers 200 or 500 depending on the release `current` names (its health.txt); `deploy` events
reach a node's agent by gossip only where their NodeFilter matches it.
Stand-ins: stretcher is tests/deploy/fake_stretcher.py (each node unpacks under its own root); the
`consul watch` of each node is a thread here that hands the handler the events its agent lists,
on stdin, as consul watch does; the agents act with the management token (which actor may do what
is the token matrix's); the app restart is `true`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from components.fleet.user_data import BootSettings, render
from contracts.consul_agent import node_name_prefix
from contracts.release_layout import deploy_event, deploy_keys, node_release_key, service_name
from tests.real_consul import ConsulAgent, running_client

FILES = Path(__file__).resolve().parents[2] / "image/ansible/roles/stretcher/files"
FAKE_STRETCHER = Path(__file__).resolve().parent / "fake_stretcher.py"
REPO = Path(__file__).resolve().parents[2]


def node_env_text(app: str, kv_prefix: str, bucket: str) -> str:
    """node.env exactly as the stack's user data writes it."""
    script = render(BootSettings(
        environment="staging", app=app, region="us-east-1", datacenter="dc1",
        kv_prefix=kv_prefix, release_bucket=bucket,
        deploy_pointer_key=deploy_keys(kv_prefix, app).current, ssm_prefix=f"/{app}/staging",
        join_tag_key="consul-cluster", join_tag_value="staging",
        node_name_prefix=node_name_prefix(app, "staging")))
    body = re.search(r"<<'NODE_ENV'\n(.*?)\nNODE_ENV\n", script, re.S)
    assert body is not None
    return body.group(1) + "\n"


class SimNode:
    def __init__(self, name: str, tmp: Path, consul: ConsulAgent, app: str, kv_prefix: str,
                 bucket: str, s3_endpoint: str) -> None:
        self.name = name
        self.consul = consul
        """The server; the node's own agent starts at boot."""
        self.agent: ConsulAgent | None = None
        self._agent_stack = ExitStack()
        self.app = app
        self.kv_prefix = kv_prefix
        self.dir = tmp / name
        self.root = self.dir / "opt-app"
        bin_dir = self.dir / "bin"
        for d in (self.root, self.dir / "state", bin_dir):
            d.mkdir(parents=True)
        stretcher = bin_dir / "stretcher"
        stretcher.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} "
                             f"{FAKE_STRETCHER} \"$@\"\n")
        stretcher.chmod(0o755)
        (self.dir / "node.env").write_text(node_env_text(app, kv_prefix, bucket))
        (self.dir / "consul-template.env").write_text(
            f"CONSUL_HTTP_TOKEN={consul.management_token}\n")
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(self.dir),
            "WEBTIER_ROOT": str(self.root), "WEBTIER_STATE_DIR": str(self.dir / "state"),
            "WEBTIER_NODE_ENV": str(self.dir / "node.env"),
            "WEBTIER_CONSUL_ENV": str(self.dir / "consul-template.env"),
            "WEBTIER_NODE_TOKEN_ENV": str(self.dir / "node-token.env"),
            "WEBTIER_RESTART_CMD": "true", "WEBTIER_PULL_WAIT": "3",
            "WEBTIER_NODE_NAME": name,
            "AWS_ENDPOINT_URL_S3": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        self.log: list[str] = []
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._app = ThreadingHTTPServer(("127.0.0.1", 0), self._health_handler())
        threading.Thread(target=self._app.serve_forever, daemon=True).start()

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self._app.server_address[1]}/health"

    def _health_handler(self) -> type[BaseHTTPRequestHandler]:
        root = self.root

        class Health(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """quiet"""

            def do_GET(self) -> None:
                try:
                    release = os.readlink(root / "current").rsplit("/", 1)[-1]
                    said = (root / "current" / "health.txt").read_text().strip()
                except OSError:
                    release, said = "-", "no release"
                code = 200 if said == "ok" else 500
                body = f"{said} ({release})".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Health

    def boot(self) -> subprocess.CompletedProcess[str]:
        """The node's agent joins; the user data's `release-pull` (follows the pointer) runs
        against it; then the app service and its check are registered (what app-service.hcl
        holds) and the node's watch starts."""
        self.agent = self._agent_stack.enter_context(
            running_client(self.dir / "consul", self.consul, self.name,
                           {"environment": "staging", "app": self.app}))
        self.env["CONSUL_HTTP_ADDR"] = self.agent.address
        result = self.run("release-pull")
        registered = self.agent.api("PUT", "/v1/agent/service/register", json={
            "Name": service_name(self.app, "staging"), "Port": self._app.server_address[1],
            "Check": {"HTTP": self.health_url, "Interval": "1s", "Timeout": "1s"}})
        assert registered.status_code == 200, registered.text
        self.start_watch()
        return result

    def run(self, script: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, str(FILES / script)], input=stdin, text=True,
                                capture_output=True, env={**self.env, **extra}, timeout=120)
        self.log.append(result.stderr)
        return result

    def start_watch(self) -> None:
        self._stop.clear()
        self._watch = threading.Thread(target=self._watch_loop, daemon=True)
        self._watch.start()

    def stop_watch(self) -> None:
        """The agent's watch hangs: events reach the node but its handler never runs."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=30)

    def events(self) -> list[dict[str, Any]]:
        """The stack's deploy events this node's agent received (gossip applies their
        NodeFilter), as its watch (watch-deploy.hcl) names them."""
        assert self.agent is not None
        answer = self.agent.api("GET", "/v1/event/list",
                                params={"name": deploy_event(self.app, "staging")})
        return list(answer.json()) if answer.status_code == 200 else []

    def _watch_loop(self) -> None:
        seen: list[str] = []
        while not self._stop.is_set():
            events = self.events()
            if [e["ID"] for e in events] != seen:
                seen = [e["ID"] for e in events]
                self.run("deploy-event-handler", json.dumps(events),
                         CONSUL_INDEX=str(len(seen)))
            self._stop.wait(0.1)

    def current(self) -> str | None:
        try:
            return os.readlink(self.root / "current").rsplit("/", 1)[-1]
        except OSError:
            return None

    def ever_had(self, release: str) -> bool:
        return (self.root / "releases" / release).exists()

    def reported(self) -> str | None:
        key = node_release_key(self.kv_prefix, self.app, self.name)
        answer = self.consul.api("GET", f"/v1/kv/{key}", params={"raw": ""})
        return json.loads(answer.text)["release"] if answer.status_code == 200 else None

    def close(self) -> None:
        self.stop_watch()
        self._agent_stack.close()
        self._app.shutdown()
        self._app.server_close()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
