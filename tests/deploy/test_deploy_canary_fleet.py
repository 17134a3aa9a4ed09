"""Canary, health-gated deploys end to end: the real `python -m deploy` CLI as a subprocess, a
real moto S3 server, a real Consul 1.14.11 server with one real client agent per simulated node
running its HTTP check, and the nodes running the real instance scripts (what is real and what
stands in: tests/deploy/canary_fleet.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from contracts.consul_agent import node_name_prefix
from contracts.names import fleet_group_prefix
from contracts.release_layout import deploy_keys
from deploy.target import stack_defaults
from tests.deploy.canary_fleet import SimNode, wait_until
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = stack_defaults("staging")
APP, KV_PREFIX = str(DEFAULTS["app"]), str(DEFAULTS["kv_prefix"])
KEYS = deploy_keys(KV_PREFIX, APP)
NAMES = ("node-a", "node-b", "node-c")
GROUP = f"{fleet_group_prefix(APP, 'staging')}canaries"


@dataclass
class Fleet:
    consul: ConsulAgent
    bucket: str
    s3_endpoint: str
    tmp: Path
    nodes: dict[str, SimNode]
    """By label (node-a, ...); each node's Consul name is its instance's (``name``)."""
    names: dict[str, str] = field(default_factory=dict)

    def asg(self) -> Any:
        return boto3.client("autoscaling", endpoint_url=self.s3_endpoint, region_name="us-east-1")

    def in_service(self) -> list[str]:
        groups = self.asg().describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
        return sorted(i["InstanceId"] for i in groups["AutoScalingGroups"][0]["Instances"]
                      if i["LifecycleState"] == "InService")

    def launch(self, labels: tuple[str, ...]) -> None:
        """The group (moto) launches one instance per label: the deploy waits for exactly its
        InService instances, named <app>-<stack>-<instance id> in Consul. Labels follow the
        instance ids' order, so node-a sorts first and is the one a canary of 1 picks."""
        known = set(self.names.values())
        self.asg().set_desired_capacity(AutoScalingGroupName=GROUP,
                                        DesiredCapacity=len(known) + len(labels))
        new = [f"{node_name_prefix(APP, 'staging')}{i}" for i in self.in_service()
               if f"{node_name_prefix(APP, 'staging')}{i}" not in known]
        self.names.update(zip(labels, sorted(new), strict=True))

    def name(self, label: str) -> str:
        return self.names[label]

    def add(self, label: str) -> SimNode:
        if label not in self.names:
            self.launch((label,))
        node = SimNode(self.names[label], self.tmp, self.consul, APP, KV_PREFIX, self.bucket,
                       self.s3_endpoint)
        self.nodes[label] = node
        return node

    def release(self, name: str, health: str) -> Path:
        path = self.tmp / f"src-{name}"
        path.mkdir()
        (path / "health.txt").write_text(health)
        return path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "deploy", *args, "--stack", "staging", "--bucket",
                self.bucket, "--s3-endpoint", self.s3_endpoint, "--region", "us-east-1"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONSUL_HTTP_ADDR": self.consul.address,
                "CONSUL_HTTP_TOKEN": self.consul.management_token,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), cwd=ROOT, env=self.env(), capture_output=True,
                              text=True, timeout=180)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=ROOT, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def push(self, release: str, health: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli("push", "--release-id", release, "--timeout", "30", *extra,
                        str(self.release(release, health)))

    def value(self, key: str) -> str | None:
        answer = self.consul.api("GET", f"/v1/kv/{key}", params={"raw": ""})
        return answer.text if answer.status_code == 200 else None

    def pointer_release(self) -> str | None:
        value = self.value(KEYS.current)
        return value.rsplit("/", 2)[-2] if value else None

    def on(self, release: str) -> list[str]:
        return sorted(n for n, node in self.nodes.items() if node.reported() == release)


@pytest.fixture
def fleet(moto_server: str, tmp_path: Path, consul_agent: ConsulAgent) -> Iterator[Fleet]:
    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    consul_agent.wipe(KV_PREFIX)
    f = Fleet(consul_agent, bucket, moto_server, tmp_path, {})
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")
    template = f"lt-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    f.asg().create_auto_scaling_group(
        AutoScalingGroupName=GROUP, MinSize=0, MaxSize=10, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateName": template}, AvailabilityZones=["us-east-1a"])
    try:
        f.launch(NAMES)
        for name in NAMES:
            f.add(name).boot()
        first = f.push("r1", "ok")
        assert first.returncode == 0, first.stderr
        assert f.on("r1") == list(NAMES)
        yield f
    finally:
        # Each agent takes seconds to leave; they leave side by side.
        with ThreadPoolExecutor() as pool:
            list(pool.map(SimNode.close, f.nodes.values()))
        consul_agent.wipe(KV_PREFIX)
        f.asg().delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)


@pytest.mark.integration
def test_canary_real_cli_moto_consul_good_release_reaches_every_node(
        fleet: Fleet) -> None:
    result = fleet.push("r2", "ok", "--canary", "1", "--bake", "1")
    assert result.returncode == 0, result.stderr
    assert fleet.pointer_release() == "r2"
    assert fleet.on("r2") == list(NAMES)
    # The candidate went first to exactly one node: gossip delivered the canary event (the one
    # with a NodeFilter) to that node's agent only.
    received = {n: [e for e in fleet.nodes[n].events() if e["NodeFilter"]] for n in NAMES}
    assert {n: len(events) for n, events in received.items()} == {
        "node-a": 1, "node-b": 0, "node-c": 0}
    status = fleet.cli("status")
    assert status.returncode == 0, status.stderr
    for name in NAMES:
        assert any(line.split()[:3] == [fleet.name(name), "r2", "passing"]
                   for line in status.stdout.splitlines()), status.stdout
    print(result.stdout + result.stderr + status.stdout)


