"""The command line of `python -m deploy`: its commands and flags, nothing else."""

# Every `help=` line carries `# pragma: no mutate`: help texts are documentation only (no parse
# result or error depends on them), so mutating them would only count untestable wording.
# Flags, defaults, types, prog and metavars stay mutated;
# tests/deploy/test_deploy_arguments.py pins them.

from __future__ import annotations

import argparse
import math
from pathlib import Path

from contracts.argument_parser import ArgumentParser


def _seconds(text: str, *, zero: bool) -> float:
    """A finite number of seconds, above 0 (or 0 too if ``zero``): nan and inf would wait
    forever, a negative number never."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
        words = "a number of seconds, 0 or more" if zero else "a positive number of seconds"
        raise argparse.ArgumentTypeError(f"{text!r}: must be {words}")
    return value


def positive_seconds(text: str) -> float:
    return _seconds(text, zero=False)


def bake_seconds(text: str) -> float:
    return _seconds(text, zero=True)


def canary_spec(text: str) -> str:
    """``N`` nodes (at least 1) or ``P%`` of the healthy ones (more than 0, under 100)."""
    try:
        ok = 0 < float(text[:-1]) < 100 if text.endswith("%") else int(text) >= 1
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be a whole number of nodes (1 or more) or a percentage under 100% "
            "like 25%; to deploy to every node at once, push without --canary")
    return text


def build(description: str) -> argparse.ArgumentParser:
    """Every command and flag of `python -m deploy`; ``description`` is the CLI's docstring."""
    common = ArgumentParser(add_help=False)
    common.add_argument(
        "--stack", required=True,
        help="stack to deploy to (staging, production)",  # pragma: no mutate
    )
    common.add_argument(
        "--app",
        help="app name (default: webtier:app of the stack)",  # pragma: no mutate
    )
    common.add_argument(
        "--bucket",
        help="release bucket (default: $WEBTIER_RELEASE_BUCKET, "  # pragma: no mutate
        "then webtier:release.bucketName, then the name the stack gives it: "  # pragma: no mutate
        "<app>-<stack>-releases-<account>)",  # pragma: no mutate
    )
    common.add_argument(
        "--kv-prefix",
        help="stack KV prefix (default: webtier:kv.prefix, "  # pragma: no mutate
        "else <app>/<stack>)",  # pragma: no mutate
    )
    common.add_argument(
        "--region",
        help="AWS region (default: $AWS_REGION, then aws:region)",  # pragma: no mutate
    )
    common.add_argument(
        "--s3-endpoint",
        help="S3 endpoint URL, e.g. a local moto server",  # pragma: no mutate
    )
    common.add_argument(
        "--consul-addr",
        help="Consul HTTP address (default: $CONSUL_HTTP_ADDR, then "  # pragma: no mutate
        "webtier:consul.address, then 127.0.0.1:8500)",  # pragma: no mutate
    )
    common.add_argument(
        "--consul-token-file",
        help="file holding the Consul ACL token (default: $CONSUL_HTTP_TOKEN, "  # pragma: no mutate
        "then $CONSUL_HTTP_TOKEN_FILE); never pass a token on the "  # pragma: no mutate
        "command line",  # pragma: no mutate
    )
    common.add_argument(
        "--consul-ca",
        help="CA bundle for an https Consul address (default: $CONSUL_CACERT)",  # pragma: no mutate
    )

    # No abbreviations (`--consul-token X` is never --consul-token-file X), and a refused
    # command line never echoes a value; the subcommands are built by the same class.
    top = ArgumentParser(
        prog="python -m deploy",
        description=description,  # pragma: no mutate
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)
    wait = ArgumentParser(add_help=False)
    wait.add_argument(
        "--timeout", type=positive_seconds, default=600.0,
        help="seconds to wait for the nodes (default 600)",  # pragma: no mutate
    )
    wait.add_argument(
        "--no-wait", action="store_true",
        help="do not wait for the nodes to run the release and pass "  # pragma: no mutate
        "their check",  # pragma: no mutate
    )
    p = sub.add_parser(
        "push", parents=[common, wait],
        help="publish a release directory",  # pragma: no mutate
    )
    p.add_argument(
        "release_dir", type=Path, nargs="?",
        help="directory whose contents are the release",  # pragma: no mutate
    )
    p.add_argument(
        "--release-id",
        help="release id (default: UTC timestamp + random suffix)",  # pragma: no mutate
    )
    p.add_argument(
        "--keep", type=int,
        help="releases each instance keeps "  # pragma: no mutate
        "(default: webtier:release.keepReleases)",  # pragma: no mutate
    )
    p.add_argument(
        "--canary", type=canary_spec,
        help="first deploy to N healthy nodes (or P%%); the pointer moves "  # pragma: no mutate
        "only once they run it healthy for --bake seconds",  # pragma: no mutate
    )
    p.add_argument(
        "--bake", type=bake_seconds, default=60.0,
        help="seconds the canary nodes must stay healthy (default 60)",  # pragma: no mutate
    )
    p.add_argument(
        "--resume", action="store_true",
        help="finish the canary in flight (after a Ctrl-C)",  # pragma: no mutate
    )
    p.add_argument(
        "--abort", action="store_true",
        help="send the in-flight canary's nodes back to the current release",  # pragma: no mutate
    )
    r = sub.add_parser(
        "rollback", parents=[common, wait],
        help="point the stack back at the previous release",  # pragma: no mutate
    )
    r.add_argument(
        "--to",
        help="release id from the history to go back to",  # pragma: no mutate
    )
    st = sub.add_parser(
        "status", parents=[common],
        help="show the pointer, the history, the nodes and any canary "  # pragma: no mutate
        "in flight",  # pragma: no mutate
    )
    st.add_argument(
        "--wait", metavar="RELEASE",
        help="follow the rollout until every healthy node runs RELEASE",  # pragma: no mutate
    )
    st.add_argument(
        "--timeout", type=positive_seconds, default=600.0,
        help="seconds --wait waits (default 600)",  # pragma: no mutate
    )
    sub.add_parser(
        "notify", parents=[common],
        help="fire the deploy event for the current release",  # pragma: no mutate
    )
    return top
