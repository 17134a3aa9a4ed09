"""lifecycle-hook run for real as a process in a temp root: a stand-in `aws` on PATH records the
AWS CLI calls, a stand-in `consul` records `leave`, and one local HTTP server plays both the
instance metadata service (IMDSv2) and the app's health check. Pass, fail (health never passes:
ABANDON), timeout of a launch without a release, and the terminate path in order."""

from __future__ import annotations

import http.server
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import loopback

pytestmark = pytest.mark.integration

SCRIPT = (Path(__file__).resolve().parents[2]
          / "image/ansible/roles/stretcher/files/lifecycle-hook")


class Double(http.server.BaseHTTPRequestHandler):
    healthy = True
    target = "Terminated"

    def do_PUT(self) -> None:  # IMDSv2 token
        self._answer(200, "token")

    def do_GET(self) -> None:
        if self.path == "/latest/meta-data/instance-id":
            self._answer(200, "i-0abc")
        elif self.path == "/latest/meta-data/autoscaling/target-lifecycle-state":
            self._answer(200, Double.target)
        elif self.path == "/health":
            self._answer(200 if Double.healthy else 503, "ok")
        else:
            self._answer(404, "")

    def _answer(self, code: int, body: str) -> None:
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: object) -> None:
        pass


@dataclass
class Root:
    path: Path
    env: dict[str, str]

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), command], env=self.env, capture_output=True,
                              text=True, timeout=60, check=False)

    def calls(self) -> list[str]:
        log = self.path / "calls"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Root]:
    with loopback.serving(Double) as base:
        stubs = tmp_path / "bin"
        stubs.mkdir()
        calls = tmp_path / "calls"
        # AWS_REFUSE_COMPLETIONS=N: the first N completions are refused as AWS refuses one that
        # comes before the action waits (ValidationError, "No active Lifecycle Action found").
        (stubs / "aws").write_text(
            f'#!/bin/sh\necho "aws $*" >> {calls}\n'
            'case "$*" in *describe-instances*) echo webapp-staging-fleet-x ;; esac\n'
            'case "$*" in *complete-lifecycle-action*)\n'
            f'  n=$(cat {tmp_path}/refused 2>/dev/null || echo 0)\n'
            '  if [ "$n" -lt "${AWS_REFUSE_COMPLETIONS:-0}" ]; then\n'
            f'    echo $((n + 1)) > {tmp_path}/refused\n'
            '    echo "An error occurred (ValidationError) when calling the '
            'CompleteLifecycleAction operation: No active Lifecycle Action found with instance '
            'ID i-0abc" >&2\n'
            '    exit 254\n  fi ;;\nesac\n')
        (stubs / "consul").write_text(
            f'#!/bin/sh\necho "consul $* (token ${{CONSUL_HTTP_TOKEN:-none}})" >> {calls}\n')
        for stub in stubs.iterdir():
            stub.chmod(0o755)
        (tmp_path / "app").mkdir()
        (tmp_path / "node-token.env").write_text("CONSUL_HTTP_TOKEN=agent-token-7f3a\n")
        (tmp_path / "lifecycle.env").write_text(
            "AWS_REGION=ap-northeast-1\nLAUNCH_HOOK=webtier-launch\n"
            "TERMINATE_HOOK=webtier-terminate\n"
            f"HEALTH_URL={base}/health\nLAUNCH_DEADLINE=2\n")
        env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}",
               "WEBTIER_LIFECYCLE_ENV": str(tmp_path / "lifecycle.env"),
               "WEBTIER_ROOT": str(tmp_path / "app"), "WEBTIER_IMDS": base,
               "WEBTIER_NODE_TOKEN_ENV": str(tmp_path / "node-token.env"),
               "WEBTIER_POLL": "0.2", "WEBTIER_HEARTBEAT": "0.5",
               "WEBTIER_STATE_DIR": str(tmp_path / "state"),
               "WEBTIER_RUN_DIR": str(tmp_path / "run"),
               "WEBTIER_COMPLETE_WAIT": "10"}
        Double.healthy, Double.target = True, "Terminated"
        yield Root(tmp_path, env)


def completions(r: Root) -> list[str]:
    return [c for c in r.calls() if "complete-lifecycle-action" in c]


LAUNCH = ("--auto-scaling-group-name webapp-staging-fleet-x --lifecycle-hook-name webtier-launch "
          "--instance-id i-0abc")


def test_hook_script_real_launch_with_release_and_health_continues(root: Root) -> None:
    (root.path / "app/current").mkdir()
    done = root.run("launch")
    assert done.returncode == 0, done.stderr
    assert completions(root) == [
        f"aws --region ap-northeast-1 autoscaling complete-lifecycle-action {LAUNCH} "
        "--lifecycle-action-result CONTINUE"]


def test_hook_script_real_launch_never_healthy_abandons_at_the_deadline(root: Root) -> None:
    (root.path / "app/current").mkdir()
    Double.healthy = False
    done = root.run("launch")
    assert done.returncode == 3, done.stderr
    assert "never answered 2xx" in done.stderr
    assert [c.split()[-1] for c in completions(root)] == ["ABANDON"]
    assert any("record-lifecycle-action-heartbeat" in c for c in root.calls())


def test_hook_script_real_launch_without_a_release_times_out_and_abandons(root: Root) -> None:
    done = root.run("launch")
    assert done.returncode == 3
    assert "no release in place" in done.stderr
    assert [c.split()[-1] for c in completions(root)] == ["ABANDON"]


