"""The instance-side deploy scripts (release-switch, release-pull, deploy-event-handler), run for
real as processes in a temp dir that stands in for /opt/app and /var/lib/webtier.

stretcher is the real one (v1.1.0, built by scripts/go-tools into .tools/bin): it reads the
manifest URL, fetches the manifest and the archive from the moto S3 server (the AWS SDK inside it
reads AWS_ENDPOINT_URL_S3), verifies the checksum, unpacks with tar, syncs with rsync and runs the
release-switch commands. A two-line wrapper on PATH only records each URL it is handed (`tee`)
and execs it. Consul is a real Consul 1.14.11 server (tests/real_consul.py, ACLs default-deny):
the deploy tool moves its pointer and fires its `deploy` events, which the handler is handed as
`consul watch` hands them (the events the agent lists).

Stand-ins, named where used: the app restart is a small script whose outcome the test chooses;
`systemctl`, `ln` and `mv` shims on PATH make the switch see a unit, fail or die between steps.
"""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from contracts.release_layout import deploy_event
from tests.instance.node_sandbox import (
    APP,
    HANDLER,
    RELEASE_PULL,
    Node,
    write_node_env,
)
from tests.real_consul import ConsulAgent

EVENT = deploy_event(APP, "staging")


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
    assert [e["ID"] for e in handler.parse_events(json.dumps(events), "deploy")] == ["a"]
    assert handler.parse_events("null", "deploy") == []


# --- a node in a temp dir ---------------------------------------------------------------------








# --- with S3 (moto) and a real Consul 1.14.11 agent: releases published by the real deploy tool --


@dataclass(frozen=True)
class Event:
    ltime: int
    body: dict[str, Any]


@dataclass
class AgentEvents:
    """The real agent (tests/real_consul.py) and the `deploy` events fired since a test began."""

    agent: ConsulAgent
    token: str
    before: frozenset[str]

    @property
    def address(self) -> str:
        return self.agent.address

    @property
    def events(self) -> list[Event]:
        listed = self.agent.api("GET", "/v1/event/list", params={"name": EVENT}).json()
        return [Event(int(e["LTime"]), e) for e in listed if e["ID"] not in self.before]


@pytest.fixture
def stack(moto_server: str, node: Node, consul_agent: ConsulAgent) -> Iterator[Stack]:
    import boto3

    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    consul_agent.wipe(f"{APP}/staging")
    # One token for the deploy tool and the node here; which actor may do what is
    # tests/consul_tokens' matrix. The node reads it from consul-template.env, as it does at boot.
    token = consul_agent.make_token(f'key_prefix "{APP}/staging/" {{ policy = "write" }}\n'
                                    f'event "{EVENT}" {{ policy = "write" }}')
    (node.tmp / "consul-template.env").write_text(f"CONSUL_HTTP_TOKEN={token}\n")
    seen = frozenset(e["ID"] for e in consul_agent.api("GET", "/v1/event/list").json())
    write_node_env(node, bucket, consul_agent.address, EVENT)
    node.env.update(AWS_ENDPOINT_URL_S3=moto_server, AWS_ACCESS_KEY_ID="testing",
                    AWS_SECRET_ACCESS_KEY="testing")
    try:
        yield Stack(node, s3, bucket, AgentEvents(consul_agent, token, seen), moto_server)
    finally:
        consul_agent.wipe(f"{APP}/staging")


@dataclass
class Stack:
    node: Node
    s3: Any
    bucket: str
    consul: AgentEvents
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
                        consul_addr=self.consul.address, consul_token=self.consul.token,
                        consul_ca=None, app_root=str(self.node.root))
        pointers = PointerStore(connect(self.consul.address, self.consul.token),
                                target.kv_prefix, APP, "staging")
        with open(os.devnull, "w") as quiet:
            return push(target, release, s3=self.s3, pointers=pointers, err=quiet).release.release

    def rollback(self) -> str:
        from deploy.pointer import PointerStore, connect
        from deploy.rollback import rollback
        from deploy.target import Target

        target = Target(stack="staging", app=APP, bucket=self.bucket, kv_prefix=f"{APP}/staging",
                        keep=3, region="us-east-1", s3_endpoint=self.endpoint,
                        consul_addr=self.consul.address, consul_token=self.consul.token,
                        consul_ca=None, app_root=str(self.node.root))
        pointers = PointerStore(connect(self.consul.address, self.consul.token),
                                target.kv_prefix, APP, "staging")
        return rollback(target, s3=self.s3, pointers=pointers)[0].release

    def events_json(self) -> str:
        """What the stack's deploy event watch hands its handler: every buffered event."""
        return json.dumps([e.body for e in self.consul.events])

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
def test_release_pull_real_script_exits_0_when_nothing_published(
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
        stack: Stack) -> None:
    # Default-deny ACLs: the pointer is readable only with the token consul-template.env holds.
    release = stack.push("one")
    env_file = stack.node.tmp / "consul-template.env"
    token_line = env_file.read_text()
    env_file.write_text("")
    denied = stack.node.run(RELEASE_PULL)
    assert denied.returncode != 0
    assert "403" in denied.stderr
    assert stack.consul.token not in denied.stderr
    env_file.write_text(token_line)
    assert stack.node.run(RELEASE_PULL).returncode == 0
    assert stack.node.current_release() == release


@pytest.mark.integration
def test_release_pull_real_script_reports_with_the_node_token_under_the_consul_node_name(
        stack: Stack) -> None:
    # The template token may only read (consul_tokens/model.py); the report is a write, sent
    # with the agent token boot puts in node-token.env, under the node name boot puts in node.env.
    agent = stack.consul.agent
    nodes = f"{APP}/staging/deploy/{APP}/nodes/"
    read_only = agent.make_token(f'key_prefix "{APP}/staging/" {{ policy = "read" }}')
    reporter = agent.make_token(f'key_prefix "{nodes}" {{ policy = "write" }}')
    (stack.node.tmp / "consul-template.env").write_text(f"CONSUL_HTTP_TOKEN={read_only}\n")
    (stack.node.tmp / "node-token.env").write_text(f"CONSUL_HTTP_TOKEN={reporter}\n")
    with (stack.node.tmp / "node.env").open("a") as env:
        env.write(f"NODES_PREFIX={nodes}\nCONSUL_NODE_NAME={APP}-staging-i-0abc\n")
    release = stack.push("one")
    done = stack.node.run(RELEASE_PULL)
    assert done.returncode == 0, done.stderr
    assert "could not report" not in done.stderr
    stored = agent.api("GET", f"/v1/kv/{nodes}{APP}-staging-i-0abc", params={"raw": ""})
    assert stored.status_code == 200, stored.text
    assert json.loads(stored.content)["release"] == release


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
    event = [{"ID": str(uuid.uuid4()), "Name": EVENT, "LTime": handled - 1, "Version": 1,
              "Payload": base64.b64encode(late.encode()).decode(),
              "NodeFilter": "", "ServiceFilter": "", "TagFilter": ""}]
    assert stack.handle(json.dumps(event)).returncode == 0
    assert stack.node.current_release() == newer
    assert len(stack.node.stretcher_calls()) == 1


@pytest.mark.integration
def test_handler_real_scripts_refuses_a_manifest_in_another_bucket(stack: Stack) -> None:
    foreign = f"s3://someone-elses-bucket/releases/{APP}/r1/manifest.yml"
    event = [{"ID": str(uuid.uuid4()), "Name": EVENT, "LTime": 7, "Version": 1,
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

