"""A fleet in a box: the real Consul server, moto, the AWS doubles and N nodes booted with
systemd-nspawn from the cached image, each running the stack's real boot user data under systemd.

Everything started here is stopped by PID (nspawn, consul, moto) or by handle (the doubles'
threads), in reverse order, also when a step fails: see Fleet.stop and the ExitStack.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from components.fleet.user_data import AppService, BootSettings, LifecycleBoot, render
from components.image.inputs import ROOT
from contracts import consul_agent, lifecycle
from contracts.node_secrets import (
    AGENT_TOKEN_PARAMETER,
    CA_CERT_PARAMETER,
    GOSSIP_KEY_PARAMETER,
    TEMPLATE_TOKEN_PARAMETER,
)
from contracts.release_layout import deploy_keys, service_name
from tests.consul_agent.stack_tokens import tokens_via_cli
from tests.fleet_harness import netns, node_root
from tests.fleet_harness.certs import Authority
from tests.fleet_harness.consul_server import ConsulServer
from tests.fleet_harness.host_lock import fleet_lock
from tests.fleet_harness.imds_double import ImdsDouble
from tests.fleet_harness.kv_engine import KvEngine
from tests.fleet_harness.lifecycle_double import LifecycleDouble
from tests.fleet_harness.node import Node
from tests.fleet_harness.query_api import Ec2Instance, QueryApi, service_hosts
from tests.moto_server import FAKE_CREDENTIALS, running_moto

APP, STACK, REGION, ZONE = "webapp", "staging", "ap-northeast-1", "ap-northeast-1a"
KV_PREFIX = f"{APP}/{STACK}"
BUCKET = f"{APP}-{STACK}-releases-123456789012"
SSM_PREFIX = f"/{APP}/{STACK}"
GROUP = f"{APP}-{STACK}-fleet-asg"
APP_PORT, HEALTH_PATH = 8080, "/health"
JOIN_TAG = ("consul-cluster", STACK)
NODE_PREFIX = consul_agent.node_name_prefix(APP, STACK)
KEYS = deploy_keys(KV_PREFIX, APP)
SERVICE = service_name(APP, STACK)
USER_DATA_UNIT = """[Unit]
Description=EC2 user data (what cloud-init's final stage runs on first boot)
After=network-online.target
[Service]
Type=oneshot
ExecStart=/bin/bash /var/lib/cloud/instance/user-data.txt
RemainAfterExit=yes
"""

BOOT = BootSettings(
    environment=STACK, app=APP, region=REGION, datacenter=STACK, kv_prefix=KV_PREFIX,
    release_bucket=BUCKET, deploy_pointer_key=KEYS.current, ssm_prefix=SSM_PREFIX,
    join_tag_key=JOIN_TAG[0], join_tag_value=JOIN_TAG[1], node_name_prefix=NODE_PREFIX,
    tls=True,
    hooks=LifecycleBoot(health_url=f"http://127.0.0.1:{APP_PORT}{HEALTH_PATH}",
                        launch_deadline=300),
    service=AppService(port=APP_PORT, health_path=HEALTH_PATH, interval=2, timeout=1))


def tool(name: str) -> Path:
    path = ROOT / ".tools" / "bin" / name
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: run `bash scripts/setup` (scripts/go-tools)")
    return path


@dataclass
class Fleet:
    workdir: Path
    size: int
    nodes: list[Node] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    boot_state: dict[str, tuple[str, dict[str, object] | None]] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    def start(self) -> Fleet:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.stack.close()

    def _start(self) -> None:
        self.stack.enter_context(fleet_lock())  # held until stop
        t0 = time.monotonic()
        image, built = node_root.image_layer()
        self.timings["image_build_s"] = built
        tools = node_root.tools_layer({n: tool(n) for n in node_root.TOOLS})
        self.layers = [tools, image]
        self.timings["image_ready_s"] = time.monotonic() - t0

        netns.make_bridge()
        self.stack.callback(netns.delete_bridge)
        self.ca = Authority(self.workdir / "ca")
        self.moto = self.stack.enter_context(running_moto())
        self.server = ConsulServer(self.workdir / "consul", netns.HOST, STACK, self.ca,
                                   str(tool("consul")))
        self.stack.callback(self.server.stop)
        self.server.start()
        self._tokens()
        self._aws_state()
        self.lifecycle = LifecycleDouble(GROUP, lifecycle.LAUNCH_HOOK, lifecycle.TERMINATE_HOOK)
        leaf = self.ca.issue("aws", service_hosts(REGION, [BUCKET]), [netns.HOST])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(leaf.cert), str(leaf.key))
        self.api = QueryApi(netns.HOST, context, self.moto, self.lifecycle, ZONE).start()
        self.stack.callback(self.api.stop)
        self.api.instances["i-0c0a5a1e5e7e70001"] = Ec2Instance(
            "i-0c0a5a1e5e7e70001", netns.HOST, {JOIN_TAG[0]: JOIN_TAG[1]}, lambda: True)
        self.timings["control_plane_s"] = time.monotonic() - t0 - self.timings["image_ready_s"]

    # --- the control plane's state ---------------------------------------------------------------

    def _tokens(self) -> None:
        """The stack's tokens, made by the real `python -m consul_tokens` (the committed staging
        settings name the same app, KV prefix and datacenter as this fleet)."""
        server = self.server
        self.tokens = tokens_via_cli(
            STACK, address=server.http, datacenter=server.datacenter,
            management={"CONSUL_HTTP_ADDR": server.http, "CONSUL_HTTP_TOKEN": server.management},
            secret_of=lambda accessor: str(
                server.call("GET", f"/v1/acl/token/{accessor}")["SecretID"]),
            workdir=self.workdir / "tokens")

    def aws(self, service: str) -> object:
        return boto3.client(service, region_name=REGION, endpoint_url=self.moto,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def _aws_state(self) -> None:
        s3, ssm = self.aws("s3"), self.aws("ssm")
        s3.create_bucket(Bucket=BUCKET,  # type: ignore[attr-defined]
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, value in ((GOSSIP_KEY_PARAMETER, self.server.gossip_key),
                            (AGENT_TOKEN_PARAMETER, self.tokens["agent"]),
                            (TEMPLATE_TOKEN_PARAMETER, self.tokens["template"]),
                            (CA_CERT_PARAMETER, self.ca.pem.read_text())):
            ssm.put_parameter(Name=f"{SSM_PREFIX}/{name}", Value=value,  # type: ignore
                              Type="SecureString", Overwrite=True)

    def deploy(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """The real `python -m deploy` against moto and the server, with the deploy token."""
        token = self.workdir / "deploy-token"
        token.write_text(self.tokens["deploy"])
        token.chmod(0o600)
        return self.deploy_as(STACK, BUCKET, KV_PREFIX, token, *args, timeout=timeout)

    def deploy_as(self, stack: str, bucket: str, kv_prefix: str, token: Path, *args: str,
                  timeout: float) -> subprocess.CompletedProcess[str]:
        """`python -m deploy` for ``stack`` of the app, with the deploy token in ``token``."""
        return subprocess.run(
            [sys.executable, "-m", "deploy", *args[:1], "--stack", stack, "--app", APP,
             "--bucket", bucket, "--kv-prefix", kv_prefix, "--region", REGION,
             "--s3-endpoint", self.moto, "--consul-addr", self.server.http,
             "--consul-token-file", str(token), *args[1:]],
            cwd=ROOT, env=self.deploy_env(), capture_output=True, text=True, timeout=timeout,
            check=False)

    def deploy_env(self) -> dict[str, str]:
        """The deploy asks the Auto Scaling double (query_api.py) which instances are in
        service, over TLS the harness CA signs."""
        return {**os.environ, **FAKE_CREDENTIALS, "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL_AUTOSCALING": f"https://{netns.HOST}",
                "AWS_CA_BUNDLE": str(self.ca.pem)}

    def put_kv(self, values: dict[str, str]) -> None:
        """`pulumi up` of the stack's KV: the real ConsulKv under the real engine."""
        if not hasattr(self, "kv"):
            self.kv = KvEngine(self.workdir / "engine", self.server.http, KV_PREFIX,
                               self.tokens["kv-writer"])
        self.kv.up(values)

    # --- nodes -----------------------------------------------------------------------------------

    def add_node(self, *, into_pool: bool = False, launch_delay: float = 0.0) -> Node:
        index = len(self.nodes) + 1
        node = Node(f"wtnode{index}", index, netns.node_address(index),
                    f"i-0f1ee70000000000{index}", self.workdir / f"node{index}")
        self.nodes.append(node)
        self.stack.callback(node.unmount)
        node.mount(self.layers)
        self._prepare(node)
        self.lifecycle.launch(node.instance_id, into_pool=into_pool, delay=launch_delay)
        self.api.instances[node.instance_id] = Ec2Instance(
            node.instance_id, node.address, {"aws:autoscaling:groupName": GROUP},
            node.powered)
        self.power_on(node)
        return node

    def _prepare(self, node: Node) -> None:
        root = node.root
        hosts = " ".join(service_hosts(REGION, [BUCKET]))
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {node.name}\n"
                                        f"{netns.HOST} {hosts}\n")
        # The system store (Go: stretcher, Consul's auto-join) and the CA file the Debian aws CLI
        # ships with its own botocore (awscli/botocore/cacert.pem) both trust the harness CA.
        for bundle in (root / "etc/ssl/certs/ca-certificates.crt",
                       root / "usr/lib/python3/dist-packages/awscli/botocore/cacert.pem"):
            bundle.write_text(bundle.read_text() + self.ca.pem.read_text())
        data = root / "var/lib/cloud/instance"
        data.mkdir(parents=True, exist_ok=True)
        (data / "user-data.txt").write_text(render(BOOT))
        (root / "etc/systemd/system/webtier-user-data.service").write_text(USER_DATA_UNIT)

    def power_on(self, node: Node) -> None:
        """Boot (or restart) the node, wire its link, give it its IMDS, run its user data once."""
        log = self.workdir / f"{node.name}.console.log"
        node.boot(log)
        self.stack.callback(node.stop)
        node.wire()
        sock = netns.listen_in(node.leader, netns.IMDS_ADDRESS, 80)
        imds = ImdsDouble(sock, instance_id=node.instance_id, address=node.address,
                          region=REGION, zone=ZONE, tags={"aws:autoscaling:groupName": GROUP},
                          lifecycle_state=lambda: self.lifecycle.instances[node.instance_id]
                          .target).start()
        node.imds = imds
        self.stack.callback(imds.stop)

    def run_user_data(self, node: Node) -> None:
        node.run("systemctl", "start", "--no-block", "webtier-user-data.service", check=True)

    def node_health(self, node: Node) -> dict[str, object] | None:
        done = node.run("curl", "-fsS", f"http://127.0.0.1:{APP_PORT}{HEALTH_PATH}", timeout=10)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def wait_in_service(self, node: Node, timeout: float) -> None:
        """Until the group holds the node InService (its launch hook completed with CONTINUE)."""
        self.wait_state(node, "InService", timeout)
        node.timings["in_service"] = time.monotonic()

    def journal(self, node: Node, unit: str) -> str:
        return node.run("journalctl", "-u", unit, "--no-pager", "-o", "cat").stdout

    def diagnose(self) -> str:
        """What each running node's deploy path holds: the events its agent kept, the events its
        handler recorded, and the handler's and release-pull's last log lines. Added to a failed
        scenario's report, so a node that missed a deploy can be read after the fleet is gone."""
        out = []
        for node in self.nodes:
            if not node.powered():
                out.append(f"== {node.name} ({node.instance_id}): powered off")
                continue
            events = node.run("sh", "-c", ". /etc/webtier/node-token.env && curl -sS -H "
                              "\"X-Consul-Token: $CONSUL_HTTP_TOKEN\" "
                              "http://127.0.0.1:8500/v1/event/list").stdout
            try:
                kept = [f"{e['Name']} {e['ID']} ltime {e['LTime']} filter "
                        f"{e.get('NodeFilter') or '-'}" for e in json.loads(events)]
            except (ValueError, TypeError, KeyError):
                kept = [events.strip()[:300]]
            handled = node.run("cat", "/var/lib/webtier/handled-events.json").stdout.strip()
            logs = [line for line in self.journal(node, "consul.service").splitlines()
                    if any(w in line for w in ("deploy-event-handler", "release-pull", "watch"))]
            state = self.lifecycle.instances[node.instance_id].state
            out += [f"== {node.name} ({node.instance_id}) {state}",
                    "agent events: " + ("; ".join(kept) or "none"),
                    f"handled: {handled or 'nothing'}", *logs[-25:]]
        return "\n".join(out)

    def timing_report(self) -> str:
        built = self.timings.get("image_build_s", 0.0)
        parts = [f"image built in {built:.0f} s" if built else "image cached",
                 f"control plane up in {self.timings.get('control_plane_s', 0):.1f} s"]
        for n in self.nodes:
            if "in_service" in n.timings:
                parts.append(f"{n.name} boot to InService "
                             f"{n.timings['in_service'] - n.timings['nspawn_started']:.1f} s")
        return "; ".join(parts)

    def power_off(self, node: Node) -> None:
        """What stopping or terminating the instance does: systemd shuts the node down."""
        node.stop()
        if isinstance(node.imds, ImdsDouble):
            node.imds.stop()
        node.imds = None

    def wait_state(self, node: Node, state: str, timeout: float) -> None:
        """Until the group holds the node in ``state``; names the node's hook logs otherwise."""
        deadline = time.monotonic() + timeout
        inst = self.lifecycle.instances[node.instance_id]
        while inst.state != state:
            failed = node.powered() and node.run(
                "systemctl", "is-failed", "--quiet", "webtier-user-data.service").returncode == 0
            if failed or time.monotonic() > deadline:
                logs = "".join(self.journal(node, unit)[-2500:] for unit in
                               ("webtier-user-data.service", "consul.service",
                                "lifecycle-watch.service"))
                why = "its user data failed" if failed else f"after {timeout:.0f} s"
                raise AssertionError(f"{node.name} not {state} ({why}) "
                                     f"({inst.history}); logs:\n{logs}")
            time.sleep(0.5)

    def member_status(self, node: Node) -> int | None:
        """Serf status the server sees: 1 alive, 3 left, 4 failed; None if unknown."""
        for m in self.server.call("GET", "/v1/agent/members"):
            if m["Name"] == f"{NODE_PREFIX}{node.instance_id}":
                return int(m["Status"])
        return None
