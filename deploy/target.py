"""Where a stack's releases go: flags, then the environment, then Pulumi.<stack>.yaml."""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.aws_ids import BUCKET_NAME, REGION
from contracts.names import KV_PATH, KV_PATH_ALLOWED
from contracts.release_layout import APP_ROOT, default_release_bucket
from contracts.stack_file import StackFileError, load_stack_config
from deploy.artifacts import check_app
from deploy.errors import DeployError
from deploy.s3 import describe

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEEP = 5
# webtier:fleet.maxSize when a stack file leaves it out (components/settings/fleet.py).
DEFAULT_FLEET_MAX = 20


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
    fleet_max: int = DEFAULT_FLEET_MAX
    """The most instances the stack's settings allow (webtier:fleet.maxSize and any scheduled
    maxSize): what a canary's node filter must fit for."""


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
    schedules = section("scaling").get("schedules") or []
    sizes = [section("fleet").get("maxSize", DEFAULT_FLEET_MAX),
             *(s.get("maxSize") for s in schedules if isinstance(s, Mapping))]
    return {
        "fleet_max": max(n for n in sizes if isinstance(n, int) and not isinstance(n, bool)),
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
    bucket = _checked(pick("bucket", "WEBTIER_RELEASE_BUCKET"), BUCKET_NAME.pattern,
                      "--bucket (or WEBTIER_RELEASE_BUCKET, webtier:release.bucketName)",
                      BUCKET_NAME.allowed)
    kv_prefix = _checked(str(pick("kv_prefix", "WEBTIER_KV_PREFIX", f"{app}/{args.stack}")),
                         KV_PATH, "--kv-prefix (or WEBTIER_KV_PREFIX, webtier:kv.prefix)",
                         f"must be {KV_PATH_ALLOWED}")
    region = _checked(pick("region", "AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
                      REGION.pattern, "--region (or AWS_REGION, aws:region)", REGION.allowed)
    return Target(
        stack=args.stack,
        app=app,
        bucket=bucket,
        kv_prefix=kv_prefix,
        keep=keep,
        region=region,
        s3_endpoint=_endpoint(pick("s3_endpoint", "AWS_ENDPOINT_URL_S3"),
                              "--s3-endpoint (or AWS_ENDPOINT_URL_S3)", schemeless=False),
        consul_addr=_endpoint(str(pick("consul_addr", "CONSUL_HTTP_ADDR", "127.0.0.1:8500")),
                              "--consul-addr (or CONSUL_HTTP_ADDR, webtier:consul.address)",
                              schemeless=True),
        consul_token=token,
        fleet_max=int(defaults.get("fleet_max", DEFAULT_FLEET_MAX)),
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


def _checked(value: Any, rule: re.Pattern[str], where: str, allowed: str) -> Any:
    """``value`` (None passes) if it matches ``rule`` whole; a DeployError naming ``where``."""
    if value is not None and not (isinstance(value, str) and rule.fullmatch(value)):
        raise DeployError(f"{where} {value!r}: {allowed}")
    return value


def _read_token(path: str) -> str:
    try:
        token = Path(path).read_bytes().decode("utf-8").strip()
    except OSError as e:
        raise DeployError(f"Consul token file {path!r} cannot be read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        # Never the bytes: they are (part of) a token.
        raise DeployError(f"Consul token file {path!r} is not UTF-8 text (byte {e.start}); it "
                          "must hold only the token") from None
    if not token or not token.isprintable():
        raise DeployError(f"Consul token file {path!r} is empty or holds control characters; it "
                          "must hold only the token") from None
    return token


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