def test_hook_script_real_terminate_leaves_consul_then_continues_without_draining_again(
        root: Root) -> None:
    # The group deregistered and drained the instance before Terminating:Wait (AWS docs).
    done = root.run("watch")
    assert done.returncode == 0, done.stderr
    calls = [c for c in root.calls() if "describe-instances" not in c]
    assert not any("deregister-targets" in c for c in calls)
    assert [c.split()[0] if c.startswith("consul") else c.split()[4] for c in calls] == [
        "consul", "complete-lifecycle-action"]
    assert calls[1].endswith("--lifecycle-hook-name webtier-terminate --instance-id i-0abc "
                             "--lifecycle-action-result CONTINUE")


def test_hook_script_real_retries_completion_while_no_action_is_active(root: Root) -> None:
    (root.path / "app/current").mkdir()
    done = subprocess.run([str(SCRIPT), "launch"], env={**root.env, "AWS_REFUSE_COMPLETIONS": "2"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert len(completions(root)) == 3
    assert done.stderr.count("AWS holds no action for i-0abc yet") == 2


def test_hook_script_real_gives_up_retrying_at_the_completion_wait(root: Root) -> None:
    (root.path / "app/current").mkdir()
    env = {**root.env, "AWS_REFUSE_COMPLETIONS": "99", "WEBTIER_COMPLETE_WAIT": "2"}
    done = subprocess.run([str(SCRIPT), "launch"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert "No active Lifecycle Action found" in done.stderr
    assert 1 < len(completions(root)) < 5


def test_hook_script_real_launch_marks_the_instance_in_service_for_this_boot(
        root: Root) -> None:
    (root.path / "app/current").mkdir()
    assert root.run("launch").returncode == 0
    assert (root.path / "run/in-service").exists()
    assert not (root.path / "state/warmed").exists()


def test_hook_script_real_launch_while_warming_leaves_consul_before_completing(
        root: Root) -> None:
    # Warmed for the pool, the instance is stopped once its action completes; a shutdown is not
    # a leave (config/consul-agent.hcl), so it leaves first or deploys would wait for it.
    (root.path / "app/current").mkdir()
    Double.target = "Warmed:Stopped"
    assert root.run("launch").returncode == 0
    calls = [c for c in root.calls() if "describe-instances" not in c]
    assert [c.split()[0] if c.startswith("consul") else c.split()[4] for c in calls] == [
        "consul", "complete-lifecycle-action"]
    assert (root.path / "state/warmed").exists()
    assert not (root.path / "run/in-service").exists()


def watch_until_completed(root: Root, hook: str) -> list[str]:
    """`watch` runs for good: stopped once it has completed ``hook``; the calls it made."""
    env = {**root.env, "WEBTIER_SERVICE_CONFIG": str(root.path / "consul.d/app-service.hcl"),
           "WEBTIER_NODE_ENV": str(root.path / "no-node.env")}
    proc = subprocess.Popen([str(SCRIPT), "watch"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(f"--lifecycle-hook-name {hook}" in c and "complete" in c
                      for c in root.calls()):
            assert time.monotonic() < deadline, root.calls()
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return [c for c in root.calls() if "describe-instances" not in c]


def test_hook_script_real_out_of_the_pool_registers_the_parked_service(root: Root) -> None:
    # Boot parked the service file while the instance was warmed (components/fleet/user_data.py).
    (root.path / "app/current").mkdir()
    (root.path / "state").mkdir()
    (root.path / "state/warmed").touch()
    (root.path / "consul.d").mkdir()
    (root.path / "consul.d/app-service.hcl.pooled").write_text("service {}\n")
    Double.target = "InService"
    calls = watch_until_completed(root, "webtier-launch")
    assert (root.path / "consul.d/app-service.hcl").read_text() == "service {}\n"
    assert not (root.path / "consul.d/app-service.hcl.pooled").exists()
    assert [c.split()[0] if c.startswith("consul") else c.split()[4] for c in calls] == [
        "consul", "complete-lifecycle-action"]
    assert calls[0] == "consul reload (token agent-token-7f3a)"


def test_hook_script_real_back_to_the_pool_parks_the_service(root: Root) -> None:
    (root.path / "run").mkdir()
    (root.path / "run/in-service").touch()
    (root.path / "consul.d").mkdir()
    (root.path / "consul.d/app-service.hcl").write_text("service {}\n")
    Double.target = "Warmed:Pending:Wait"
    calls = watch_until_completed(root, "webtier-terminate")
    assert not (root.path / "consul.d/app-service.hcl").exists()
    assert (root.path / "consul.d/app-service.hcl.pooled").read_text() == "service {}\n"
    assert calls[0] == "consul leave (token agent-token-7f3a)"


def test_hook_script_real_leaves_consul_with_the_agent_token_from_node_token_env(
        root: Root) -> None:
    # `consul leave` needs `agent "<node>" write`; without a token it would send the agent's
    # default (anonymous) token and get 403 (consul_tokens/model.py).
    env = {k: v for k, v in root.env.items() if k != "CONSUL_HTTP_TOKEN"}
    done = subprocess.run([str(SCRIPT), "watch"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [c for c in root.calls() if c.startswith("consul")] == \
        ["consul leave (token agent-token-7f3a)"]


def test_hook_script_real_without_its_env_file_exits_2_naming_it(root: Root) -> None:
    (root.path / "lifecycle.env").unlink()
    done = root.run("launch")
    assert done.returncode == 2
    assert "lifecycle.env is missing" in done.stderr
    assert root.calls() == []
