"""Publish a release: archive -> S3 (verified) -> stretcher manifest -> KV pointer -> event.

Any failure before the pointer write leaves the pointer, and so every instance, on the release
it had; an archive left by a push that died before its manifest is resumed, not re-sent.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from contracts.release_layout import archive_key, deploy_event, manifest_key, release_prefix
from deploy.artifacts import (
    Archive,
    ArchivePart,
    ReleaseError,
    build_archive,
    check_links,
    check_release_id,
    new_release_id,
    part_size_for,
    release_size,
    render_manifest,
    s3_url,
)
from deploy.errors import DeployError, EventError
from deploy.pointer import PointerError, PointerState, PointerStore, Release, check_event_fits
from deploy.s3 import (
    Progress,
    StoredObject,
    StreamingUpload,
    UploadError,
    describe,
    put_small,
    verify,
)
from deploy.target import Target


@dataclass(frozen=True)
class Pushed:
    release: Release
    sha256: str
    size: int
    previous: str | None
    event_id: str


def push(target: Target, release_dir: Path, *, s3: Any, pointers: PointerStore,
         release_id: str | None = None, err: TextIO | None = None) -> Pushed:
    """Publish ``release_dir`` and point the stack at it. See the module docstring for order."""
    release, archive, state = upload(target, release_dir, s3=s3, pointers=pointers,
                                     release_id=release_id, err=err)
    pointers.publish(release, state)
    event_id = announce(pointers, release.manifest)
    return Pushed(release, archive.sha256, archive.size, state.current, event_id)


def planned_release(target: Target, release_id: str | None) -> Release:
    """The release an upload will create: its id and manifest URL are known before it starts."""
    bucket = _need_bucket(target)
    release_id = check_release_id(release_id) if release_id else new_release_id()
    manifest = s3_url(bucket, manifest_key(target.app, release_id))
    # Refused before the upload: an event that cannot fire would strand a moved pointer.
    check_event_fits(deploy_event(target.app, target.stack), manifest)
    return Release(release=release_id, manifest=manifest,
                   at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), by=_who())


def _need_bucket(target: Target) -> str:
    if not target.bucket:
        raise DeployError(f"no release bucket for stack '{target.stack}': pass --bucket (the "
                          "stack output releaseBucket), set WEBTIER_RELEASE_BUCKET, or set "
                          f"webtier:release.bucketName in Pulumi.{target.stack}.yaml")
    return target.bucket


def upload(target: Target, release_dir: Path, *, s3: Any, pointers: PointerStore,
           release_id: str | None = None, err: TextIO | None = None,
           planned: Release | None = None) -> tuple[Release, Archive, PointerState]:
    """Upload the archive and its manifest; returns the pointer state read before the upload."""
    release = planned or planned_release(target, release_id)
    bucket, release_id = _need_bucket(target), release.release
    if not release_dir.is_dir():
        raise ReleaseError(f"release directory {str(release_dir)!r} does not exist or is not a "
                           "directory")
    check_links(release_dir)
    # The pointer is read before anything is uploaded: an unreachable Consul stops the deploy
    # there, and the value read is what the final check-and-set insists is still in place. The
    # reads run while the first part is being packed; no part goes up until they have passed.
    key = archive_key(target.app, release_id)
    estimated = release_size(release_dir)
    progress = Progress(f"{target.app} {release_id}", estimated, err)

    def on_part(part: ArchivePart, data: bytes) -> None:
        # An archive left by a push that died before its manifest is checked, not re-sent.
        if not before.result()[1]:
            upload(part, data)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="deploy-checks") as checks:
        # The three reads go out together (a push waits one round trip for them, not three);
        # their answers are taken in this order, so an unreadable pointer is still the error
        # reported first.
        reading = checks.submit(pointers.read)
        refusing = checks.submit(_refuse_existing, s3, bucket, target.app, release_id)
        existing = checks.submit(_exists, s3, bucket, key)

        def preflight() -> tuple[PointerState, bool]:
            state = reading.result()
            refusing.result()
            return state, existing.result()

        before = checks.submit(preflight)
        upload = StreamingUpload(s3, bucket, key, progress=progress,
                                 metadata={"release-id": release_id},
                                 before_start=before.result)
        try:
            archive = build_archive(release_dir, part_size=part_size_for(estimated),
                                    on_part=on_part)
            if before.result()[1]:
                upload.abort()
                _resume(s3, bucket, key, release_id, archive, err)
            else:
                upload.complete(archive)
        except BaseException:
            upload.abort()
            raise
    state = before.result()[0]

    manifest = render_manifest(src=s3_url(bucket, key), sha256=archive.sha256,
                               release_id=release_id, keep=target.keep,
                               app_root=target.app_root)
    put_small(s3, bucket, manifest_key(target.app, release_id), manifest.encode(),
              "text/yaml", lambda b: hashlib.sha256(b).digest())

    return release, archive, state


def _refuse_existing(s3: Any, bucket: str, app: str, release_id: str) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=manifest_key(app, release_id))
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return
        raise UploadError(f"cannot use bucket {bucket!r}: {describe(e)}") from e
    except BotoCoreError as e:
        raise UploadError(f"cannot reach S3 for bucket {bucket!r}: {describe(e)}") from e
    raise DeployError(f"release {release_id} already exists in s3://{bucket}/"
                      f"{release_prefix(app)}/; pick another --release-id")


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if str(e.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise UploadError(f"cannot read s3://{bucket}/{key}: {describe(e)}") from e
    except BotoCoreError as e:
        raise UploadError(f"cannot reach S3 for bucket {bucket!r}: {describe(e)}") from e
    return True


def _resume(s3: Any, bucket: str, key: str, release_id: str, archive: Archive,
            err: TextIO | None) -> None:
    """Reuse the archive an interrupted push of the same files stored; refuse other content."""
    try:
        verify(s3, StoredObject(bucket, key, None), archive)
    except UploadError as e:
        raise DeployError(
            f"s3://{bucket}/{key} was left by an earlier push of {release_id} that stopped "
            f"before its manifest, and holds other files ({e}); push with another "
            f"--release-id, or delete it (`aws s3 rm s3://{bucket}/{key}`) and push again"
        ) from None
    print(f"{release_id}: resuming an interrupted push: s3://{bucket}/{key} already holds "
          "this archive (same SHA-256); not uploading it again", file=err or sys.stderr)


def announce(pointers: PointerStore, manifest: str) -> str:
    try:
        return pointers.announce(manifest)
    except PointerError as e:
        raise EventError(f"{pointers.current_key} now names {manifest}, but the `{pointers.event}` "
                         f"event was not fired: {e}. Running instances keep their release until it "
                         "is; new instances already boot the new one. Fire it with "
                         "`python -m deploy notify`.") from e


def _who() -> str:
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"github:{actor}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
