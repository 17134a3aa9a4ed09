"""The instance scripts under hostile input and faults, run for real as processes.

release-pull, deploy-event-handler and release-switch run in a temp dir standing in for /opt/app
and /var/lib/webtier (the `node` fixture of test_instance_scripts); stretcher is the fake there,
Consul the HTTP double, S3 a moto server. A full disk is /dev/full behind the record's temp name.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.instance.node_sandbox import (
    APP,
    HANDLER,
    RELEASE_PULL,
    RELEASE_SWITCH,
    Node,
    write_node_env,
)
from tests.instance.test_instance_scripts import (
    Stack,
    stack,  # noqa: F401 - the fixture
)
from tests.real_consul import ConsulAgent

pytestmark = pytest.mark.integration
BUCKET = "rel-staging"


def manifest_url(release: str, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/releases/{APP}/{release}/manifest.yml"


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def event(payload: str, **fields: object) -> dict[str, object]:
    return {"ID": str(uuid.uuid4()), "Name": "deploy", "Version": 1,
            "Payload": base64.b64encode(payload.encode()).decode(), **fields}


# --- bad input: one line, a documented exit code ----------------------------------------------


def test_release_pull_real_script_names_an_unclosed_quote_in_node_env(node: Node) -> None:
    (node.tmp / "node.env").write_text(f"APP_NAME={APP}\nKV_PREFIX='webapp/staging\n")
    assert_one_line(node.run(RELEASE_PULL), 2, "node.env line 2", "KV_PREFIX", "quotation")


def test_release_pull_real_script_names_a_node_env_that_is_not_utf8(node: Node) -> None:
    (node.tmp / "node.env").write_bytes(b"APP_NAME=\xff\xfe\n")
    assert_one_line(node.run(RELEASE_PULL), 2, "node.env", "not UTF-8")


@pytest.mark.parametrize("name", ["WEBTIER_DEPLOY_TIMEOUT", "WEBTIER_PULL_WAIT"])
@pytest.mark.parametrize("value", ["abc", "-5", "nan", "inf"])
def test_release_pull_real_script_names_a_bad_duration(node: Node, name: str,
                                                       value: str) -> None:
    write_node_env(node, BUCKET)
    args = ["--manifest", manifest_url("r1")] if name == "WEBTIER_DEPLOY_TIMEOUT" else []
    result = node.run(RELEASE_PULL, *args, extra={name: value})
    assert_one_line(result, 2, f"{name}={value!r}")
    assert node.stretcher_calls() == []


@pytest.mark.parametrize("pointer", [
    b"s3://rel-staging/releases/webapp/r1\n/manifest.yml",
    b"s3://rel-staging/releases/webapp/r1\r/manifest.yml",
    b"s3://rel-staging/releases/webapp/r1\t/manifest.yml",
    b"s3://rel-staging/releases/webapp/r\x001/manifest.yml",
    b"s3://rel-staging/releases/webapp/\xff\xfe/manifest.yml",
])
def test_release_pull_real_script_refuses_a_pointer_with_control_bytes_or_not_utf8(
        node: Node, pointer: bytes, consul_agent: ConsulAgent) -> None:
    # On a real Consul 1.14.11 agent, the pointer read with a token for the stack's prefix.
    consul_agent.wipe(f"{APP}/staging")
    consul_agent.api("PUT", f"/v1/kv/{APP}/staging/deploy/{APP}/current", data=pointer)
    token = consul_agent.make_token(f'key_prefix "{APP}/staging/" {{ policy = "read" }}')
    write_node_env(node, BUCKET, consul_agent.address)
    try:
        result = node.run(RELEASE_PULL, extra={"CONSUL_HTTP_TOKEN": token})
    finally:
        consul_agent.wipe(f"{APP}/staging")
    assert_one_line(result, 2)
    assert "control character" in result.stderr or "not UTF-8" in result.stderr
    assert node.stretcher_calls() == []


def test_release_switch_real_script_refuses_a_release_id_with_a_trailing_newline(
        node: Node) -> None:
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    result = node.run(RELEASE_SWITCH, "activate", "r1\n")
    assert result.returncode != 0
    assert "not valid" in result.stderr
    assert node.restarts() == ["releases/r1"]


@pytest.mark.parametrize("ltime", ["abc", {}, None, -3, True, 2.5, "MISSING"])
def test_handler_real_script_refuses_an_event_without_a_whole_number_ltime(
        node: Node, ltime: object) -> None:
    # On main such an event counted as LTime 0, passed the ordering check and was deployed
    # (or crashed the handler), so a late event could put an old release back.
    write_node_env(node, BUCKET)
    fields = {} if ltime == "MISSING" else {"LTime": ltime}
    result = node.run(HANDLER, stdin=json.dumps([event(manifest_url("r-old"), **fields)]),
                      extra={"CONSUL_INDEX": "42"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "no valid LTime" in result.stderr
    assert node.stretcher_calls() == []
    # Recorded as handled: a replay is not looked at again.
    again = node.run(HANDLER, stdin=json.dumps([]), extra={"CONSUL_INDEX": "42"})
    assert again.returncode == 0


def test_handler_real_script_orders_valid_events_and_ignores_an_unordered_one(
        node: Node) -> None:
    write_node_env(node, BUCKET)
    events = [event(manifest_url("r-new"), LTime=9), event(manifest_url("r-old"), LTime="abc")]
    result = node.run(HANDLER, stdin=json.dumps(events), extra={"CONSUL_INDEX": "42"})
    assert node.stretcher_calls() == [manifest_url("r-new")], result.stderr


def test_handler_real_script_names_stdin_that_is_not_utf8(node: Node) -> None:
    result = subprocess.run([sys.executable, str(HANDLER)], input=b"[\xff]",
                            capture_output=True, env=node.env, timeout=60)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("script", [RELEASE_PULL, HANDLER])
def test_instance_script_real_process_interrupted_exits_130_without_a_traceback(
        node: Node, script: Path) -> None:
    # release-pull waits for an agent that never answers; the handler for its stdin.
    silent = __import__("socket").create_server(("127.0.0.1", 0))
    write_node_env(node, BUCKET, f"http://127.0.0.1:{silent.getsockname()[1]}")
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**node.env, "WEBTIER_PULL_WAIT": "60"})
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    silent.close()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr


# --- a full disk while recording the deploy -----------------------------------------------------


def test_release_pull_real_script_fake_stretcher_moto_full_disk_keeps_deploy_and_record(
        stack: Stack) -> None:  # noqa: F811
    first = stack.push("one")
    assert stack.node.run(RELEASE_PULL).returncode == 0
    record = stack.node.state / "deployed.json"
    second = stack.push("two")
    temp = stack.node.state / ".deployed.json.tmp"
    temp.symlink_to("/dev/full")  # every write there fails with ENOSPC
    result = stack.node.run(RELEASE_PULL)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "could not be written" in result.stderr
    # The deploy is kept; the old record is whole (never half-written) and the temp is gone.
    assert stack.node.current_release() == second
    assert json.loads(record.read_text())["release"] == first
    assert not temp.is_symlink()
    # Once there is room again, the next pull records it (one more stretcher run, then none).
    assert stack.node.run(RELEASE_PULL).returncode == 0
    assert json.loads(record.read_text())["release"] == second
    assert stack.node.run(RELEASE_PULL).returncode == 0
    assert len(stack.node.stretcher_calls()) == 3
