"""`python -m deploy` against S3 and Consul (the offline parts: test_release_artifacts.py).

Integration tests run the deploy against a real moto server (S3) and a real Consul 1.14.11 agent
(tests/real_consul.py; the Consul HTTP double where a test breaks Consul or reads the wire);
S3 faults are injected with botocore event hooks on the client the deploy uses, Consul faults
with the double's switches. Every failure before the pointer write must leave the pointer alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse

from contracts.release_layout import default_release_bucket, deploy_event
from deploy.cli import main
from deploy.errors import DeployError, EventError
from deploy.pointer import PointerConflict, PointerError, PointerStore
from deploy.publish import Pushed, push
from deploy.rollback import rollback
from deploy.s3 import UploadError
from deploy.target import Target
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]
APP = "webapp"
KV_PREFIX = f"{APP}/staging"
EVENT = deploy_event(APP, "staging")
CURRENT = f"{KV_PREFIX}/deploy/{APP}/current"
PREVIOUS = f"{KV_PREFIX}/deploy/{APP}/previous"


def make_release(path: Path, files: dict[str, bytes] | None = None) -> Path:
    files = files or {"app.py": b"print('hello')\n" * 100, "static/logo.bin": os.urandom(70_000)}
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


# --- against moto (S3) and the Consul double ------------------------------------------------------


@dataclass
class Env:
    s3: Any
    bucket: str
    consul: Any
    target: Target
    tmp: Path

    def pointers(self, token: str | None = None) -> PointerStore:
        from deploy.pointer import connect

        return PointerStore(connect(self.consul.address, token or self.target.consul_token),
                            KV_PREFIX, APP, "staging")

    def push(self, content: bytes = b"v1", **kwargs: Any) -> Pushed:
        release = make_release(self.tmp / f"rel-{uuid.uuid4().hex[:6]}", {"app.txt": content})
        kwargs.setdefault("pointers", self.pointers())
        kwargs.setdefault("err", io.StringIO())
        return push(self.target, release, s3=self.s3, **kwargs)

    def stored(self) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in answer.get("Contents", []))

    def pending_uploads(self) -> list[str]:
        return [u["Key"] for u in self.s3.list_multipart_uploads(Bucket=self.bucket)
                .get("Uploads", [])]


@dataclass(frozen=True)
class FiredEvent:
    name: str
    payload: bytes | None


@dataclass
class AgentView:
    """The real agent as these tests look at it: the deploy keys, and the events fired since the
    test started (as /v1/event/list shows them)."""

    agent: ConsulAgent
    token: str
    seen_before: frozenset[str]

    @property
    def address(self) -> str:
        return self.agent.address

    def value(self, key: str) -> str | None:
        answer = self.agent.api("GET", f"/v1/kv/{key}", params={"raw": ""})
        return None if answer.status_code == 404 else answer.text

    def put(self, key: str, value: str) -> None:
        assert self.agent.api("PUT", f"/v1/kv/{key}", data=value.encode()).json() is True

    @property
    def events(self) -> list[FiredEvent]:
        listed = self.agent.api("GET", "/v1/event/list", params={"name": EVENT}).json()
        return [FiredEvent(e["Name"], base64.b64decode(e["Payload"]) if e["Payload"] else None)
                for e in listed if e["ID"] not in self.seen_before]


def deploy_token(agent: ConsulAgent) -> str:
    """What a deploy needs here: the stack's deploy keys, the event, and the fleet's health."""
    return agent.make_token(f'key_prefix "{KV_PREFIX}/deploy/" {{ policy = "write" }}\n'
                            f'event "{EVENT}" {{ policy = "write" }}\n'
                            'node_prefix "" { policy = "read" }\n'
                            'service_prefix "" { policy = "read" }')


def _bucket(moto_server: str) -> tuple[Any, str]:
    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return s3, bucket


@pytest.fixture
def env(moto_server: str, tmp_path: Path, consul_agent: ConsulAgent) -> Iterator[Env]:
    """moto S3 and the real Consul 1.14.11 agent (default-deny ACLs, a deploy token)."""
    s3, bucket = _bucket(moto_server)
    consul_agent.wipe(KV_PREFIX)
    token = deploy_token(consul_agent)
    listed = consul_agent.api("GET", "/v1/event/list").json()
    view = AgentView(consul_agent, token, frozenset(e["ID"] for e in listed))
    target = Target(stack="staging", app=APP, bucket=bucket, kv_prefix=KV_PREFIX,
                    keep=5, region="us-east-1", s3_endpoint=moto_server,
                    consul_addr=consul_agent.address, consul_token=token, consul_ca=None)
    try:
        yield Env(s3, bucket, view, target, tmp_path)
    finally:
        consul_agent.wipe(KV_PREFIX)


@pytest.fixture
def double_env(moto_server: str, tmp_path: Path) -> Iterator[Env]:
    """moto S3 and the Consul double, for the tests that break Consul or read the wire."""
    from tests.consul_double import ConsulDouble

    s3, bucket = _bucket(moto_server)
    with ConsulDouble() as consul:
        target = Target(stack="staging", app=APP, bucket=bucket, kv_prefix=KV_PREFIX,
                        keep=5, region="us-east-1", s3_endpoint=moto_server,
                        consul_addr=consul.address, consul_token=None, consul_ca=None)
        yield Env(s3, bucket, consul, target, tmp_path)


def refuse(operation: str, code: str = "AccessDenied", status: int = 403) -> Any:
    """A before-send hook answering ``operation`` with an S3 error instead of sending it."""
    body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>injected fault</Message></Error>").encode()

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, Raw())
    return hook


@pytest.mark.integration
def test_push_against_moto_uploads_the_archive_the_manifest_names(env: Env) -> None:
    pushed = env.push(b"hello")
    manifest_key = pushed.release.manifest.split("/", 3)[3]
    m = yaml.safe_load(env.s3.get_object(Bucket=env.bucket, Key=manifest_key)["Body"].read())
    data = env.s3.get_object(Bucket=env.bucket, Key=m["src"].split("/", 3)[3])["Body"].read()
    assert hashlib.sha256(data).hexdigest() == m["checksum"] == pushed.sha256
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("app.txt").read() == b"hello"  # type: ignore[union-attr]


@pytest.mark.integration
def test_push_against_moto_and_consul_points_current_at_the_manifest(env: Env) -> None:
    pushed = env.push()
    assert env.consul.value(CURRENT) == pushed.release.manifest
    assert pushed.release.manifest == (f"s3://{env.bucket}/releases/{APP}/"
                                       f"{pushed.release.release}/manifest.yml")


@pytest.mark.integration
def test_second_push_keeps_the_first_as_previous(env: Env) -> None:
    first = env.push(b"one")
    second = env.push(b"two")
    assert env.consul.value(CURRENT) == second.release.manifest
    assert env.consul.value(PREVIOUS) == first.release.manifest


@pytest.mark.integration
def test_push_fires_the_deploy_event_carrying_the_manifest(env: Env) -> None:
    pushed = env.push()
    assert [(e.name, e.payload) for e in env.consul.events] == \
        [(EVENT, pushed.release.manifest.encode())]


@pytest.mark.integration
def test_push_against_consul_double_fires_the_deploy_event_after_the_pointer(
        double_env: Env) -> None:
    # The order of the writes on the wire: the double records every request.
    double_env.push()
    writes = [p for m, p in double_env.consul.requests if m == "PUT"]
    assert writes == ["/v1/txn", f"/v1/event/fire/{EVENT}"]


@pytest.mark.integration
def test_push_against_moto_shows_upload_progress(env: Env) -> None:
    err = io.StringIO()
    env.push(os.urandom(300_000), err=err)
    assert "uploading webapp" in err.getvalue()
    assert "(100%)" in err.getvalue()


@pytest.mark.integration
def test_push_against_consul_double_sends_the_acl_token_with_the_transaction(
        moto_server: str, double_env: Env) -> None:
    env = double_env
    from tests.consul_double import ConsulDouble

    with ConsulDouble(token="s3cret") as consul:
        env.consul = consul
        env.push(pointers=env.pointers(token="s3cret"))
        txn = [r for r in consul.recorded if r.path == "/v1/txn"]
        assert [r.headers.get("x-consul-token") for r in txn] == ["s3cret"]
        assert consul.value(CURRENT) is not None


@pytest.mark.integration
def test_push_with_an_s3_fault_on_upload_leaves_pointer_unchanged(env: Env) -> None:
    env.consul.put(CURRENT, "s3://old/releases/webapp/r0/manifest.yml")
    env.s3.meta.events.register("before-send.s3.UploadPart", refuse("UploadPart"))
    with pytest.raises(UploadError, match="AccessDenied"):
        env.push()
    assert env.consul.value(CURRENT) == "s3://old/releases/webapp/r0/manifest.yml"
    assert env.consul.events == []


@pytest.mark.integration
def test_push_with_an_s3_fault_on_upload_abandons_the_multipart_upload(env: Env) -> None:
    env.s3.meta.events.register("before-send.s3.UploadPart", refuse("UploadPart"))
    with pytest.raises(UploadError):
        env.push()
    assert env.pending_uploads() == []
    assert env.stored() == []


@pytest.mark.integration
def test_push_refuses_an_archive_corrupted_in_transit_and_leaves_pointer_unchanged(
        env: Env) -> None:
    def corrupt(request: Any, **_: Any) -> None:
        raw = request.body
        body = bytearray(raw if isinstance(raw, bytes) else raw.read())
        body[len(body) // 2] ^= 0xFF
        request.body = bytes(body)

    env.s3.meta.events.register("before-send.s3.UploadPart", corrupt)
    with pytest.raises(UploadError, match="checksum mismatch"):
        env.push(os.urandom(100_000))
    assert env.consul.value(CURRENT) is None
    assert not [k for k in env.stored() if k.endswith("manifest.yml")]


@pytest.mark.integration
def test_push_refuses_when_s3_reports_another_checksum_and_leaves_pointer_unchanged(
        env: Env) -> None:
    def wrong_checksum(parsed: dict[str, Any], **_: Any) -> None:
        parsed["ChecksumCRC32"] = base64.b64encode(b"\0" * 4).decode()

    env.s3.meta.events.register("after-call.s3.HeadObject", wrong_checksum)
    with pytest.raises(UploadError, match="checksum mismatch"):
        env.push()
    assert env.consul.value(CURRENT) is None


@pytest.mark.integration
def test_push_interrupted_at_the_kv_write_after_upload_leaves_pointer_unchanged(
        double_env: Env) -> None:
    env = double_env  # Consul fails the txn: a fault only the double can be made to give
    first = env.push(b"one")
    env.consul.fail_txn_after = env.consul.txn_writes_applied
    with pytest.raises(PointerError):
        env.push(b"two")
    assert env.consul.value(CURRENT) == first.release.manifest
    assert len(env.consul.events) == 1


@pytest.mark.integration
def test_push_refuses_to_overwrite_a_pointer_another_deploy_moved_meanwhile(env: Env) -> None:
    other = f"s3://{env.bucket}/releases/{APP}/someone-else/manifest.yml"

    def concurrent_deploy(**_: Any) -> None:
        env.consul.put(CURRENT, other)

    env.s3.meta.events.register("after-call.s3.CompleteMultipartUpload", concurrent_deploy)
    with pytest.raises(PointerConflict):
        env.push()
    assert env.consul.value(CURRENT) == other
    assert env.consul.events == []


@pytest.mark.integration
def test_push_with_consul_unreachable_fails_before_uploading(env: Env) -> None:
    from deploy.pointer import connect

    closed = PointerStore(connect("127.0.0.1:1", None), KV_PREFIX, APP, "staging")
    with pytest.raises(PointerError, match="could not read"):
        env.push(pointers=closed)
    assert env.stored() == []
    assert env.pending_uploads() == []


@pytest.mark.integration
def test_push_sends_its_three_preflight_reads_together(env: Env) -> None:
    # The Consul read waits (up to 2 s) for the S3 HEADs: one after the other, they would only
    # go out once it returned; together, they are already on their way.
    from deploy.pointer import connect

    headed = threading.Event()

    def saw_head(request: Any, **_: Any) -> None:
        if request.method == "HEAD":
            headed.set()
    env.s3.meta.events.register("before-send.s3.HeadObject", saw_head)

    class SlowRead(PointerStore):
        seen = False

        def read(self) -> Any:
            SlowRead.seen = headed.wait(2)
            return super().read()

    client = connect(env.consul.address, env.target.consul_token)
    env.push(pointers=SlowRead(client, KV_PREFIX, APP, "staging"))
    assert SlowRead.seen


@pytest.mark.integration
def test_push_refuses_a_release_id_already_in_the_bucket(env: Env) -> None:
    env.push(release_id="r1")
    with pytest.raises(DeployError, match="already exists"):
        env.push(release_id="r1")
    assert len(env.stored()) == 2


@pytest.mark.integration
def test_push_whose_event_fails_says_the_pointer_moved(env: Env) -> None:
    class NoEvents(PointerStore):
        def announce(self, manifest: str) -> str:
            raise PointerError("injected")

    from deploy.pointer import connect

    with pytest.raises(EventError, match="notify") as caught:
        env.push(pointers=NoEvents(connect(env.consul.address, env.target.consul_token),
                                   KV_PREFIX, APP, "staging"))
    assert env.consul.value(CURRENT) is not None
    assert env.consul.value(CURRENT) in str(caught.value)


@pytest.mark.integration
def test_rollback_restores_the_previous_pointer(env: Env) -> None:
    first = env.push(b"one")
    env.push(b"two")
    chosen, _, _ = rollback(env.target, s3=env.s3, pointers=env.pointers())
    assert chosen.release == first.release.release
    assert env.consul.value(CURRENT) == first.release.manifest


@pytest.mark.integration
def test_rollback_fires_the_event_again(env: Env) -> None:
    first = env.push(b"one")
    env.push(b"two")
    rollback(env.target, s3=env.s3, pointers=env.pointers())
    assert env.consul.events[-1].payload == first.release.manifest.encode()


@pytest.mark.integration
def test_rollback_to_a_release_whose_manifest_is_gone_leaves_pointer_unchanged(
        env: Env) -> None:
    first = env.push(b"one")
    second = env.push(b"two")
    env.s3.delete_object(Bucket=env.bucket, Key=first.release.manifest.split("/", 3)[3])
    with pytest.raises(DeployError, match="not readable"):
        rollback(env.target, s3=env.s3, pointers=env.pointers())
    assert env.consul.value(CURRENT) == second.release.manifest


@pytest.mark.integration
def test_cli_push_then_rollback_real_subprocess_against_moto_and_consul(
        env: Env, moto_server: str) -> None:
    release = make_release(env.tmp / "cli-release", {"index.html": b"<h1>hi</h1>"})
    run_env = {**os.environ, "CONSUL_HTTP_ADDR": env.consul.address,
               "CONSUL_HTTP_TOKEN": str(env.target.consul_token),
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    # No node is registered here: without --no-wait a push exits 5 (zero nodes is not success).
    common = ["--stack", "staging", "--bucket", env.bucket, "--s3-endpoint", moto_server,
              "--region", "us-east-1", "--no-wait"]

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "deploy", *argv], cwd=ROOT,
                              env=run_env, capture_output=True, text=True, timeout=120)

    first, second = cli("push", *common, str(release)), cli("push", *common, str(release))
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    first_manifest = json.loads(env.consul.value(f"{KV_PREFIX}/deploy/{APP}/history")
                                or "[]")[-1]["manifest"]
    back = cli("rollback", *common)
    assert back.returncode == 0, back.stderr
    assert env.consul.value(CURRENT) == first_manifest


@pytest.mark.integration
def test_cli_reports_a_failure_before_the_pointer_with_exit_1_and_says_it_is_unchanged(
        env: Env, moto_server: str) -> None:
    err = io.StringIO()
    code = main(["push", "--stack", "staging", "--bucket", "no-such-bucket-here",
                        "--s3-endpoint", moto_server, "--region", "us-east-1", "--no-wait",
                        str(make_release(env.tmp / "r"))],
                       env={"CONSUL_HTTP_ADDR": env.consul.address,
                            "CONSUL_HTTP_TOKEN": str(env.target.consul_token)},
                       out=io.StringIO(), err=err)
    assert code == 1
    assert "NoSuchBucket" in err.getvalue()
    assert "the deploy pointer was not changed" in err.getvalue()



@pytest.mark.integration
def test_cli_without_bucket_uses_the_name_the_stack_gives_it_against_moto(
        env: Env, moto_server: str) -> None:
    # The stack names its bucket <app>-<stack>-releases-<account> (one function for both);
    # moto's STS answers account 123456789012.
    bucket = default_release_bucket("webapp", "staging", "123456789012")
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    code = main(["push", "--stack", "staging", "--s3-endpoint", moto_server,
                        "--region", "us-east-1", "--no-wait", str(make_release(env.tmp / "r"))],
                       env={"CONSUL_HTTP_ADDR": env.consul.address,
                            "CONSUL_HTTP_TOKEN": str(env.target.consul_token)}, out=io.StringIO(),
                       err=io.StringIO())
    assert code == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(f"/{APP}.tar.gz") for k in keys), keys
    assert all(k.startswith(f"releases/{APP}/") for k in keys), keys
