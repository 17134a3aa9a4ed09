"""The instance-side deploy scripts (release-switch, release-pull, deploy-event-handler), run for
real as processes in a temp dir that stands in for /opt/app and /var/lib/webtier.

stretcher is the real one (v1.1.0, built by scripts/go-tools into .tools/bin): it reads the
manifest URL, fetches the manifest and the archive from the moto S3 server (the AWS SDK inside it
reads AWS_ENDPOINT_URL_S3), verifies the checksum, unpacks with tar, syncs with rsync and runs the
release-switch commands. A two-line wrapper on PATH only records each URL it is handed (`tee`)
and execs it. Consul is the HTTP double (tests/consul_double.py): the real agent cannot be built.

Stand-ins, named where used: the app restart is a small script whose outcome the test chooses;
`systemctl`, `ln` and `mv` shims on PATH make the switch see a unit, fail or die between steps.
"""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.go_tools import tool

FILES = Path(__file__).resolve().parent.parent / "image/ansible/roles/stretcher/files"
RELEASE_SWITCH = FILES / "release-switch"
RELEASE_PULL = FILES / "release-pull"
HANDLER = FILES / "deploy-event-handler"
APP = "webapp"


def load_script(path: Path) -> ModuleType:
    """Import an extensionless script as a module, to unit-test its pure functions."""
    loader = importlib.machinery.SourceFileLoader(path.name.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# --- pure functions, imported ----------------------------------------------------------------

pull = load_script(RELEASE_PULL)
handler = load_script(HANDLER)


def test_manifest_in_own_bucket_names_its_release_id() -> None:
    url = f"s3://rel-staging/releases/{APP}/20250101T000000Z-abc123/manifest.yml"
    assert pull.release_id_of(url, "rel-staging", APP) == "20250101T000000Z-abc123"


@pytest.mark.parametrize("url", [
    f"s3://rel-production/releases/{APP}/r1/manifest.yml",          # another stack's bucket
    f"s3://rel-staging.evil.example/releases/{APP}/r1/manifest.yml",
    f"https://rel-staging/releases/{APP}/r1/manifest.yml",
    f"file:///releases/{APP}/r1/manifest.yml",
    "s3://rel-staging/releases/otherapp/r1/manifest.yml",            # another app
    f"s3://rel-staging/releases/{APP}/r1/evil.yml",
    f"s3://rel-staging/releases/{APP}/../r1/manifest.yml",
    f"s3://rel-staging/releases/{APP}/r1/manifest.yml?versionId=1",
    f"s3://rel-staging/releases/{APP}/r1;reboot/manifest.yml",
])
def test_manifest_outside_own_bucket_and_layout_is_refused(url: str) -> None:
    with pytest.raises(pull.Refused):
        pull.release_id_of(url, "rel-staging", APP)


def test_node_env_values_are_unquoted_as_the_shell_would(tmp_path: Path) -> None:
    env = tmp_path / "node.env"
    env.write_text("APP_NAME=webapp\nKV_PREFIX='webapp/staging'\n# comment\nEMPTY=\n")
    assert pull.read_env_file(env) == {"APP_NAME": "webapp", "KV_PREFIX": "webapp/staging",
                                       "EMPTY": ""}


@pytest.mark.parametrize("key", ["deploy/webapp/current", "webapp/staging/deploy/webapp/current"])
def test_pointer_key_lies_under_the_stack_prefix_whichever_form_node_env_holds(key: str) -> None:
    node = {"KV_PREFIX": "webapp/staging", "DEPLOY_POINTER_KEY": key}
    assert pull.pointer_key(node) == "webapp/staging/deploy/webapp/current"


def test_event_parsing_keeps_only_deploy_events_and_accepts_null() -> None:
    events = [{"ID": "a", "Name": "deploy"}, {"ID": "b", "Name": "other"}, {"Name": "deploy"}]
    assert [e["ID"] for e in handler.parse_events(json.dumps(events))] == ["a"]
    assert handler.parse_events("null") == []


# --- a node in a temp dir ---------------------------------------------------------------------


@dataclass
class Node:
    """The instance's paths, in a temp dir, and the environment the scripts run with."""

    tmp: Path
    root: Path
    state: Path
    bin: Path
    env: dict[str, str]

    @property
    def current(self) -> Path:
        return self.root / "current"

    def current_release(self) -> str | None:
        try:
            target = self.root / os.readlink(self.current)
        except OSError:
            return None
        return target.name if target.is_dir() else f"DANGLING:{target}"

    def run(self, script: Path, *args: str, stdin: str = "",
            extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), *args], input=stdin, text=True,
                              capture_output=True, env={**self.env, **(extra or {})}, timeout=120)

    def make_release(self, release_id: str, content: str = "v") -> Path:
        path = self.root / "releases" / release_id
        path.mkdir(parents=True)
        (path / "app.txt").write_text(content)
        return path

    def stretcher_calls(self) -> list[str]:
        calls = self.tmp / "stretcher-calls"
        return calls.read_text().splitlines() if calls.exists() else []

    def restarts(self) -> list[str]:
        log = self.tmp / "restarts"
        return log.read_text().splitlines() if log.exists() else []

    def fail_restarts(self) -> None:
        (self.tmp / "restart-fails").touch()

    def shim(self, name: str, body: str) -> None:
        """Put a command on PATH ahead of the real one."""
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)


