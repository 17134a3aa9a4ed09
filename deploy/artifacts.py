"""What a deploy publishes: the release archive, its checksums, its S3 keys, its stretcher manifest.

No network here. The archive is produced once, in upload-sized parts handed over as each is
complete, with its SHA-256 (for the manifest; stretcher verifies it on the node) and each part's
CRC-32 (for S3's multipart checks) computed on the way, so the upload runs while the archive is
still being built and nothing is written to disk.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import secrets
import stat
import struct
import tarfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import yaml

from contracts.names import APP_NAME, APP_NAME_ALLOWED
from contracts.release_layout import APP_ROOT

# Release ids end up in S3 keys, directory names and the manifest's shell commands, so they are
# restricted to characters that need no quoting anywhere.
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
RELEASE_ID_ALLOWED = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

# S3 allows 10,000 parts of at least 5 MiB (the last may be smaller).
MIN_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000

# A file whose first 16 KiB shrinks by less than this is stored, not deflated: images, fonts and
# archives are already compressed, and deflating them costs more time than it saves bytes.
_SAMPLE_BYTES = 16 * 1024
_STORE_IF_RATIO_ABOVE = 0.9
_DEFLATE_LEVEL = 6
_COPY_CHUNK = 1024 * 1024


class ReleaseError(Exception):
    """A problem with the release input that the user can fix."""


def check_app(app: str) -> str:
    if not APP_NAME.fullmatch(app):
        raise ReleaseError(f"--app {app!r}: must be {APP_NAME_ALLOWED} (the stack's webtier:app)")
    return app


def check_release_id(release_id: str) -> str:
    # fullmatch: `$` alone also matches before a trailing newline ("r1\n").
    if not RELEASE_ID.fullmatch(release_id):
        raise ReleaseError(f"--release-id {release_id!r}: must be {RELEASE_ID_ALLOWED}")
    return release_id


def new_release_id(now: datetime | None = None) -> str:
    """Sortable by time; the random tail keeps two deploys in the same second apart."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def render_manifest(*, src: str, sha256: str, release_id: str, keep: int,
                    app_root: str = APP_ROOT) -> str:
    """The stretcher manifest: fetch, verify, unpack into releases/<id>, then switch `current`.

    `post` switches the symlink and restarts the app (restoring the old link if the restart
    fails), so a failed deploy leaves the old release serving; `success` prunes old releases;
    `failure` removes the half-deployed directory unless it is the one serving.
    """
    check_release_id(release_id)
    if keep < 1:
        raise ReleaseError(f"--keep {keep}: must be at least 1")
    manifest = {
        "src": src,
        "checksum": sha256,
        # Literal: stretcher 1.1 renders no templates, so `dest` is used exactly as written.
        "dest": f"{app_root}/releases/{release_id}",
        "commands": {
            "pre": [f"release-switch prepare {release_id}"],
            "post": [f"release-switch activate {release_id}"],
            "success": [f"release-switch prune --keep {keep}"],
            "failure": [f"release-switch abandon {release_id}"],
        },
    }
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


@dataclass(frozen=True)
class ArchivePart:
    """One multipart-upload part of the archive (its bytes travel beside it, not in it)."""

    number: int
    offset: int
    size: int
    crc32: bytes
    """Big-endian CRC-32 of the part's bytes, as S3's ChecksumCRC32 carries it (base64)."""


PartHandler = Callable[[ArchivePart, bytes], None]


@dataclass(frozen=True)
class Archive:
    size: int
    sha256: str
    """Hex SHA-256 of the whole archive: the manifest's checksum, verified by stretcher."""
    parts: tuple[ArchivePart, ...]

    @property
    def multipart_crc32(self) -> str:
        """What S3 reports as the object's CRC-32 after a multipart upload of these parts: the
        composite checksum, the CRC-32 of the parts' checksums joined (without S3's "-<parts>").

        CRC-32 and not SHA-256 for the parts: it guards the bytes between here and S3 as well,
        costs a fraction of the CPU on both ends, and the archive's SHA-256 in the manifest is
        what the node checks before it unpacks anything."""
        joined = b"".join(p.crc32 for p in self.parts)
        return base64.b64encode(_crc32_bytes(zlib.crc32(joined))).decode()


