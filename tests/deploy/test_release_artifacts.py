"""`python -m deploy` offline: the manifest, the archive, choosing a rollback target and where a
deploy goes (the stack file, flags and environment). Nothing here reaches S3 or Consul."""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.release_layout import APP_ROOT
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
from deploy.cli import parser
from deploy.errors import DeployError
from deploy.pointer import PointerState, Release
from deploy.publish import push
from deploy.rollback import choose_rollback
from deploy.target import resolve_target
from tests.deploy.test_deploy import ROOT, make_release

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
    defaults = yaml.safe_load((Path(__file__).resolve().parents[2] /
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
        assert zlib.crc32(chunk).to_bytes(4, "big") == part.crc32, part.number
        assert part.size == 64 * 1024 or part.number == len(handed), part.number


def test_archive_multipart_crc32_is_the_crc_of_the_part_crcs(tmp_path: Path) -> None:
    archive, _, _ = pack(make_release(tmp_path / "rel", {"blob": os.urandom(300_000)}),
                         part_size=64 * 1024)
    assert len(archive.parts) > 1
    expected = zlib.crc32(b"".join(p.crc32 for p in archive.parts)).to_bytes(4, "big")
    assert archive.multipart_crc32 == base64.b64encode(expected).decode()


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
