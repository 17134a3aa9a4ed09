"""`python -m deploy`: what it builds (offline), and what it does to S3 and Consul.

Integration tests run the deploy against a real moto server (S3) and the Consul HTTP double;
S3 faults are injected with botocore event hooks on the client the deploy uses, Consul faults
with the double's switches. Every failure before the pointer write must leave the pointer alone.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse

from contracts.release_layout import APP_ROOT, default_release_bucket
from deploy.artifacts import (
    MIN_PART_SIZE,
    Archive,
    ReleaseError,
    build_archive,
    check_release_id,
    new_release_id,
    part_size_for,
    render_manifest,
)
from deploy.cli import main, parser
from deploy.errors import DeployError, EventError
from deploy.pointer import PointerConflict, PointerError, PointerState, PointerStore, Release
from deploy.publish import Pushed, push
from deploy.rollback import choose_rollback, rollback
from deploy.s3 import UploadError
from deploy.target import Target, resolve_target

ROOT = Path(__file__).resolve().parent.parent
APP = "webapp"
KV_PREFIX = f"{APP}/staging"
CURRENT = f"{KV_PREFIX}/deploy/{APP}/current"
PREVIOUS = f"{KV_PREFIX}/deploy/{APP}/previous"


def make_release(path: Path, files: dict[str, bytes] | None = None) -> Path:
    files = files or {"app.py": b"print('hello')\n" * 100, "static/logo.bin": os.urandom(70_000)}
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


# --- the manifest -------------------------------------------------------------------------------


def manifest(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"src": "s3://b/releases/webapp/r1/webapp.tar.gz",
                              "sha256": "ab" * 32, "release_id": "r1", "keep": 4, **overrides}
    return yaml.safe_load(render_manifest(**kwargs))


def test_manifest_names_the_archive_and_its_sha256() -> None:
    m = manifest()
    assert (m["src"], m["checksum"]) == ("s3://b/releases/webapp/r1/webapp.tar.gz", "ab" * 32)


def test_manifest_unpacks_into_the_release_dir_under_the_literal_app_root() -> None:
    # stretcher 1.1 renders no templates: `dest` must be the path itself.
    assert manifest()["dest"] == "/opt/app/releases/r1"


def test_manifest_app_root_is_where_the_image_app_role_keeps_releases() -> None:
    defaults = yaml.safe_load((Path(__file__).resolve().parent.parent /
                               "image/ansible/roles/app/defaults/main.yml").read_text())
    assert defaults["app_root"] == APP_ROOT


def test_manifest_switches_current_after_unpacking_and_prunes_after_success() -> None:
    assert manifest()["commands"] == {
        "pre": ["release-switch prepare r1"],
        "post": ["release-switch activate r1"],
        "success": ["release-switch prune --keep 4"],
        "failure": ["release-switch abandon r1"],
    }


@pytest.mark.parametrize("bad", ["", "../etc", "a b", "r1;reboot", "$(id)", "-rf", "x" * 65])
def test_release_ids_that_need_shell_quoting_are_refused(bad: str) -> None:
    with pytest.raises(ReleaseError, match="--release-id"):
        check_release_id(bad)


def test_generated_release_ids_are_valid_and_distinct() -> None:
    ids = {new_release_id() for _ in range(50)}
    assert len(ids) == 50
    for release_id in ids:
        check_release_id(release_id)


# --- the archive ----------------------------------------------------------------------------------


def pack(release: Path, part_size: int = MIN_PART_SIZE) -> tuple[Archive, bytes, list[Any]]:
    """Build an archive; return it, its bytes, and the (part, data) pairs handed over."""
    handed: list[tuple[Any, bytes]] = []
    archive = build_archive(release, part_size=part_size,
                            on_part=lambda part, data: handed.append((part, data)))
    return archive, b"".join(data for _, data in handed), handed


def test_archive_sha256_is_the_digest_of_its_bytes(tmp_path: Path) -> None:
    archive, data, _ = pack(make_release(tmp_path / "rel"))
    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert archive.size == len(data)


def test_archive_parts_are_handed_over_in_order_with_their_digests(tmp_path: Path) -> None:
    archive, data, handed = pack(make_release(tmp_path / "rel", {"blob": os.urandom(300_000)}),
                                 part_size=64 * 1024)
    assert list(archive.parts) == [p for p, _ in handed]
    assert [p.number for p, _ in handed] == list(range(1, len(handed) + 1))
    assert len(handed) > 1
    for part, chunk in handed:
        assert data[part.offset:part.offset + part.size] == chunk, part.number
        assert hashlib.sha256(chunk).digest() == part.sha256, part.number
        assert part.size == 64 * 1024 or part.number == len(handed), part.number


def test_archive_multipart_sha256_is_the_digest_of_the_part_digests(tmp_path: Path) -> None:
    archive, _, _ = pack(make_release(tmp_path / "rel"))
    expected = hashlib.sha256(b"".join(p.sha256 for p in archive.parts)).digest()
    assert archive.multipart_sha256 == base64.b64encode(expected).decode()


def test_archive_unpacks_to_the_release_tree(tmp_path: Path) -> None:
    files = {"app.py": b"x = 1\n", "lib/a/b.txt": b"deep\n", "empty": b""}
    release = make_release(tmp_path / "rel", files)
    os.symlink("lib", release / "lib-link")
    _, data, _ = pack(release)
    out = tmp_path / "out"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(out, filter="tar")
    for name, content in files.items():
        assert (out / name).read_bytes() == content, name
    assert os.readlink(out / "lib-link") == "lib"


MIXED = {"big.bin": os.urandom(200_000), "text.js": b"let x = 1;\n" * 20_000,
         "small.bin": os.urandom(100), "more.bin": os.urandom(70_000)}


def test_archive_mixing_stored_and_deflated_files_unpacks_exactly(tmp_path: Path) -> None:
    _, data, _ = pack(make_release(tmp_path / "rel", MIXED))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name, content in MIXED.items():
            member = tar.extractfile(name)
            assert member is not None, name
            assert member.read() == content, name


@pytest.mark.integration
def test_archive_unpacks_exactly_with_the_system_tar_that_stretcher_runs(tmp_path: Path) -> None:
    _, data, _ = pack(make_release(tmp_path / "rel", MIXED))
    (tmp_path / "a.tar.gz").write_bytes(data)
    (tmp_path / "out").mkdir()
    subprocess.run(["tar", "xf", str(tmp_path / "a.tar.gz"), "-C", str(tmp_path / "out")],
                   check=True)
    for name, content in MIXED.items():
        assert (tmp_path / "out" / name).read_bytes() == content, name


def test_archive_entries_are_owned_by_root_without_group_or_other_write(tmp_path: Path) -> None:
    release = make_release(tmp_path / "rel")
    (release / "app.py").chmod(0o4777)
    _, data, _ = pack(release)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            assert (member.uid, member.gid, member.uname) == (0, 0, "root"), member.name
            assert member.mode & 0o7022 == 0, (member.name, oct(member.mode))


def test_archive_of_the_same_tree_is_byte_identical(tmp_path: Path) -> None:
    release = make_release(tmp_path / "rel")
    assert pack(release)[0].sha256 == pack(release)[0].sha256


def test_archive_deflates_text_and_stores_incompressible_files(tmp_path: Path) -> None:
    text = make_release(tmp_path / "text", {"a.js": b"function f() { return 1; }\n" * 40_000})
    noise = make_release(tmp_path / "noise", {"a.png": os.urandom(1_000_000)})
    assert pack(text)[0].size < 40_000 * 27 // 20
    # Stored: only tar headers and gzip framing added, far below what deflating would cost.
    assert 1_000_000 < pack(noise)[0].size < 1_000_000 * 1.01


def test_archive_refuses_a_fifo(tmp_path: Path) -> None:
    release = make_release(tmp_path / "rel")
    os.mkfifo(release / "pipe")
    with pytest.raises(ReleaseError, match="pipe"):
        pack(release)


def test_archive_refuses_an_empty_release_dir(tmp_path: Path) -> None:
    (tmp_path / "rel").mkdir()
    with pytest.raises(ReleaseError, match="empty"):
        pack(tmp_path / "rel")


def test_part_size_stays_8_mib_and_grows_only_past_10000_parts() -> None:
    assert part_size_for(50 * 1024**2) == MIN_PART_SIZE
    huge = 200 * 1024**3
    assert -(-huge // part_size_for(huge)) <= 10_000


# --- choosing a rollback target -------------------------------------------------------------------


def history(*ids: str) -> tuple[Release, ...]:
    return tuple(Release(i, f"s3://b/releases/webapp/{i}/manifest.yml", "t", "u") for i in ids)


def state(current: str | None, *ids: str) -> PointerState:
    url = f"s3://b/releases/webapp/{current}/manifest.yml" if current else None
    return PointerState(url, 5 if url else 0, None, history(*ids), 7 if ids else 0)


def test_rollback_goes_to_the_release_pushed_before_the_current_one() -> None:
    assert choose_rollback(state("r3", "r3", "r2", "r1"), None).release == "r2"


def test_rollback_after_a_rollback_goes_further_back() -> None:
    assert choose_rollback(state("r2", "r3", "r2", "r1"), None).release == "r1"


def test_rollback_to_a_named_release_from_the_history() -> None:
    assert choose_rollback(state("r3", "r3", "r2", "r1"), "r1").release == "r1"


@pytest.mark.parametrize(("st", "to", "says"), [
    (state(None), None, "nothing is deployed"),
    (state("r1", "r1"), None, "oldest release"),
    (state("r3", "r3", "r2"), "r9", "not in the deploy history"),
    (state("r3", "r3", "r2"), "r3", "already the current release"),
    (state("rX", "r3", "r2"), None, "not in the deploy history"),
])
def test_impossible_rollbacks_are_refused_saying_why(st: PointerState, to: str | None,
                                                     says: str) -> None:
    with pytest.raises(DeployError, match=says):
        choose_rollback(st, to)


# --- where a deploy goes ------------------------------------------------------------------------


def args(*argv: str) -> argparse.Namespace:
    return parser().parse_args(["status", "--stack", "staging", *argv])


def test_target_defaults_come_from_the_stack_file() -> None:
    target = resolve_target(args(), {}, ROOT)
    assert (target.app, target.kv_prefix, target.region) == ("webapp", "webapp/staging",
                                                             "ap-northeast-1")


def test_target_flags_win_over_env_and_env_over_the_stack_file() -> None:
    env = {"WEBTIER_RELEASE_BUCKET": "from-env", "CONSUL_HTTP_ADDR": "10.0.0.1:8500",
           "AWS_REGION": "us-west-2"}
    target = resolve_target(args("--bucket", "from-flag"), env, ROOT)
    assert (target.bucket, target.consul_addr, target.region) == ("from-flag", "10.0.0.1:8500",
                                                                  "us-west-2")


def test_target_refuses_a_stack_without_a_stack_file() -> None:
    with pytest.raises(DeployError, match="stacks are production, staging"):
        resolve_target(parser().parse_args(["status", "--stack", "prod"]), {}, ROOT)


def test_target_reads_the_consul_token_from_a_file_not_argv(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    target = resolve_target(args("--consul-token-file", str(tmp_path / "token")), {}, ROOT)
    assert target.consul_token == "s3cret"


def test_push_without_a_bucket_says_how_to_name_one(tmp_path: Path) -> None:
    target = resolve_target(args(), {}, ROOT)
    with pytest.raises(DeployError, match="--bucket"):
        push(target, make_release(tmp_path), s3=None, pointers=None)  # type: ignore[arg-type]


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

        return PointerStore(connect(self.consul.address, token), KV_PREFIX, APP)

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


@pytest.fixture
def env(moto_server: str, tmp_path: Path) -> Iterator[Env]:
    import boto3

    from tests.consul_double import ConsulDouble

    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
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
def test_push_against_moto_and_consul_double_points_current_at_the_manifest(env: Env) -> None:
    pushed = env.push()
    assert env.consul.value(CURRENT) == pushed.release.manifest
    assert pushed.release.manifest == (f"s3://{env.bucket}/releases/{APP}/"
                                       f"{pushed.release.release}/manifest.yml")


@pytest.mark.integration
def test_second_push_against_consul_double_keeps_the_first_as_previous(env: Env) -> None:
    first = env.push(b"one")
    second = env.push(b"two")
    assert env.consul.value(CURRENT) == second.release.manifest
    assert env.consul.value(PREVIOUS) == first.release.manifest


@pytest.mark.integration
def test_push_against_consul_double_fires_the_deploy_event_after_the_pointer(env: Env) -> None:
    pushed = env.push()
    assert [(e.name, e.payload) for e in env.consul.events] == \
        [("deploy", pushed.release.manifest.encode())]
    writes = [p for m, p in env.consul.requests if m == "PUT"]
    assert writes == ["/v1/txn", "/v1/event/fire/deploy"]


@pytest.mark.integration
def test_push_against_moto_shows_upload_progress(env: Env) -> None:
    err = io.StringIO()
    env.push(os.urandom(300_000), err=err)
    assert "uploading webapp" in err.getvalue()
    assert "(100%)" in err.getvalue()


@pytest.mark.integration
def test_push_against_consul_double_sends_the_acl_token_with_the_transaction(
        moto_server: str, env: Env) -> None:
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
        parsed["ChecksumSHA256"] = base64.b64encode(b"\0" * 32).decode()

    env.s3.meta.events.register("after-call.s3.HeadObject", wrong_checksum)
    with pytest.raises(UploadError, match="checksum mismatch"):
        env.push()
    assert env.consul.value(CURRENT) is None


@pytest.mark.integration
def test_push_interrupted_at_the_kv_write_after_upload_leaves_pointer_unchanged(
        env: Env) -> None:
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

    closed = PointerStore(connect("127.0.0.1:1", None), KV_PREFIX, APP)
    with pytest.raises(PointerError, match="could not read"):
        env.push(pointers=closed)
    assert env.stored() == []
    assert env.pending_uploads() == []


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
        env.push(pointers=NoEvents(connect(env.consul.address, None), KV_PREFIX, APP))
    assert env.consul.value(CURRENT) is not None
    assert env.consul.value(CURRENT) in str(caught.value)


@pytest.mark.integration
def test_rollback_against_consul_double_restores_the_previous_pointer(env: Env) -> None:
    first = env.push(b"one")
    env.push(b"two")
    chosen, _, _ = rollback(env.target, s3=env.s3, pointers=env.pointers())
    assert chosen.release == first.release.release
    assert env.consul.value(CURRENT) == first.release.manifest


@pytest.mark.integration
def test_rollback_against_consul_double_fires_the_event_again(env: Env) -> None:
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
def test_cli_push_then_rollback_real_subprocess_against_moto_and_consul_double(
        env: Env, moto_server: str) -> None:
    release = make_release(env.tmp / "cli-release", {"index.html": b"<h1>hi</h1>"})
    run_env = {**os.environ, "CONSUL_HTTP_ADDR": env.consul.address,
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
                        "--s3-endpoint", moto_server, "--region", "us-east-1",
                        str(make_release(env.tmp / "r"))],
                       env={"CONSUL_HTTP_ADDR": env.consul.address}, out=io.StringIO(), err=err)
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
                       env={"CONSUL_HTTP_ADDR": env.consul.address}, out=io.StringIO(),
                       err=io.StringIO())
    assert code == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(f"/{APP}.tar.gz") for k in keys), keys
    assert all(k.startswith(f"releases/{APP}/") for k in keys), keys
