"""`python -m deploy`: publish a release to a stack's instances, or roll it back.

push:     release dir -> tar.gz -> S3 (verified) -> stretcher manifest -> KV pointer -> event
rollback: KV pointer -> the release before it (or --to ID) -> `deploy` event
status:   what the pointer names, the deploy history, every node's release and health
push --canary N|P%: the release goes to N healthy nodes first; the pointer moves only once they
          run it healthy for --bake seconds (docs/deploys-canary.md)
push and rollback then wait until every node runs the release healthy (unless --no-wait).
notify:   fire the `deploy` event again for what the pointer names

Nothing here touches the fleet or the image: instances pull the release themselves, at boot
(release-pull) and on the event (deploy-event-handler). Any failure before the pointer write
leaves the pointer, and so every instance, on the release it had.

Exit codes (docs/exit-codes.md):
  0    done
  1    refused or failed (one line saying why; the pointer is unchanged unless it says so)
  2    bad usage (unknown command or option)
  3    the pointer moved but the `deploy` event was not fired: run `notify`
  4    the canary failed: the pointer is unchanged and the canary nodes were sent back
  5    the pointer moved, but the fleet is not healthy on the release
  130  interrupted (Ctrl-C): the pointer moves only in the last step, and a canary in flight
       stays recorded (`status` explains it, `push --resume` finishes it, `--abort` reverts it)
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.release_layout import (
    APP_ROOT,
    archive_key,
    default_release_bucket,
    manifest_key,
    release_prefix,
)
from contracts.stack_file import StackFileError, load_stack_config
from deploy import arguments
from deploy.artifacts import (
    Archive,
    ArchivePart,
    ReleaseError,
    build_archive,
    check_app,
    check_links,
    check_release_id,
    new_release_id,
    part_size_for,
    release_size,
    render_manifest,
    s3_url,
)
from deploy.canary import CanaryError, Clock
from deploy.canary_lock import CanaryLock, fire_to
from deploy.fleet_status import FleetError, FleetView
from deploy.pointer import PointerError, PointerState, PointerStore, Release, connect
from deploy.rollout import (
    CanaryFailed,
    Ports,
    RolloutUnhealthy,
    finish_canary,
    fleet_lines,
    follow,
    refuse_if_canary,
    resume_or_abort,
    start_canary,
    wait_fleet,
)
from deploy.s3 import (
    Progress,
    StoredObject,
    StreamingUpload,
    UploadError,
    describe,
    put_small,
    verify,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEEP = 5
UNCHANGED = "the deploy pointer was not changed"


class DeployError(Exception):
    """A failure the user can act on; the message says what happened and what was left as is."""


@dataclass(frozen=True)
class Target:
    """Where a stack's releases go: resolved from flags, then env, then Pulumi.<stack>.yaml."""

    stack: str
    app: str
    bucket: str | None
    kv_prefix: str
    keep: int
    region: str | None
    s3_endpoint: str | None
    consul_addr: str
    consul_token: str | None
    consul_ca: str | None
    app_root: str = APP_ROOT
    """Where the manifest unpacks releases on the instances; only tests point it elsewhere."""


@dataclass(frozen=True)
class Pushed:
    release: Release
    sha256: str
    size: int
    previous: str | None
    event_id: str


