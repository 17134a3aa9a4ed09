"""A node's Consul client agent, for real: the config dir the image bakes and boot writes
(tests/fleet/boot_sandbox.py runs the rendered user data) passes `consul validate`, and, with
the staging tokens `python -m consul_tokens` creates, the agent joins the test server under
default-deny ACLs, registers its node and the app's service, its deploy watch sees an event the
deploy token fires, release-pull's report lands, and the lifecycle hook's leave is allowed with
the node token and refused with the read-only one.

Changed for the test only, each for a reason: retry_join points at the test server (the baked
`provider=aws` would call EC2), an overlay moves every listener to a free loopback port and the
data dir into the temp dir, and the watch runs its handler without sudo (not installed here; the
sudoers rule is tested in the image chroot).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from components.fleet.user_data import AppService, BootSettings
from consul_tokens.model import AGENT, DEPLOY, KV_WRITER, TEMPLATE
from contracts import consul_agent as paths
from contracts.release_layout import deploy_event, deploy_keys, restart_lock_prefix, service_name
from tests.consul_agent.stack_tokens import make_stack_tokens
from tests.fleet.boot_sandbox import Booted, run_boot, ssm_values
from tests.instance.test_instance_scripts import pull
from tests.real_consul import ConsulAgent, _free_ports, _stop, validate

pytestmark = [pytest.mark.consul_agent, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# Not the matrix's sample node (tests/consul_agent/token_probes.py registers that one by hand):
# two node IDs under one name would make the agent's sync fail.
INSTANCE = "i-0aaaaaaaaaaaaaaa1"
NODE = f"webapp-staging-{INSTANCE}"
SERVICE, EVENT = service_name("webapp", "staging"), deploy_event("webapp", "staging")


def boot_settings(datacenter: str, **changes: object) -> BootSettings:
    fields: dict[str, object] = dict(
        environment="staging", app="webapp", region="ap-northeast-1", datacenter=datacenter,
        kv_prefix="webapp/staging", release_bucket="b",
        deploy_pointer_key=deploy_keys("webapp/staging", "webapp").current,
        ssm_prefix="/webapp/staging", join_tag_key="consul-cluster", join_tag_value="staging",
        node_name_prefix="webapp-staging-",
        service=AppService(port=1, health_path="/health", interval=10, timeout=5))
    fields.update(changes)
    return BootSettings(**fields)  # type: ignore[arg-type]


def image_and_boot_dir(booted: Booted) -> Path:
    """/etc/consul.d as a node has it: the baked consul.hcl beside what boot wrote."""
    config = booted.path(paths.CONFIG_DIR)
    shutil.copy(ROOT / "config/consul-agent.hcl", config / "consul.hcl")
    return config


@pytest.mark.parametrize("variant", [{}, {"tls": True},
                                     {"tls": True, "advertise_addr_wan": "public-ipv4"}],
                         ids=["plain", "tls", "tls-wan"])
def test_consul_validates_every_config_the_image_and_boot_write(
        consul_agent: ConsulAgent, tmp_path: Path, variant: dict[str, object]) -> None:
    booted = run_boot(boot_settings("staging", **variant), tmp_path)
    config = image_and_boot_dir(booted)
    names = sorted(p.name for p in config.iterdir() if p.is_file())
    assert {"consul.hcl", "node.hcl", "secrets.hcl", "app-service.hcl",
            "watch-deploy.hcl"} <= set(names)
    # The TLS block names the CA by its node path; point it at the one boot wrote here.
    tls = config / "tls.hcl"
    if tls.exists():
        tls.write_text(tls.read_text().replace(paths.CA_FILE,
                                               str(booted.path(paths.CA_FILE))))
    validate(consul_agent.consul_binary, config)


@dataclass
class Node:
    agent: ConsulAgent
    booted: Booted
    http: str
    proc: subprocess.Popen[bytes]
    log: Path
    events: Path
    tokens: dict[str, str]

    def api(self, method: str, path: str, token: str | None = None, **kw: object) -> object:
        return self.agent.api(method, path, token, **kw)  # type: ignore[arg-type]


def _wait(what: str, check: object, node_log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s; agent log:\n"
                         f"{node_log.read_text(errors='replace')[-3000:]}")


def node_config(consul_agent: ConsulAgent, tmp: Path, instance: str, join: bool
                ) -> tuple[dict[str, str], Booted, Path]:
    """The stack's tokens, boot run for ``instance``, and the config dir it left: retry_join aimed
    at the session server, or (``join`` False) removed, so the agent joins nothing by itself."""
    tokens = make_stack_tokens(consul_agent, "staging", tmp / "tokens")
    booted = run_boot(boot_settings(consul_agent.datacenter), tmp / "boot",
                      ssm=ssm_values("/webapp/staging", agent_token=tokens[AGENT],
                                     template_token=tokens[TEMPLATE],
                                     gossip=consul_agent.gossip_key),
                      imds={"meta-data/instance-id": instance})
    config = image_and_boot_dir(booted)
    node_hcl = config / "node.hcl"
    server = f'retry_join = ["127.0.0.1:{consul_agent.ports["serf_lan"]}"]' if join else ""
    node_hcl.write_text(re.sub(r"retry_join = \[.*\]", server, node_hcl.read_text()))
    return tokens, booted, config


def record_watch_calls(config: Path, calls: Path) -> None:
    """The deploy watch runs a handler that appends each event list it is handed to ``calls``."""
    handler = calls.with_name("handler")
    handler.write_text(f"#!/bin/sh\ncat >> {calls}\necho >> {calls}\n")
    handler.chmod(0o755)
    watch = config / "watch-deploy.hcl"
    watch.write_text(re.sub(r"args\s*=\s*\[.*\]", f'args = ["{handler}"]', watch.read_text()))


def start_agent(consul_agent: ConsulAgent, config: Path, tmp: Path, extra_hcl: str = ""
                ) -> tuple[subprocess.Popen[bytes], str, Path]:
    """The agent on ``config`` plus an overlay of free loopback ports (and ``extra_hcl``):
    its process, HTTP address and log."""
    ports = _free_ports(["http", "serf_lan", "server"])
    (config / "zz-test.hcl").write_text(
        f'bind_addr = "127.0.0.1"\nadvertise_addr = "127.0.0.1"\ndata_dir = "{tmp / "data"}"\n'
        f"disable_update_check = true\n{extra_hcl}"
        f"ports {{\n  http = {ports['http']}\n  dns = -1\n  serf_lan = {ports['serf_lan']}\n"
        f"  serf_wan = -1\n  server = {ports['server']}\n}}\n")
    validate(consul_agent.consul_binary, config)
    log = tmp / "agent.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env["CHECKPOINT_DISABLE"] = "1"
    with log.open("wb") as out:
        proc = subprocess.Popen([consul_agent.consul_binary, "agent", f"-config-dir={config}"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, f"http://127.0.0.1:{ports['http']}", log


@pytest.fixture(scope="module")
def node(consul_agent: ConsulAgent, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("node")
    tokens, booted, config = node_config(consul_agent, tmp, INSTANCE, join=True)
    events = tmp / "events.jsonl"
    record_watch_calls(config, events)
    proc, http, log = start_agent(consul_agent, config, tmp)
    try:
        yield Node(consul_agent, booted, http, proc, log, events, tokens)
    finally:
        _stop(proc)


def catalog_services(n: Node) -> list[str]:
    r = n.agent.api("GET", f"/v1/catalog/node/{NODE}")
    body = r.json() if r.status_code == 200 else None
    return sorted((body or {}).get("Services", {}) or {})


def test_the_node_registers_with_its_meta_and_the_app_service_syncs(node: Node) -> None:
    _wait("the app service is in the catalog", lambda: SERVICE in catalog_services(node),
          node.log)
    meta = node.agent.api("GET", f"/v1/catalog/node/{NODE}").json()["Node"]["Meta"]
    assert {meta.get("environment"), meta.get("app")} == {"staging", "webapp"}
    assert "blocked by ACLs" not in node.log.read_text(errors="replace")


def test_the_deploy_watch_sees_an_event_the_deploy_token_fires(node: Node) -> None:
    _wait("the node joined", lambda: SERVICE in catalog_services(node), node.log)
    fired = node.agent.api("PUT", f"/v1/event/fire/{EVENT}", node.tokens[DEPLOY],
                           data=b"s3://b/releases/webapp/r7/manifest.yml",
                           params={"node": f"^{NODE}$"})
    assert fired.status_code == 200, fired.text
    event_id = fired.json()["ID"]

    def seen() -> bool:
        text = node.events.read_text() if node.events.exists() else ""
        return any(e.get("ID") == event_id for line in text.splitlines() if line.strip()
                   for e in (json.loads(line) or []))
    _wait("the watch handler got the event", seen, node.log)


def test_release_pull_reports_with_the_node_token(node: Node, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    node_env = pull.read_env_file(node.booted.path("/etc/webtier/node.env"))
    monkeypatch.setenv("CONSUL_HTTP_ADDR", node.http)
    monkeypatch.delenv("WEBTIER_NODE_NAME", raising=False)
    monkeypatch.setenv("WEBTIER_NODE_TOKEN_ENV", str(node.booted.path(
        paths.NODE_TOKEN_ENV)))
    key = f"{node_env['NODES_PREFIX']}{NODE}"
    node.agent.api("DELETE", f"/v1/kv/{key}")
    pull.report(node_env, "r7", "s3://b/releases/webapp/r7/manifest.yml", "now")
    stored = node.agent.api("GET", f"/v1/kv/{key}", params={"raw": ""})
    assert stored.status_code == 200
    assert json.loads(stored.content)["release"] == "r7"


def lock(node: Node, token: str, prefix: str) -> subprocess.CompletedProcess[str]:
    """`consul lock` as app-config-restart runs it, on this node's agent, child `true`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env.update(CONSUL_HTTP_ADDR=node.http, CHECKPOINT_DISABLE="1", CONSUL_HTTP_TOKEN=token)
    return subprocess.run([node.agent.consul_binary, "lock", "-n=2", "-shell=false",
                           "-child-exit-code", "-timeout=10s", prefix, "/bin/true"],
                          capture_output=True, text=True, timeout=60, env=env)