@pytest.fixture
def node(tmp_path: Path) -> Node:
    root, state, bin_dir = tmp_path / "opt-app", tmp_path / "state", tmp_path / "bin"
    for d in (root, state, bin_dir):
        d.mkdir()
    if shutil.which("rsync") is None:
        pytest.fail("rsync is missing: stretcher syncs every release with it "
                    "(`apt-get install rsync`; the image's base role installs it)")
    # Records the manifest URL stretcher is handed on stdin, then runs the real one on it.
    stretcher = bin_dir / "stretcher"
    stretcher.write_text(f'#!/bin/sh\ntee -a "{tmp_path}/stretcher-calls" | '
                         f'exec {tool("stretcher")} "$@"\n')
    stretcher.chmod(0o755)
    restart = tmp_path / "restart-app"
    # Records which release `current` names at restart time; fails when told to.
    restart.write_text(f"#!/bin/sh\nreadlink {root}/current >> {tmp_path}/restarts\n"
                       f"[ ! -e {tmp_path}/restart-fails ]\n")
    restart.chmod(0o755)
    node_env = tmp_path / "node.env"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "WEBTIER_ROOT": str(root),
        "WEBTIER_STATE_DIR": str(state),
        "WEBTIER_NODE_ENV": str(node_env),
        "WEBTIER_CONSUL_ENV": str(tmp_path / "consul-template.env"),
        "WEBTIER_NODE_TOKEN_ENV": str(tmp_path / "node-token.env"),
        "WEBTIER_RESTART_CMD": str(restart),
        "WEBTIER_PULL_WAIT": "3",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        if key in os.environ:
            env[key] = os.environ[key]
    return Node(tmp_path, root, state, bin_dir, env)


def write_node_env(node: Node, bucket: str, consul: str = "http://127.0.0.1:9") -> None:
    (node.tmp / "node.env").write_text(
        f"WEBTIER_ENV=staging\nAPP_NAME={APP}\nAWS_REGION=us-east-1\nKV_PREFIX={APP}/staging\n"
        f"RELEASE_BUCKET={bucket}\nDEPLOY_POINTER_KEY={APP}/staging/deploy/{APP}/current\n")
    node.env["CONSUL_HTTP_ADDR"] = consul


# --- release-switch ----------------------------------------------------------------------------

@pytest.mark.integration
def test_switch_real_script_activate_points_current_at_release_and_restarts(node: Node) -> None:
    node.make_release("r1")
    result = node.run(RELEASE_SWITCH, "activate", "r1")
    assert result.returncode == 0, result.stderr
    assert node.current_release() == "r1"
    assert node.restarts() == ["releases/r1"]


@pytest.mark.integration
def test_switch_real_script_with_fake_systemctl_starts_an_enabled_but_stopped_app(
        node: Node) -> None:
    # An instance that booted before any release existed has app.service enabled but stopped:
    # the first deploy must start it (`restart`), which `try-restart` would not.
    del node.env["WEBTIER_RESTART_CMD"]
    node.shim("systemctl", f'echo "$@" >> {node.tmp}/systemctl\n'
                           '[ "$1" != is-enabled ] || exit 0')
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    calls = (node.tmp / "systemctl").read_text().splitlines()
    assert calls == ["is-enabled --quiet app.service", "restart app.service"]


@pytest.mark.integration
def test_switch_real_script_with_fake_systemctl_leaves_a_booting_app_unstarted(
        node: Node) -> None:
    # At boot the unit is not enabled yet: the pull must not start the app before its config.
    del node.env["WEBTIER_RESTART_CMD"]
    node.shim("systemctl", f'echo "$@" >> {node.tmp}/systemctl\n'
                           '[ "$1" != is-enabled ] || exit 1')
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    assert node.current_release() == "r1"
    assert (node.tmp / "systemctl").read_text().splitlines() == \
        ["is-enabled --quiet app.service"]


