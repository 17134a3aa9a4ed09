"""Uploading a release to S3: parts go up while the archive is still being built, then the
stored object's checksum is read back and compared with the local one.

Every archive goes up as a multipart upload, even a one-part one, so the check is always the
same: S3 recomputes SHA-256 over the parts it stored (each part also carries the digest taken when
it was written, which real S3 verifies on receipt), and the object is refused unless that matches.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from deploy.artifacts import Archive, ArchivePart
from deploy.progress import duration


class UploadError(Exception):
    """The release could not be stored as built; nothing after the upload may run."""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    version_id: str | None


def describe(error: BaseException) -> str:
    """A one-line reason from a botocore error: the S3 error code and message, no traceback."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        op = error.operation_name
        return f"{op} failed: {info.get('Code', '?')}: {info.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


class Progress:
    """Upload progress on stderr: one rewritten line on a terminal, a line per step in logs."""

    def __init__(self, label: str, estimated_total: int, stream: TextIO | None = None, *,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._label = label
        self._total = estimated_total
        self._total_known = False
        self._done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._lock = threading.Lock()
        self._now = now
        self._started = now()
        self._last_logged_percent = -1

    def total_known(self, total: int) -> None:
        with self._lock:
            self._total, self._total_known = total, True

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            total = max(self._total, self._done)
            percent = int(100 * self._done / total) if total else 100
            if not self._tty and percent < 100 and percent < self._last_logged_percent + 10:
                return
            self._last_logged_percent = percent
            elapsed = max(self._now() - self._started, 1e-6)
            about = "" if self._total_known else "~"
            rate = self._done / elapsed
            # Time left at the rate so far: an estimate, so it says "about".
            left = (f", about {duration((total - self._done) / rate, up=True)} left"
                    if self._done < total and rate > 0 else "")
            line = (f"uploading {self._label}: {_mib(self._done)} / {about}{_mib(total)} "
                    f"({percent}%), {_mib(int(rate))}/s, {duration(elapsed)} elapsed{left}")
            self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
            self._stream.flush()

    def finish(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


class StreamingUpload:
    """A multipart upload fed part by part by an archive that is still being built.

    Use as ``on_part`` for ``build_archive``; then ``complete(archive)``. On any failure call
    ``abort()`` so S3 drops the parts (the bucket's lifecycle rule is the backstop). At most
    ``2 * workers`` parts are held in memory: beyond that the archive waits for the upload.
    ``before_start`` runs before the upload is created and may veto it by raising.
    """

    def __init__(self, s3: Any, bucket: str, key: str, *, progress: Progress,
                 metadata: dict[str, str], workers: int = 4,
                 before_start: Callable[[], object] | None = None) -> None:
        self._s3 = s3
        self._before_start = before_start
        self._bucket = bucket
        self._key = key
        self._progress = progress
        self._metadata = metadata
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload-part")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._futures: list[Future[dict[str, Any]]] = []
        self._upload_id: str | None = None

    def __call__(self, part: ArchivePart, data: bytes) -> None:
        if self._upload_id is None:
            self._start()
        # Stop building as soon as a part has failed rather than after the last one.
        for f in self._futures:
            if f.done() and f.exception() is not None:
                self._raise_from(f)
        self._slots.acquire()
        self._futures.append(self._pool.submit(self._upload_part, part, data))

    def _raise_from(self, failed: Future[dict[str, Any]]) -> None:
        error = failed.exception()
        assert error is not None
        raise UploadError(f"upload of s3://{self._bucket}/{self._key} failed: "
                          f"{describe(error)}") from error

    def _start(self) -> None:
        if self._before_start is not None:
            self._before_start()  # raises if a check failed: nothing has been uploaded
        try:
            created = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ChecksumAlgorithm="CRC32",
                ContentType="application/gzip", Metadata=self._metadata,
            )
        except (ClientError, BotoCoreError) as e:
            raise UploadError(f"could not start the upload of s3://{self._bucket}/{self._key}: "
                              f"{describe(e)}") from e
        self._upload_id = created["UploadId"]

    def _upload_part(self, part: ArchivePart, data: bytes) -> dict[str, Any]:
        try:
            digest = base64.b64encode(part.crc32).decode()
            # The checksum was taken as the archive was built; S3 refuses a part that differs.
            answer = self._s3.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                PartNumber=part.number, Body=data, ChecksumCRC32=digest,
            )
        finally:
            self._slots.release()
        self._progress.advance(part.size)
        return {"PartNumber": part.number, "ETag": answer["ETag"], "ChecksumCRC32": digest}

    def complete(self, archive: Archive) -> StoredObject:
        self._progress.total_known(archive.size)
        try:
            parts = [f.result() for f in self._futures]
            done = self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
                # Release keys are never reused: refuse to replace an object already there.
                IfNoneMatch="*",
            )
        except (ClientError, BotoCoreError) as e:
            raise UploadError(f"upload of s3://{self._bucket}/{self._key} failed: "
                              f"{describe(e)}") from e
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._progress.finish()
        stored = StoredObject(self._bucket, self._key, _version(done.get("VersionId")))
        verify(self._s3, stored, archive)
        return stored

    def abort(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._upload_id is not None:
            # Best effort: the bucket's lifecycle rule discards abandoned parts anyway.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key,
                                                UploadId=self._upload_id)


def verify(s3: Any, stored: StoredObject, archive: Archive) -> None:
    """Refuse the upload unless S3's checksum of the stored version (the CRC-32 of its parts'
    CRC-32s) and its size equal the local archive's."""
    where = f"s3://{stored.bucket}/{stored.key}"
    extra = {"VersionId": stored.version_id} if stored.version_id else {}
    try:
        head = s3.head_object(Bucket=stored.bucket, Key=stored.key, ChecksumMode="ENABLED",
                              **extra)
    except (ClientError, BotoCoreError) as e:
        raise UploadError(f"could not read back {where} to verify it: {describe(e)}") from e
    reported = head.get("ChecksumCRC32")
    if not reported:
        raise UploadError(f"S3 reported no CRC-32 for {where}; refusing to deploy an archive "
                          "whose stored checksum cannot be verified")
    # Real S3 appends "-<part count>" to a multipart checksum; moto does not.
    reported = reported.split("-")[0]
    expected = archive.multipart_crc32
    if reported != expected or head.get("ContentLength") != archive.size:
        raise UploadError(
            f"checksum mismatch for {where}: S3 holds {head.get('ContentLength')} bytes with "
            f"CRC-32 (of parts) {reported}, the local archive is {archive.size} bytes with "
            f"{expected} (sha256 {archive.sha256}); refusing to deploy it"
        )


def put_small(s3: Any, bucket: str, key: str, body: bytes, content_type: str,
              digest: Callable[[bytes], bytes]) -> StoredObject:
    """Store a small object (the manifest) only if the key is new, with its checksum checked."""
    try:
        answer = s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type,
            ChecksumSHA256=base64.b64encode(digest(body)).decode(), IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as e:
        raise UploadError(f"could not store s3://{bucket}/{key}: {describe(e)}") from e
    return StoredObject(bucket, key, _version(answer.get("VersionId")))


def _version(version_id: object) -> str | None:
    # An unversioned bucket answers "null" or nothing.
    return version_id if isinstance(version_id, str) and version_id != "null" else None