def test_a_restart_slot_is_taken_with_the_template_token_on_the_lock_prefix_only(
        node: Node) -> None:
    _wait("the node joined", lambda: SERVICE in catalog_services(node), node.log)
    prefix = restart_lock_prefix("webapp/staging", "webapp")
    taken = lock(node, node.tokens[TEMPLATE], prefix)
    assert taken.returncode == 0, taken.stderr
    elsewhere = lock(node, node.tokens[TEMPLATE], deploy_keys("webapp/staging", "webapp").canary)
    assert (elsewhere.returncode, "403" in elsewhere.stderr) == (1, True), elsewhere.stderr
    # The agent token (node-token.env) has no session rights: the slot is the template token's.
    as_agent = lock(node, node.tokens[AGENT], prefix)
    assert (as_agent.returncode, "403" in as_agent.stderr) == (1, True), as_agent.stderr


def test_the_template_token_reads_the_apps_check_on_its_agent(node: Node) -> None:
    _wait("the app service is registered", lambda: SERVICE in catalog_services(node), node.log)
    path = f"/v1/agent/health/service/name/{SERVICE}"
    r = requests.get(f"{node.http}{path}", headers={"X-Consul-Token": node.tokens[TEMPLATE]},
                     params={"format": "text"}, timeout=10)
    # Allowed: the check's state (critical here: nothing listens on the app port).
    assert (r.status_code, r.text) in ((503, "critical"), (200, "passing")), r.text
    # The kv-writer token (staging has no failover queries) reads no service.
    denied = requests.get(f"{node.http}{path}",
                          headers={"X-Consul-Token": node.tokens[KV_WRITER]}, timeout=10)
    assert denied.status_code == 403, denied.text


def test_leave_is_refused_with_the_template_token_and_allowed_with_the_node_token(
        node: Node) -> None:
    _wait("the node joined", lambda: SERVICE in catalog_services(node), node.log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env.update(CONSUL_HTTP_ADDR=node.http, CHECKPOINT_DISABLE="1")
    template = {**env, "CONSUL_HTTP_TOKEN": node.tokens[TEMPLATE]}
    refused = subprocess.run([node.agent.consul_binary, "leave"], capture_output=True,
                             text=True, timeout=30, env=template)
    assert refused.returncode != 0
    assert "403" in refused.stderr + refused.stdout
    token = node.booted.path(paths.NODE_TOKEN_ENV).read_text().split("=", 1)[1].strip()
    left = subprocess.run([node.agent.consul_binary, "leave"], capture_output=True, text=True,
                          timeout=30, env={**env, "CONSUL_HTTP_TOKEN": token})
    assert left.returncode == 0, left.stderr
    node.proc.wait(timeout=30)
    members = node.agent.api("GET", "/v1/agent/members").json()
    assert {m["Name"]: m["Status"] for m in members}.get(NODE) == 3  # left