@pytest.mark.integration
def test_switch_real_script_failing_restart_puts_old_current_back(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.fail_restarts()
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode != 0
    assert node.current_release() == "r1"


@pytest.mark.integration
def test_switch_real_script_failing_restart_with_no_previous_leaves_no_current(node: Node) -> None:
    node.make_release("r1")
    node.fail_restarts()
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode != 0
    assert not node.current.is_symlink()


@pytest.mark.integration
def test_switch_real_script_failing_mv_leaves_old_current_and_no_temp_link(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("mv", "exit 1")
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode != 0
    assert node.current_release() == "r1"
    assert list(node.root.glob(".current.tmp-*")) == []


@pytest.mark.integration
def test_switch_real_script_killed_between_ln_and_mv_leaves_old_current(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("mv", "kill -9 $PPID; sleep 5")
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode == -9
    assert node.current_release() == "r1"
    # The killed switch left its temp link; the next deploy's first step removes it.
    assert list(node.root.glob(".current.tmp-*")) != []
    assert node.run(RELEASE_SWITCH, "prepare", "r3").returncode == 0
    assert list(node.root.glob(".current.tmp-*")) == []


@pytest.mark.integration
def test_switch_real_script_killed_after_mv_leaves_current_on_a_complete_release(
        node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("restart-and-die", "kill -9 $PPID; sleep 5")
    result = node.run(RELEASE_SWITCH, "activate", "r2",
                      extra={"WEBTIER_RESTART_CMD": str(node.bin / "restart-and-die")})
    assert result.returncode == -9
    assert node.current_release() == "r2"


@pytest.mark.integration
def test_switch_real_script_refuses_a_missing_release_and_keeps_current(node: Node) -> None:
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    assert node.run(RELEASE_SWITCH, "activate", "r9").returncode != 0
    assert node.current_release() == "r1"


@pytest.mark.integration
def test_prune_real_script_keeps_the_newest_and_always_the_current(node: Node) -> None:
    for i, name in enumerate(["r1", "r2", "r3", "r4"]):
        os.utime(node.make_release(name), (1_000_000 + i, 1_000_000 + i))
    # r1 is the oldest but current (a rollback): it stays, with the newest other one.
    os.symlink("releases/r1", node.current)
    assert node.run(RELEASE_SWITCH, "prune", "--keep", "2").returncode == 0
    assert sorted(p.name for p in (node.root / "releases").iterdir()) == ["r1", "r4"]


@pytest.mark.integration
def test_abandon_real_script_never_deletes_the_current_release(node: Node) -> None:
    node.make_release("r1")
    os.symlink("releases/r1", node.current)
    assert node.run(RELEASE_SWITCH, "abandon", "r1").returncode == 0
    assert node.current_release() == "r1"


# --- with S3 (moto) and Consul (double): releases published by the real deploy tool -------------


@pytest.fixture
def stack(moto_server: str, node: Node) -> Iterator[Stack]:
    import boto3

    from tests.consul_double import ConsulDouble

    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with ConsulDouble() as consul:
        write_node_env(node, bucket, consul.address)
        node.env.update(AWS_ENDPOINT_URL_S3=moto_server, AWS_ACCESS_KEY_ID="testing",
                        AWS_SECRET_ACCESS_KEY="testing")
        yield Stack(node, s3, bucket, consul, moto_server)


@dataclass
class Stack:
    node: Node
    s3: Any
    bucket: str
    consul: Any
    endpoint: str

    def push(self, content: str) -> str:
        """Publish a release with the real deploy tool; returns its release id."""
        from deploy.pointer import PointerStore, connect
        from deploy.publish import push
        from deploy.target import Target

        release = self.node.tmp / f"build-{uuid.uuid4().hex[:6]}"
        release.mkdir()
        (release / "app.txt").write_text(content)
        target = Target(stack="staging", app=APP, bucket=self.bucket, kv_prefix=f"{APP}/staging",
                        keep=3, region="us-east-1", s3_endpoint=self.endpoint,
                        consul_addr=self.consul.address, consul_token=None, consul_ca=None,
                        app_root=str(self.node.root))
        pointers = PointerStore(connect(self.consul.address, None), target.kv_prefix, APP)
        with open(os.devnull, "w") as quiet:
            return push(target, release, s3=self.s3, pointers=pointers, err=quiet).release.release

    def rollback(self) -> str:
        from deploy.pointer import PointerStore, connect
        from deploy.rollback import rollback
        from deploy.target import Target

        target = Target(stack="staging", app=APP, bucket=self.bucket, kv_prefix=f"{APP}/staging",
                        keep=3, region="us-east-1", s3_endpoint=self.endpoint,
                        consul_addr=self.consul.address, consul_token=None, consul_ca=None,
                        app_root=str(self.node.root))
        pointers = PointerStore(connect(self.consul.address, None), target.kv_prefix, APP)
        return rollback(target, s3=self.s3, pointers=pointers)[0].release

    def events_json(self) -> str:
        """What `consul watch -type event -name deploy` hands its handler: every buffered event."""
        return json.dumps([e.as_json() for e in self.consul.events if e.name == "deploy"])

    def app_text(self) -> str:
        return (self.node.current / "app.txt").read_text()

    def handle(self, events: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.node.run(HANDLER, stdin=self.events_json() if events is None else events,
                             extra={"CONSUL_INDEX": "42"})


@pytest.mark.integration
def test_release_pull_real_script_real_stretcher_moto_deploys_the_pointer_release_at_boot(
        stack: Stack) -> None:
    release = stack.push("one")
    result = stack.node.run(RELEASE_PULL)
    assert result.returncode == 0, result.stderr
    assert stack.node.current_release() == release
    assert stack.app_text() == "one"


@pytest.mark.integration
def test_release_pull_real_script_against_consul_double_exits_0_when_nothing_published(
        stack: Stack) -> None:
    result = stack.node.run(RELEASE_PULL)
    assert result.returncode == 0, result.stderr
    assert "no release published yet" in result.stderr
    assert stack.node.stretcher_calls() == []


@pytest.mark.integration
def test_release_pull_real_script_real_stretcher_moto_does_not_redeploy_the_current_release(
        stack: Stack) -> None:
    stack.push("one")
    assert stack.node.run(RELEASE_PULL).returncode == 0
    assert stack.node.run(RELEASE_PULL).returncode == 0
    assert len(stack.node.stretcher_calls()) == 1


@pytest.mark.integration
def test_release_pull_real_script_reads_the_pointer_with_the_consul_template_token(
        node: Node, moto_server: str) -> None:
    from tests.consul_double import ConsulDouble

    with ConsulDouble(token="s3cret") as consul:
        write_node_env(node, "rel-x", consul.address)
        (node.tmp / "consul-template.env").write_text("CONSUL_HTTP_TOKEN=s3cret\n")
        result = node.run(RELEASE_PULL)
        assert result.returncode == 0, result.stderr
        kv_reads = [r for r in consul.recorded if r.path.startswith("/v1/kv/")]
        assert kv_reads
        assert {r.headers.get("x-consul-token") for r in kv_reads} == {"s3cret"}


@pytest.mark.integration
def test_release_pull_real_script_reports_with_the_node_token_under_the_consul_node_name(
        stack: Stack) -> None:
    # The template token may only read (consul_tokens/model.py); the report is a write, sent
    # with the agent token boot puts in node-token.env, under the node name boot puts in node.env.
    (stack.node.tmp / "consul-template.env").write_text("CONSUL_HTTP_TOKEN=template-tok\n")
    (stack.node.tmp / "node-token.env").write_text("CONSUL_HTTP_TOKEN=agent-tok\n")
    with (stack.node.tmp / "node.env").open("a") as env:
        env.write(f"NODES_PREFIX={APP}/staging/deploy/{APP}/nodes/\n"
                  f"CONSUL_NODE_NAME={APP}-staging-i-0abc\n")
    release = stack.push("one")
    before = len(stack.consul.recorded)
    assert stack.node.run(RELEASE_PULL).returncode == 0
    kv = [r for r in stack.consul.recorded[before:] if r.path.startswith("/v1/kv/")]
    reads = {r.headers.get("x-consul-token") for r in kv if r.method == "GET"}
    writes = [(r.path.split("?")[0], r.headers.get("x-consul-token"))
              for r in kv if r.method == "PUT"]
    assert reads == {"template-tok"}
    assert writes[-1] == (f"/v1/kv/{APP}/staging/deploy/{APP}/nodes/{APP}-staging-i-0abc",
                          "agent-tok"), release


@pytest.mark.integration
def test_release_pull_real_script_real_stretcher_moto_failing_restart_keeps_old_release(
        stack: Stack) -> None:
    first = stack.push("one")
    assert stack.node.run(RELEASE_PULL).returncode == 0
    stack.push("two")
    stack.node.fail_restarts()
    result = stack.node.run(RELEASE_PULL)
    assert result.returncode == 1
    assert stack.node.current_release() == first
    assert stack.app_text() == "one"


@pytest.mark.integration
def test_handler_real_scripts_real_stretcher_moto_deploys_the_same_event_only_once(
        stack: Stack) -> None:
    release = stack.push("one")
    first, second = stack.handle(), stack.handle()
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert stack.node.current_release() == release
    assert len(stack.node.stretcher_calls()) == 1


@pytest.mark.integration
def test_handler_real_scripts_real_stretcher_moto_replay_deploys_only_the_new_event(
        stack: Stack) -> None:
    stack.push("one")
    assert stack.handle().returncode == 0
    release = stack.push("two")
    # The agent hands over both events again, the old one and the new one.
    result = stack.handle()
    assert result.returncode == 0, result.stderr
    assert stack.node.current_release() == release
    assert stack.app_text() == "two"
    assert len(stack.node.stretcher_calls()) == 2


@pytest.mark.integration
def test_handler_real_scripts_deploys_only_the_newest_of_several_new_events(
        stack: Stack) -> None:
    stack.push("one")
    release = stack.push("two")
    result = stack.handle()
    assert result.returncode == 0, result.stderr
    assert stack.node.current_release() == release
    assert len(stack.node.stretcher_calls()) == 1


@pytest.mark.integration
def test_handler_real_scripts_real_stretcher_moto_replay_of_a_failed_event_is_not_retried(
        stack: Stack) -> None:
    first = stack.push("one")
    assert stack.handle().returncode == 0
    stack.push("two")
    stack.node.fail_restarts()
    assert stack.handle().returncode == 1
    (stack.node.tmp / "restart-fails").unlink()
    # An agent reload hands the same events over again: the failed one is not tried again.
    assert stack.handle().returncode == 0
    assert stack.node.current_release() == first
    assert len(stack.node.stretcher_calls()) == 2


@pytest.mark.integration
def test_handler_real_scripts_new_event_older_than_a_handled_one_is_not_deployed(
        stack: Stack) -> None:
    old = stack.push("one")
    newer = stack.push("two")
    assert stack.handle().returncode == 0
    handled = max(e.ltime for e in stack.consul.events)
    late = f"s3://{stack.bucket}/releases/{APP}/{old}/manifest.yml"
    event = [{"ID": str(uuid.uuid4()), "Name": "deploy", "LTime": handled - 1, "Version": 1,
              "Payload": base64.b64encode(late.encode()).decode(),
              "NodeFilter": "", "ServiceFilter": "", "TagFilter": ""}]
    assert stack.handle(json.dumps(event)).returncode == 0
    assert stack.node.current_release() == newer
    assert len(stack.node.stretcher_calls()) == 1


@pytest.mark.integration
def test_handler_real_scripts_refuses_a_manifest_in_another_bucket(stack: Stack) -> None:
    foreign = f"s3://someone-elses-bucket/releases/{APP}/r1/manifest.yml"
    event = [{"ID": str(uuid.uuid4()), "Name": "deploy", "LTime": 7, "Version": 1,
              "Payload": base64.b64encode(foreign.encode()).decode(),
              "NodeFilter": "", "ServiceFilter": "", "TagFilter": ""}]
    result = stack.handle(json.dumps(event))
    assert result.returncode == 2
    assert "not in this stack's bucket" in result.stderr
    assert stack.node.stretcher_calls() == []


@pytest.mark.integration
def test_handler_real_scripts_real_stretcher_moto_rollback_event_restores_previous_release(
        stack: Stack) -> None:
    first = stack.push("one")
    assert stack.handle().returncode == 0
    stack.push("two")
    assert stack.handle().returncode == 0
    assert stack.rollback() == first
    result = stack.handle()
    assert result.returncode == 0, result.stderr
    assert stack.node.current_release() == first
    assert stack.app_text() == "one"


@pytest.mark.integration
def test_handler_real_scripts_skip_an_event_for_the_release_pulled_at_boot(stack: Stack) -> None:
    stack.push("one")
    assert stack.node.run(RELEASE_PULL).returncode == 0
    # The watch starts after the boot pull and is handed the event of that same release.
    assert stack.handle().returncode == 0
    assert len(stack.node.stretcher_calls()) == 1