@pytest.mark.integration
def test_canary_real_cli_broken_release_stays_on_one_node_and_is_sent_back(
        fleet: Fleet) -> None:
    result = fleet.push("r2", "broken", "--canary", "1", "--bake", "1")
    assert result.returncode == 4, result.stdout + result.stderr
    assert fleet.name("node-a") in result.stderr
    assert "500" in result.stderr
    assert "broken (r2)" in result.stderr
    assert fleet.pointer_release() == "r1"
    assert [n for n in NAMES if fleet.nodes[n].ever_had("r2")] == ["node-a"]
    assert fleet.on("r1") == list(NAMES)
    assert fleet.nodes["node-a"].current() == "r1"
    assert fleet.value(KEYS.canary) is None
    print(result.stderr)


@pytest.mark.integration
def test_canary_real_cli_times_out_when_the_canary_never_reports(fleet: Fleet) -> None:
    fleet.nodes["node-a"].stop_watch()
    result = fleet.push("r2", "ok", "--canary", "1", "--bake", "1", "--timeout", "3")
    assert result.returncode == 4, result.stderr
    assert "timed out" in result.stderr
    assert fleet.name("node-a") in result.stderr
    assert fleet.pointer_release() == "r1"
    assert fleet.on("r1") == list(NAMES)
    assert fleet.value(KEYS.canary) is None


@pytest.mark.integration
def test_canary_real_cli_node_booting_mid_canary_follows_the_pointer(fleet: Fleet) -> None:
    proc = fleet.start("push", "--release-id", "r2", "--canary", "1", "--bake", "3",
                       str(fleet.release("r2", "ok")))
    wait_until("the canary node runs r2", lambda: fleet.on("r2") == ["node-a"])
    late = fleet.add("node-d")
    late.boot()
    assert late.current() == "r1"
    assert late.reported() == "r1"
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    wait_until("every node runs r2", lambda: fleet.on("r2") == [*NAMES, "node-d"])


@pytest.mark.integration
def test_canary_real_cli_a_second_push_during_a_canary_is_refused(fleet: Fleet) -> None:
    proc = fleet.start("push", "--release-id", "r2", "--canary", "1", "--bake", "3",
                       str(fleet.release("r2", "ok")))
    wait_until("the canary record", lambda: fleet.value(KEYS.canary) is not None)
    second = fleet.push("r3", "ok", "--canary", "1", "--bake", "1")
    plain = fleet.push("r4", "ok")
    assert (second.returncode, plain.returncode) == (1, 1), second.stderr + plain.stderr
    assert "a canary is already in flight (r2" in second.stderr
    assert "in flight" in plain.stderr
    assert fleet.pointer_release() in ("r1", "r2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert fleet.pointer_release() == "r2"
    assert not any(fleet.nodes[n].ever_had("r3") or fleet.nodes[n].ever_had("r4")
                   for n in NAMES)


@pytest.mark.integration
def test_canary_real_cli_sigint_leaves_a_state_status_explains_and_resume_finishes(
        fleet: Fleet) -> None:
    proc = fleet.start("push", "--release-id", "r2", "--canary", "1", "--bake", "2",
                       str(fleet.release("r2", "ok")))
    wait_until("the canary node runs r2", lambda: fleet.on("r2") == ["node-a"])
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    record = json.loads(fleet.value(KEYS.canary) or "{}")
    assert (record["release"], record["nodes"]) == ("r2", [fleet.name("node-a")])
    assert fleet.pointer_release() == "r1"
    status = fleet.cli("status")
    assert f"canary in flight: r2 on {fleet.name('node-a')}" in status.stdout, status.stdout
    assert "--resume" in status.stdout
    assert "--abort" in status.stdout
    resumed = fleet.cli("push", "--resume", "--timeout", "30")
    assert resumed.returncode == 0, resumed.stderr
    assert fleet.pointer_release() == "r2"
    assert fleet.on("r2") == list(NAMES)
    assert fleet.value(KEYS.canary) is None
    print(status.stdout)


@pytest.mark.integration
def test_rollback_real_cli_waits_until_every_node_runs_the_previous_release(
        fleet: Fleet) -> None:
    assert fleet.push("r2", "ok").returncode == 0
    back = fleet.cli("rollback", "--timeout", "30")
    assert back.returncode == 0, back.stderr
    assert "every node runs r1, healthy" in back.stdout
    assert fleet.on("r1") == list(NAMES)
    waited = fleet.cli("status", "--wait", "r1", "--timeout", "10")
    assert waited.returncode == 0
    assert "every healthy node runs r1" in waited.stdout
    print(back.stdout + back.stderr + waited.stdout + waited.stderr)


@pytest.mark.integration
def test_canary_real_cli_abort_after_sigint_sends_the_canary_node_back(fleet: Fleet) -> None:
    proc = fleet.start("push", "--release-id", "r2", "--canary", "1", "--bake", "30",
                       str(fleet.release("r2", "ok")))
    wait_until("the canary node runs r2", lambda: fleet.on("r2") == ["node-a"])
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    aborted = fleet.cli("push", "--abort", "--timeout", "30")
    assert aborted.returncode == 0, aborted.stderr
    assert f"{fleet.name('node-a')} went back to r1" in aborted.stdout
    assert fleet.on("r1") == list(NAMES)
    assert fleet.pointer_release() == "r1"
    assert fleet.value(KEYS.canary) is None