def stack_defaults(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The few plain values of Pulumi.<stack>.yaml a deploy needs; {} when there is no file."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    try:
        config = load_stack_config(path)
    except StackFileError as e:
        raise DeployError(str(e)) from None

    def section(name: str) -> Mapping[str, Any]:
        value = config.get(f"webtier:{name}") or {}
        return value if isinstance(value, Mapping) else {}

    app = config.get("webtier:app", "webtier")
    return {
        "app": app,
        "region": config.get("aws:region"),
        "kv_prefix": section("kv").get("prefix", f"{app}/{stack}"),
        "bucket": section("release").get("bucketName"),
        "keep": section("release").get("keepReleases", DEFAULT_KEEP),
        "consul_addr": section("consul").get("address"),
        "consul_ca": section("consul").get("caCertPath"),
    }


def resolve_target(args: argparse.Namespace, env: Mapping[str, str], root: Path = ROOT) -> Target:
    if not (root / f"Pulumi.{args.stack}.yaml").is_file():
        # A mistyped stack would otherwise deploy under a made-up KV prefix, silently.
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise DeployError(f"--stack {args.stack!r}: there is no Pulumi.{args.stack}.yaml; "
                          f"stacks are {', '.join(known) or 'none'}")
    defaults = stack_defaults(args.stack, root)

    def pick(flag: str, env_name: str | None, default: Any = None) -> Any:
        value = getattr(args, flag, None)
        if value is None and env_name:
            value = env.get(env_name) or None
        if value is None:
            value = defaults.get(flag, default)
        return value

    app = check_app(str(pick("app", "WEBTIER_APP", "webtier")))
    token = args.consul_token_file and _read_token(args.consul_token_file)
    token = token or env.get("CONSUL_HTTP_TOKEN") or (
        _read_token(env["CONSUL_HTTP_TOKEN_FILE"]) if env.get("CONSUL_HTTP_TOKEN_FILE") else None)
    keep = pick("keep", None, DEFAULT_KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        where = ("--keep" if getattr(args, "keep", None) is not None
                 else "webtier:release.keepReleases")
        raise DeployError(f"{where} {json.dumps(keep, default=str)}: must be a whole number of "
                          "at least 1 (releases kept on each instance)")
    return Target(
        stack=args.stack,
        app=app,
        bucket=pick("bucket", "WEBTIER_RELEASE_BUCKET"),
        kv_prefix=str(pick("kv_prefix", "WEBTIER_KV_PREFIX", f"{app}/{args.stack}")),
        keep=keep,
        region=pick("region", "AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        s3_endpoint=_endpoint(pick("s3_endpoint", "AWS_ENDPOINT_URL_S3"),
                              "--s3-endpoint (or AWS_ENDPOINT_URL_S3)", schemeless=False),
        consul_addr=_endpoint(str(pick("consul_addr", "CONSUL_HTTP_ADDR", "127.0.0.1:8500")),
                              "--consul-addr (or CONSUL_HTTP_ADDR, webtier:consul.address)",
                              schemeless=True),
        consul_token=token,
        consul_ca=pick("consul_ca", "CONSUL_CACERT"),
    )


def _endpoint(value: Any, where: str, *, schemeless: bool) -> Any:
    """``value`` if it is a usable http(s) address; a DeployError naming ``where`` if not."""
    if value is None:
        return None
    text = str(value)
    form = "host:port or http(s)://host:port" if schemeless else "an http(s)://host[:port] URL"
    try:
        parsed = urllib.parse.urlsplit(text if "//" in text or not schemeless
                                       else f"http://{text}")
        ok = parsed.scheme in ("http", "https") and bool(parsed.hostname)
        _ = parsed.port  # raises for a port that is not a number or out of range
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in text):
        raise DeployError(f"{where} {text!r}: must be {form}")
    return value


def _read_token(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as e:
        raise DeployError(f"Consul token file {path!r} cannot be read: {e.strerror}") from e


def s3_client(target: Target) -> Any:
    return boto3.session.Session(region_name=target.region).client(
        "s3", endpoint_url=target.s3_endpoint,
        config=Config(
            retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=8,
            # Every part carries its SHA-256 in a signed x-amz-checksum-sha256 header that S3
            # checks the body against, so hashing the body again for the signature adds
            # nothing; botocore already skips it over https, and this skips it over http too.
            s3={"payload_signing_enabled": False},
        ),
    )


def with_default_bucket(target: Target) -> Target:
    """The bucket the stack created under its default name, for the account deploying."""
    session = boto3.session.Session(region_name=target.region)
    sts_endpoint = os.environ.get("AWS_ENDPOINT_URL_STS") or target.s3_endpoint
    try:
        account = session.client("sts", endpoint_url=sts_endpoint).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as e:
        raise DeployError(f"no release bucket for stack '{target.stack}' and no AWS account to "
                          f"derive it from ({describe(e)}): pass --bucket (`pulumi stack output "
                          "releaseBucket`) or set WEBTIER_RELEASE_BUCKET") from e
    return replace(target, bucket=default_release_bucket(target.app, target.stack, account))


def push(target: Target, release_dir: Path, *, s3: Any, pointers: PointerStore,
         release_id: str | None = None, err: TextIO | None = None) -> Pushed:
    """Publish ``release_dir`` and point the stack at it. See the module docstring for order."""
    release, archive, state = upload(target, release_dir, s3=s3, pointers=pointers,
                                     release_id=release_id, err=err)
    pointers.publish(release, state)
    event_id = _announce(pointers, release.manifest)
    return Pushed(release, archive.sha256, archive.size, state.current, event_id)


def planned_release(target: Target, release_id: str | None) -> Release:
    """The release an upload will create: its id and manifest URL are known before it starts."""
    bucket = _need_bucket(target)
    release_id = check_release_id(release_id) if release_id else new_release_id()
    return Release(release=release_id,
                   manifest=s3_url(bucket, manifest_key(target.app, release_id)),
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

    def preflight() -> tuple[PointerState, bool]:
        state = pointers.read()
        _refuse_existing(s3, bucket, target.app, release_id)
        return state, _exists(s3, bucket, key)

    def on_part(part: ArchivePart, data: bytes) -> None:
        # An archive left by a push that died before its manifest is checked, not re-sent.
        if not before.result()[1]:
            upload(part, data)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy-checks") as checks:
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


def rollback(target: Target, *, s3: Any, pointers: PointerStore,
             to: str | None = None) -> tuple[Release, str | None, str]:
    """Point the stack back at an earlier release; returns (release, previous URL, event id)."""
    state = pointers.read()
    chosen = choose_rollback(state, to)
    bucket, key = _split_s3(chosen.manifest)
    if target.bucket and bucket != target.bucket:
        raise DeployError(f"history entry {chosen.release} names bucket {bucket!r}, but stack "
                          f"'{target.stack}' deploys from {target.bucket!r}; {UNCHANGED}")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as e:  # botocore raises ClientError and BotoCoreError subclasses
        raise DeployError(f"cannot roll back to {chosen.release}: its manifest {chosen.manifest} "
                          f"is not readable ({describe(e)}); {UNCHANGED}") from e
    pointers.point_to(chosen.manifest, state)
    return chosen, state.current, _announce(pointers, chosen.manifest)


def choose_rollback(state: PointerState, to: str | None) -> Release:
    """The release a rollback goes to: ``to`` if given, else the one pushed before the current."""
    if state.current is None:
        raise DeployError("nothing is deployed yet (the pointer is unset): there is nothing "
                          "to roll back")
    known = ", ".join(r.release for r in state.history) or "none"
    if to is not None:
        for entry in state.history:
            if entry.release == to:
                if entry.manifest == state.current:
                    raise DeployError(f"{to} is already the current release; {UNCHANGED}")
                return entry
        raise DeployError(f"--to {to!r} is not in the deploy history (known: {known}); "
                          f"{UNCHANGED}")
    for i, entry in enumerate(state.history):
        if entry.manifest == state.current:
            if i + 1 < len(state.history):
                return state.history[i + 1]
            raise DeployError(f"{entry.release} is the oldest release in the history; there "
                              f"is nothing before it; {UNCHANGED}")
    raise DeployError(f"the pointer names {state.current}, which is not in the deploy history "
                      f"(known: {known}); pick one with --to; {UNCHANGED}")


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


def _announce(pointers: PointerStore, manifest: str) -> str:
    try:
        return pointers.announce(manifest)
    except PointerError as e:
        raise EventError(f"{pointers.current_key} now names {manifest}, but the `deploy` event "
                         f"was not fired: {e}. Running instances keep their release until it "
                         "is; new instances already boot the new one. Fire it with "
                         "`python -m deploy notify`.") from e


class EventError(DeployError):
    """The pointer moved but the instances were not told."""


def _split_s3(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DeployError(f"{url!r} is not an s3:// URL")
    return parsed.netloc, parsed.path.lstrip("/")


def _who() -> str:
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"github:{actor}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# --- command line ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    return arguments.build(__doc__ or "")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        target = resolve_target(args, os.environ if env is None else env)
        if not target.bucket:
            target = with_default_bucket(target)
        client = connect(target.consul_addr, target.consul_token, target.consul_ca)
        pointers = PointerStore(client, target.kv_prefix, target.app)
        ports = Ports(pointers, CanaryLock(client, target.kv_prefix, target.app),
                      FleetView(client, target.kv_prefix, target.app).nodes,
                      lambda manifest, nodes: fire_to(client, manifest, nodes),
                      Clock(time.monotonic, time.sleep), err)
        if args.command == "push":
            _push_command(args, target, pointers, ports, out)
        elif args.command == "rollback":
            refuse_if_canary(ports.lock)
            chosen, previous, event_id = rollback(target, s3=s3_client(target),
                                                  pointers=pointers, to=args.to)
            print(f"rolled back {pointers.current_key} to {chosen.release} "
                  f"({chosen.manifest}); was {previous}", file=out)
            print(f"event:    {event_id}", file=out)
            if not args.no_wait:
                wait_fleet(ports, chosen.release, args.timeout)
                print(f"fleet:    every node runs {chosen.release}, healthy", file=out)
        elif args.command == "status":
            _print_status(pointers, out)
            for line in fleet_lines(ports, pointers.read(), target.stack):
                print(line, file=out)
            if args.wait:
                follow(ports, args.wait, args.timeout, out)
        else:
            current = pointers.read().current
            if current is None:
                raise DeployError(f"{pointers.current_key} is unset: nothing to announce")
            print(f"event:    {_announce(pointers, current)} ({current})", file=out)
    except KeyboardInterrupt:
        print("deploy: interrupted; any canary in flight stays recorded: `python -m deploy "
              "status` explains it, `push --resume` finishes it, `push --abort` reverts it",
              file=err)
        return 130
    except CanaryFailed as e:
        print(f"deploy: error: {e}", file=err)
        return 4
    except RolloutUnhealthy as e:
        print(f"deploy: error: {e}", file=err)
        return 5
    except EventError as e:
        print(f"deploy: error: {e}", file=err)
        return 3
    except (DeployError, ReleaseError, UploadError, PointerError, CanaryError, FleetError) as e:
        unchanged = "" if UNCHANGED in str(e) else f"; {UNCHANGED}"
        print(f"deploy: error: {e}{unchanged}", file=err)
        return 1
    return 0


def _print_status(pointers: PointerStore, out: TextIO) -> None:
    state = pointers.read()
    print(f"{pointers.current_key}: {state.current or 'unset'}", file=out)
    print(f"{pointers.previous_key}: {state.previous or 'unset'}", file=out)
    for entry in state.history:
        mark = "*" if entry.manifest == state.current else " "
        print(f" {mark} {entry.release}  {entry.at}  {entry.by}  {entry.manifest}", file=out)



def _push_command(args: argparse.Namespace, target: Target, pointers: PointerStore,
                  ports: Ports, out: TextIO) -> None:
    s3 = s3_client(target)
    if args.release_dir is not None and args.release_dir.is_dir():
        # Refused before any call: a link out of the release never reaches S3 or Consul.
        check_links(args.release_dir)
    if args.resume or args.abort:
        resumed = resume_or_abort(ports, abort=args.abort, timeout=args.timeout, out=out)
        if resumed is None:
            return
        release = resumed
    elif args.release_dir is None:
        raise DeployError("push needs a release directory (or --resume / --abort)")
    elif args.canary:
        planned = planned_release(target, args.release_id)
        record, index = start_canary(ports, planned, args.canary, args.bake, lambda: upload(
            target, args.release_dir, s3=s3, pointers=pointers, err=ports.err,
            planned=planned)[2])
        release = record.release
        print(f"release:  {release} ({record.manifest})", file=out)
        print(f"event:    {finish_canary(ports, record, index, args.timeout)}", file=out)
    else:
        refuse_if_canary(ports.lock)
        pushed = push(target, args.release_dir, s3=s3, pointers=pointers,
                      release_id=args.release_id, err=ports.err)
        release = pushed.release.release
        print(f"release:  {release} ({pushed.size} bytes, sha256 {pushed.sha256})", file=out)
        print(f"manifest: {pushed.release.manifest}", file=out)
        print(f"pointer:  {pointers.current_key} (was {pushed.previous or 'unset'})", file=out)
        print(f"event:    {pushed.event_id}", file=out)
    if not args.no_wait:
        wait_fleet(ports, release, args.timeout)
        print(f"fleet:    every node runs {release}, healthy", file=out)