def part_size_for(estimated_bytes: int) -> int:
    """Parts of 8 MiB, larger only when a huge release would need more than 10,000 of them."""
    needed = -(-estimated_bytes // (MAX_PARTS - 100))  # margin: compression may not shrink it
    mib = 1024 * 1024
    return max(MIN_PART_SIZE, -(-needed // mib) * mib)


def release_size(release_dir: Path) -> int:
    total = 0
    for dirpath, _dirnames, filenames in os.walk(release_dir):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def check_links(release_dir: Path) -> None:
    """Refuse a symlink that points outside the release (absolute, or escaping with `..`).

    On the instance it would expose whatever it names (/etc/passwd, another release) as the
    app's own file. Resolved for real, so a chain of links cannot climb out either.
    """
    root = os.path.realpath(release_dir)
    for path, arcname in _walk(release_dir):
        _refuse_special(path, arcname)
        if not path.is_symlink():
            continue
        target = os.readlink(path)
        resolved = os.path.realpath(path)
        if os.path.isabs(target) or os.path.commonpath([root, resolved]) != root:
            raise ReleaseError(f"{arcname!r} in the release is a symlink to {target!r}, outside "
                               "the release: links must stay inside it (make it relative, or "
                               "copy the file in)")


def _refuse_special(path: Path, arcname: str) -> None:
    """Only regular files, directories and symlinks travel; a hard link would carry the bytes of
    a file that may live outside the release (tar stores the first name it meets as a copy)."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ReleaseError(f"{arcname!r} in the release cannot be read ({e.strerror})") from None
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise ReleaseError(f"{arcname!r} in the release is a hard link ({st.st_nlink} names for "
                           "one file): copy it in (`cp --remove-destination`) so it is a file of "
                           "its own")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        kind = {stat.S_IFSOCK: "a unix socket", stat.S_IFIFO: "a named pipe (FIFO)",
                stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}.get(
                    stat.S_IFMT(st.st_mode), "not a regular file")
        raise ReleaseError(f"{arcname!r} in the release is {kind}: only files, directories and "
                           "symlinks can be deployed; remove it from the release")


def build_archive(release_dir: Path, *, part_size: int, on_part: PartHandler) -> Archive:
    """Pack ``release_dir`` as a tar.gz; hand each ``part_size`` piece to ``on_part`` in order.

    ``on_part`` may block (to bound how much is held in memory); the last part may be smaller,
    and an archive always has at least one part.

    Entries are sorted and owned by root with group/other write removed, so what lands on the
    instance is the same whoever ran the deploy. Sockets, devices and FIFOs are refused.
    """
    if not release_dir.is_dir():
        raise ReleaseError(f"release directory {str(release_dir)!r} does not exist or is not a "
                           "directory")
    if not any(release_dir.iterdir()):
        raise ReleaseError(f"release directory {str(release_dir)!r} is empty: nothing to deploy")
    check_links(release_dir)
    sink = _PartSink(part_size, on_part)
    try:
        _pack(release_dir, _GzipMembers(sink))
        sha256 = sink.close()
    except BaseException:
        sink.abandon()
        raise
    return Archive(size=sink.size, sha256=sha256, parts=tuple(sink.parts))


def _pack(release_dir: Path, members: _GzipMembers) -> None:
    # Large copy chunks: per-chunk Python overhead, not hashing, would otherwise dominate.
    with tarfile.open(fileobj=members, mode="w",  # type: ignore[call-overload]
                      format=tarfile.PAX_FORMAT, copybufsize=_COPY_CHUNK) as tar:
        for path, arcname in _walk(release_dir):
            info = tar.gettarinfo(str(path), arcname=arcname)
            if info is None or not (info.isreg() or info.isdir() or info.issym()):
                raise ReleaseError(f"{str(path)!r} is not a regular file, directory or "
                                   "symlink: remove it from the release")
            _normalize(info)
            if info.isreg():
                with path.open("rb") as f:
                    members.set_level(_level_for(f))
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    members.close()


def _walk(root: Path) -> list[tuple[Path, str]]:
    entries: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        # Symlinked directories are listed among dirnames but not descended into: keep them as
        # links, as tar would.
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        names = sorted(filenames + linked)
        if rel != ".":
            entries.append((Path(dirpath), rel))
        for name in names:
            entries.append((Path(dirpath, name), os.path.normpath(os.path.join(rel, name))))
    return entries


def _normalize(info: tarfile.TarInfo) -> None:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    # No setuid bits and no group/other write, whatever the builder's umask was.
    info.mode &= 0o755


def _level_for(f: BinaryIO) -> int:
    sample = f.read(_SAMPLE_BYTES)
    f.seek(0)
    if len(sample) < _SAMPLE_BYTES:
        return _DEFLATE_LEVEL
    ratio = len(zlib.compress(sample, 1)) / len(sample)
    return 0 if ratio > _STORE_IF_RATIO_ABOVE else _DEFLATE_LEVEL


class _GzipMembers:
    """A gzip stream written as consecutive members, so the level can change between files.

    gzip, tar and Go's compress/gzip all read concatenated members as one stream.
    """

    def __init__(self, sink: _PartSink) -> None:
        self._sink = sink
        self._level = _DEFLATE_LEVEL
        self._member: gzip.GzipFile | _StoredMember | None = None
        self._written = 0

    def set_level(self, level: int) -> None:
        if level != self._level and self._member is not None:
            self._member.close()
            self._member = None
        self._level = level

    def write(self, data: bytes) -> int:
        if self._member is None:
            if self._level == 0:
                self._member = _StoredMember(self._sink)
            else:
                # mtime=0: the archive depends only on the release, not on when it was built.
                self._member = gzip.GzipFile(fileobj=self._sink,
                                             mode="wb", compresslevel=self._level, mtime=0)
        self._member.write(data)
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def close(self) -> None:
        if self._member is not None:
            self._member.close()
            self._member = None


class _StoredMember:
    """A gzip member whose deflate stream is stored blocks: the bytes pass through uncopied.

    What zlib writes at level 0, without its copying, for data that does not compress.
    """

    _HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0
    _MAX_BLOCK = 0xFFFF

    def __init__(self, sink: _PartSink) -> None:
        self._sink = sink
        self._crc = 0
        self._size = 0
        sink.write(self._HEADER)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self._crc = zlib.crc32(view, self._crc)
        self._size += len(view)
        for start in range(0, len(view), self._MAX_BLOCK):
            block = view[start:start + self._MAX_BLOCK]
            # Block header: not final, type 00 (stored), then LEN and its one's complement.
            self._sink.write(struct.pack("<BHH", 0, len(block), len(block) ^ 0xFFFF))
            self._sink.write(block)
        return len(data)

    def close(self) -> None:
        # An empty final stored block ends the deflate stream; then CRC-32 and size mod 2**32.
        self._sink.write(b"\x01\x00\x00\xff\xff")
        self._sink.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))


class _PartSink:
    """Cuts the archive stream into parts: SHA-256 of the whole, CRC-32 of each part.

    The whole-archive SHA-256 runs on a thread of its own, one part at a time in order: hashlib
    releases the GIL on large buffers, so the hash overlaps the tar and gzip work of the next
    part instead of adding to the time before the last part can go up."""

    def __init__(self, part_size: int, on_part: PartHandler) -> None:
        self._part_size = part_size
        self._on_part = on_part
        self._sha256 = hashlib.sha256()
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-sha256")
        self._hashed: list[Future[None]] = []
        self.parts: list[ArchivePart] = []
        self.size = 0
        self._chunks: list[bytes | memoryview] = []
        self._part_start = 0

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        while view:
            room = self._part_size - (self.size - self._part_start)
            chunk = view[:room]
            # Kept by reference: gzip hands over a new bytes object for every write.
            self._chunks.append(chunk)
            self.size += len(chunk)
            view = view[len(chunk):]
            if self.size - self._part_start == self._part_size:
                self._emit()
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> str:
        """Hand over the last part; the archive's hex SHA-256 once every part is hashed."""
        if self.size > self._part_start or not self.parts:
            self._emit()
        self._hasher.shutdown(wait=True)
        for done in self._hashed:
            done.result()
        return self._sha256.hexdigest()

    def abandon(self) -> None:
        self._hasher.shutdown(wait=True, cancel_futures=True)

    def _emit(self) -> None:
        data = b"".join(self._chunks)
        part = ArchivePart(len(self.parts) + 1, self._part_start, self.size - self._part_start,
                           _crc32_bytes(zlib.crc32(data)))
        self._hashed.append(self._hasher.submit(self._sha256.update, data))
        self._chunks = []
        self.parts.append(part)
        self._part_start = self.size
        self._on_part(part, data)


def _crc32_bytes(value: int) -> bytes:
    return struct.pack(">I", value)
