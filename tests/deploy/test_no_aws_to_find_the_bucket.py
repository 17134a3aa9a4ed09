"""`status` and `rollback` find what they need without asking AWS who the caller is: `status`
reads only Consul, and `rollback` takes the bucket from the manifest URL the pointer already
holds (the KV key `push` writes). Only `push` derives the default bucket name from the account.

AWS is made unreachable here: no credentials, and STS pointed at a closed loopback port, so a
call to STS fails the command instead of passing silently."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from deploy.cli import main
from deploy.pointer import PointerStore, connect
from deploy.publish import push
from deploy.target import Target
from tests.real_consul import ConsulAgent

APP = "webapp"  # Pulumi.staging.yaml's webtier:app
KV_PREFIX = f"{APP}/staging"
CURRENT = f"{KV_PREFIX}/deploy/{APP}/current"
NO_STS = "http://127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture
def no_aws_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "WEBTIER_RELEASE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", NO_STS)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class Consul:
    """The session's real Consul 1.14.11 agent, with the stack's keys wiped around each test."""

    def __init__(self, agent: ConsulAgent) -> None:
        self.agent, self.address = agent, agent.address
        self.token = agent.management_token

    def env(self) -> dict[str, str]:
        return {"CONSUL_HTTP_ADDR": self.address, "CONSUL_HTTP_TOKEN": self.token}

    def put(self, key: str, value: str) -> None:
        assert self.agent.api("PUT", f"/v1/kv/{key}", data=value.encode()).status_code == 200

    def value(self, key: str) -> str:
        return self.agent.api("GET", f"/v1/kv/{key}", params={"raw": ""}).text


@pytest.fixture
def consul(consul_agent: ConsulAgent) -> Iterator[Consul]:
    consul_agent.wipe(KV_PREFIX)
    try:
        yield Consul(consul_agent)
    finally:
        consul_agent.wipe(KV_PREFIX)


def test_status_needs_no_aws_account(no_aws_account: None, consul: Consul) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["status", "--stack", "staging"], env=consul.env(),
                out=out, err=err)
    assert (code, err.getvalue()) == (0, "")
    assert f"{CURRENT}: unset" in out.getvalue()


def test_notify_needs_no_aws_account(no_aws_account: None, consul: Consul) -> None:
    err = io.StringIO()
    code = main(["notify", "--stack", "staging"], env=consul.env(),
                out=io.StringIO(), err=err)
    # Nothing deployed: refused for that reason, not for a missing account.
    assert code == 1
    assert "is unset: nothing to announce" in err.getvalue(), err.getvalue()


@pytest.mark.integration
def test_rollback_takes_the_bucket_from_the_pointer_not_from_sts(
        moto_server: str, consul: Consul, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    target = Target(stack="staging", app=APP, bucket=bucket, kv_prefix=KV_PREFIX, keep=5,
                    region="us-east-1", s3_endpoint=moto_server, consul_addr=consul.address,
                    consul_token=consul.token, consul_ca=None)
    pushed = []
    for content in (b"one", b"two"):
        release = tmp_path / content.decode()
        release.mkdir()
        (release / "app.txt").write_bytes(content)
        pointers = PointerStore(connect(consul.address, consul.token), KV_PREFIX, APP,
                                "staging")
        pushed.append(push(target, release, s3=s3, err=io.StringIO(), pointers=pointers))
    # moto's STS would answer with an account whose default bucket is not this one.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", NO_STS)
    err = io.StringIO()
    code = main(["rollback", "--stack", "staging", "--no-wait", "--s3-endpoint", moto_server,
                 "--region", "us-east-1"], env=consul.env(),
                out=io.StringIO(), err=err)
    assert (code, err.getvalue()) == (0, "")
    assert consul.value(CURRENT) == pushed[0].release.manifest


@pytest.mark.integration
def test_rollback_still_refuses_a_history_entry_from_another_bucket(
        moto_server: str, consul: Consul, tmp_path: Path) -> None:
    # The bucket the pointer names is the stack's: an older entry naming another one is refused.
    consul.put(f"{KV_PREFIX}/deploy/{APP}/history",
               '[{"release": "r2", "manifest": "s3://ours/releases/webapp/r2/manifest.yml", '
               '"at": "t", "by": "me"}, {"release": "r1", "manifest": '
               '"s3://theirs/releases/webapp/r1/manifest.yml", "at": "t", "by": "me"}]')
    consul.put(CURRENT, "s3://ours/releases/webapp/r2/manifest.yml")
    err = io.StringIO()
    code = main(["rollback", "--stack", "staging", "--no-wait", "--s3-endpoint", moto_server,
                 "--region", "us-east-1"], env=consul.env(),
                out=io.StringIO(), err=err)
    assert code == 1
    assert "names bucket 'theirs'" in err.getvalue(), err.getvalue()
    assert "'ours'" in err.getvalue()
