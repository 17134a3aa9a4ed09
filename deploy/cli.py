"""`python -m deploy`: publish a release to a stack's instances, or roll it back.

push:     release dir -> tar.gz -> S3 (verified) -> stretcher manifest -> KV pointer -> event
rollback: KV pointer -> the release before it (or --to ID) -> `deploy` event
status:   what the pointer names and the deploy history
notify:   fire the `deploy` event again for what the pointer names

Nothing here touches the fleet or the image: instances pull the release themselves, at boot
(release-pull) and on the event (deploy-event-handler). Any failure before the pointer write
leaves the pointer, and so every instance, on the release it had.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.release_layout import (
    APP_ROOT,
    archive_key,
    default_release_bucket,
    manifest_key,
    release_prefix,
)
from deploy.artifacts import (
    ReleaseError,
    build_archive,
    check_app,
    check_release_id,
    new_release_id,
    part_size_for,
    release_size,
    render_manifest,
    s3_url,
)
from deploy.pointer import PointerError, PointerState, PointerStore, Release, connect
from deploy.s3 import Progress, StreamingUpload, UploadError, describe, put_small

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
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}

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
    keep = int(pick("keep", None, DEFAULT_KEEP))
    if keep < 1:
        raise DeployError(f"--keep {keep}: must be at least 1 (releases kept on each instance)")
    return Target(
        stack=args.stack,
        app=app,
        bucket=pick("bucket", "WEBTIER_RELEASE_BUCKET"),
        kv_prefix=str(pick("kv_prefix", "WEBTIER_KV_PREFIX", f"{app}/{args.stack}")),
        keep=keep,
        region=pick("region", "AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        s3_endpoint=pick("s3_endpoint", "AWS_ENDPOINT_URL_S3"),
        consul_addr=str(pick("consul_addr", "CONSUL_HTTP_ADDR", "127.0.0.1:8500")),
        consul_token=token,
        consul_ca=pick("consul_ca", "CONSUL_CACERT"),
    )


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
    if not target.bucket:
        raise DeployError(f"no release bucket for stack '{target.stack}': pass --bucket (the "
                          "stack output releaseBucket), set WEBTIER_RELEASE_BUCKET, or set "
                          f"webtier:release.bucketName in Pulumi.{target.stack}.yaml")
    bucket = target.bucket
    release_id = check_release_id(release_id) if release_id else new_release_id()
    if not release_dir.is_dir():
        raise ReleaseError(f"release directory {str(release_dir)!r} does not exist or is not a "
                           "directory")
    # The pointer is read before anything is uploaded: an unreachable Consul stops the deploy
    # there, and the value read is what the final check-and-set insists is still in place. The
    # reads run while the first part is being packed; no part goes up until they have passed.
    key = archive_key(target.app, release_id)
    estimated = release_size(release_dir)
    progress = Progress(f"{target.app} {release_id}", estimated, err)

    def preflight() -> PointerState:
        state = pointers.read()
        _refuse_existing(s3, bucket, target.app, release_id)
        return state

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy-checks") as checks:
        before = checks.submit(preflight)
        upload = StreamingUpload(s3, bucket, key, progress=progress,
                                 metadata={"release-id": release_id},
                                 before_start=before.result)
        try:
            archive = build_archive(release_dir, part_size=part_size_for(estimated),
                                    on_part=upload)
            upload.complete(archive)
        except BaseException:
            upload.abort()
            raise
    state = before.result()

    manifest = render_manifest(src=s3_url(bucket, key), sha256=archive.sha256,
                               release_id=release_id, keep=target.keep,
                               app_root=target.app_root)
    put_small(s3, bucket, manifest_key(target.app, release_id), manifest.encode(),
              "text/yaml", lambda b: hashlib.sha256(b).digest())

    release = Release(release=release_id, manifest=s3_url(bucket, manifest_key(target.app,
                                                                             release_id)),
                      at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), by=_who())
    pointers.publish(release, state)
    event_id = _announce(pointers, release.manifest)
    return Pushed(release, archive.sha256, archive.size, state.current, event_id)


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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="stack to deploy to (staging, production)")
    common.add_argument("--app", help="app name (default: webtier:app of the stack)")
    common.add_argument("--bucket", help="release bucket (default: $WEBTIER_RELEASE_BUCKET, "
                        "then webtier:release.bucketName, then the name the stack gives it: "
                        "<app>-<stack>-releases-<account>)")
    common.add_argument("--kv-prefix", dest="kv_prefix",
                        help="stack KV prefix (default: webtier:kv.prefix, else <app>/<stack>)")
    common.add_argument("--region", help="AWS region (default: $AWS_REGION, then aws:region)")
    common.add_argument("--s3-endpoint", dest="s3_endpoint",
                        help="S3 endpoint URL, e.g. a local moto server")
    common.add_argument("--consul-addr", dest="consul_addr",
                        help="Consul HTTP address (default: $CONSUL_HTTP_ADDR, then "
                        "webtier:consul.address, then 127.0.0.1:8500)")
    common.add_argument("--consul-token-file", dest="consul_token_file",
                        help="file holding the Consul ACL token (default: $CONSUL_HTTP_TOKEN, "
                        "then $CONSUL_HTTP_TOKEN_FILE); never pass a token on the command line")
    common.add_argument("--consul-ca", dest="consul_ca",
                        help="CA bundle for an https Consul address (default: $CONSUL_CACERT)")

    top = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("push", parents=[common], help="publish a release directory")
    p.add_argument("release_dir", type=Path, help="directory whose contents are the release")
    p.add_argument("--release-id", dest="release_id",
                   help="release id (default: UTC timestamp + random suffix)")
    p.add_argument("--keep", type=int,
                   help="releases each instance keeps (default: webtier:release.keepReleases)")
    r = sub.add_parser("rollback", parents=[common],
                       help="point the stack back at the previous release")
    r.add_argument("--to", help="release id from the history to go back to")
    sub.add_parser("status", parents=[common], help="show the pointer and the deploy history")
    sub.add_parser("notify", parents=[common], help="fire the deploy event for the current release")
    return top


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        target = resolve_target(args, os.environ if env is None else env)
        if not target.bucket:
            target = with_default_bucket(target)
        pointers = PointerStore(connect(target.consul_addr, target.consul_token, target.consul_ca),
                                target.kv_prefix, target.app)
        if args.command == "push":
            pushed = push(target, args.release_dir, s3=s3_client(target), pointers=pointers,
                          release_id=args.release_id, err=err)
            print(f"release:  {pushed.release.release} ({pushed.size} bytes, sha256 "
                  f"{pushed.sha256})", file=out)
            print(f"manifest: {pushed.release.manifest}", file=out)
            print(f"pointer:  {pointers.current_key} (was {pushed.previous or 'unset'})", file=out)
            print(f"event:    {pushed.event_id}", file=out)
        elif args.command == "rollback":
            chosen, previous, event_id = rollback(target, s3=s3_client(target),
                                                  pointers=pointers, to=args.to)
            print(f"rolled back {pointers.current_key} to {chosen.release} "
                  f"({chosen.manifest}); was {previous}", file=out)
            print(f"event:    {event_id}", file=out)
        elif args.command == "status":
            _print_status(pointers, out)
        else:
            current = pointers.read().current
            if current is None:
                raise DeployError(f"{pointers.current_key} is unset: nothing to announce")
            print(f"event:    {_announce(pointers, current)} ({current})", file=out)
    except EventError as e:
        print(f"deploy: error: {e}", file=err)
        return 3
    except (DeployError, ReleaseError, UploadError, PointerError) as e:
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

