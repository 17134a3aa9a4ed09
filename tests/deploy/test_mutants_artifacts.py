"""The release archive and manifest from deploy/artifacts.py, read back as stretcher would.

Written for the survivors of scripts/mutation: the part arithmetic, the stored (uncompressed)
gzip members, the normalised tar headers and the manifest fields, each checked by reading what
was produced rather than by how it was produced.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from deploy.artifacts import (
    MIN_PART_SIZE,
    Archive,
    ArchivePart,
    ReleaseError,
    build_archive,
    new_release_id,
    part_size_for,
    release_size,
    render_manifest,
)

MIB = 1024 * 1024


def release(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    (root / "static" / "img").mkdir(parents=True)
    (root / "app.py").write_text("print('hello')\n")
    (root / "static" / "site.css").write_text("body { color: red; }\n" * 2000)  # compresses
    # Incompressible and larger than one stored deflate block (64 KiB).
    (root / "static" / "img" / "photo.jpg").write_bytes(os.urandom(150_000))
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o4777)
    (root / "current.css").symlink_to("static/site.css")
    (root / "assets").symlink_to("static")
    return root


def build(root: Path, part_size: int) -> tuple[Archive, list[tuple[ArchivePart, bytes]]]:
    handed: list[tuple[ArchivePart, bytes]] = []
    archive = build_archive(root, part_size=part_size, on_part=lambda p, d: handed.append((p, d)))
    return archive, handed


def test_parts_are_consecutive_pieces_of_one_archive_with_their_own_checksums(
        tmp_path: Path) -> None:
    archive, handed = build(release(tmp_path), part_size=7000)
    data = b"".join(d for _, d in handed)
    assert len(handed) > 3
    assert archive.parts == tuple(p for p, _ in handed)
    assert [p.number for p in archive.parts] == list(range(1, len(handed) + 1))
    offset = 0
    for part, chunk in handed:
        assert (part.offset, part.size) == (offset, len(chunk))
        assert part.crc32 == zlib.crc32(chunk).to_bytes(4, "big")
        offset += len(chunk)
    assert all(p.size == 7000 for p in archive.parts[:-1])
    assert 0 < archive.parts[-1].size <= 7000
    assert (archive.size, archive.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    joined = b"".join(zlib.crc32(d).to_bytes(4, "big") for _, d in handed)
    composite = zlib.crc32(joined).to_bytes(4, "big")
    assert archive.multipart_crc32 == base64.b64encode(composite).decode()


def test_a_small_release_is_one_part(tmp_path: Path) -> None:
    archive, handed = build(release(tmp_path), part_size=MIN_PART_SIZE)
    assert [(p.number, p.offset) for p in archive.parts] == [(1, 0)]
    assert archive.parts[0].size == archive.size == len(handed[0][1])


def test_archive_unpacks_to_the_release_with_root_owned_safe_modes(tmp_path: Path) -> None:
    root = release(tmp_path)
    _, handed = build(root, part_size=5000)
    data = b"".join(d for _, d in handed)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert list(members) == ["app.py", "assets", "current.css", "run.sh", "static",
                                 "static/site.css", "static/img", "static/img/photo.jpg"]
        for m in members.values():
            assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root")
            assert m.mode & 0o7022 == 0, m.name
        assert members["run.sh"].mode & 0o777 == 0o755
        assert members["assets"].issym()
        assert members["assets"].linkname == "static"
        assert members["current.css"].linkname == "static/site.css"
        for name in ("app.py", "static/site.css", "static/img/photo.jpg"):
            extracted = tar.extractfile(members[name])
            assert extracted is not None
            assert extracted.read() == (root / name).read_bytes(), name


def test_incompressible_files_are_stored_and_text_is_deflated(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    noise = os.urandom(300_000)
    (root / "noise.bin").write_bytes(noise)
    archive, handed = build(root, part_size=MIN_PART_SIZE)
    data = b"".join(d for _, d in handed)
    assert gzip.decompress(data).find(noise) > 0
    # Stored: the first 64 KiB block of the file travels verbatim, deflate would re-encode it.
    assert noise[:65535] in data

    (root / "noise.bin").unlink()
    (root / "text.txt").write_text("the same line again\n" * 20_000)
    archive, handed = build(root, part_size=MIN_PART_SIZE)
    assert archive.size < 20_000
    assert gzip.decompress(b"".join(d for _, d in handed)).count(b"the same line again\n") == \
        20_000


def test_the_archive_depends_only_on_the_release(tmp_path: Path) -> None:
    root = release(tmp_path)
    first, _ = build(root, part_size=MIN_PART_SIZE)
    os.utime(root / "app.py", (1, 1))
    second, _ = build(root, part_size=MIN_PART_SIZE)
    assert first.sha256 != second.sha256  # the file's own mtime is content
    third, _ = build(root, part_size=MIN_PART_SIZE)
    assert third.sha256 == second.sha256


def test_missing_empty_and_special_releases_are_refused_by_path(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="does not exist or is not a directory"):
        build(tmp_path / "nope", part_size=MIN_PART_SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseError, match="is empty: nothing to deploy"):
        build(tmp_path / "empty", part_size=MIN_PART_SIZE)
    odd = tmp_path / "odd"
    odd.mkdir()
    os.mkfifo(odd / "pipe")
    with pytest.raises(ReleaseError, match=r"'pipe' in the release is a named pipe \(FIFO\)"):
        build(odd, part_size=MIN_PART_SIZE)


def test_release_size_counts_file_bytes_not_links(tmp_path: Path) -> None:
    root = release(tmp_path)
    assert release_size(root) == sum(
        (root / n).stat().st_size
        for n in ("app.py", "run.sh", "static/site.css", "static/img/photo.jpg"))


def test_parts_are_8_mib_until_a_release_would_need_more_than_10000() -> None:
    assert part_size_for(0) == part_size_for(50 * MIB) == 8 * MIB
    assert part_size_for(8 * MIB * 9900) == 8 * MIB
    huge = 20 * 9900 * MIB + 1  # one byte more than 9,900 parts of 20 MiB
    size = part_size_for(huge)
    assert size % MIB == 0
    assert size > 8 * MIB
    assert -(-huge // size) <= 9900
    assert -(-huge // (size - MIB)) > 9900, "not the smallest whole-MiB part that fits"


def test_manifest_fetches_verifies_and_switches_the_release() -> None:
    text = render_manifest(src="s3://b/k.tgz", sha256="ab" * 32, release_id="r1.2_x-3", keep=4)
    assert yaml.safe_load(text) == {
        "src": "s3://b/k.tgz",
        "checksum": "ab" * 32,
        "dest": '/opt/app/releases/r1.2_x-3',
        "commands": {
            "pre": ["release-switch prepare r1.2_x-3"],
            "post": ["release-switch activate r1.2_x-3"],
            "success": ["release-switch prune --keep 4"],
            "failure": ["release-switch abandon r1.2_x-3"],
        },
    }
    assert text.index("src:") < text.index("checksum:") < text.index("commands:")


def test_manifest_refuses_a_bad_id_or_keeping_nothing() -> None:
    with pytest.raises(ReleaseError, match=r"^--keep 0: must be at least 1$"):
        render_manifest(src="s", sha256="x", release_id="r1", keep=0)
    assert "keep 1" in render_manifest(src="s", sha256="x", release_id="r1", keep=1)
    with pytest.raises(ReleaseError, match=r"^--release-id 'a b': must be 1-64 letters"):
        render_manifest(src="s", sha256="x", release_id="a b", keep=1)


def test_release_ids_sort_by_time_and_differ_within_a_second() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first, second = new_release_id(now), new_release_id(now)
    assert re.fullmatch(r"20260102T030405Z-[0-9a-f]{6}", first)
    assert first != second
    assert new_release_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)) > max(first, second)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_release_id())


def test_manifest_is_block_yaml_in_the_order_stretcher_documents() -> None:
    assert render_manifest(src="s3://b/k.tgz", sha256="ab", release_id="r1", keep=4) == (
        "src: s3://b/k.tgz\n"
        "checksum: ab\n"
        "dest: /opt/app/releases/r1\n"
        "commands:\n"
        "  pre:\n  - release-switch prepare r1\n"
        "  post:\n  - release-switch activate r1\n"
        "  success:\n  - release-switch prune --keep 4\n"
        "  failure:\n  - release-switch abandon r1\n")
