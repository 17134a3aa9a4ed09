"""The command line of `python -m deploy`: its commands and flags, nothing else."""

from __future__ import annotations

import argparse
from pathlib import Path


def build(description: str) -> argparse.ArgumentParser:
    """Every command and flag of `python -m deploy`; ``description`` is the CLI's docstring."""
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

    top = argparse.ArgumentParser(prog="python -m deploy", description=description,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument("--timeout", type=float, default=600.0,
                      help="seconds to wait for the nodes (default 600)")
    wait.add_argument("--no-wait", dest="no_wait", action="store_true",
                      help="do not wait for the nodes to run the release and pass their check")
    p = sub.add_parser("push", parents=[common, wait], help="publish a release directory")
    p.add_argument("release_dir", type=Path, nargs="?",
                   help="directory whose contents are the release")
    p.add_argument("--release-id", dest="release_id",
                   help="release id (default: UTC timestamp + random suffix)")
    p.add_argument("--keep", type=int,
                   help="releases each instance keeps (default: webtier:release.keepReleases)")
    p.add_argument("--canary", help="first deploy to N healthy nodes (or P%%); the pointer moves "
                   "only once they run it healthy for --bake seconds")
    p.add_argument("--bake", type=float, default=60.0,
                   help="seconds the canary nodes must stay healthy (default 60)")
    p.add_argument("--resume", action="store_true",
                   help="finish the canary in flight (after a Ctrl-C)")
    p.add_argument("--abort", action="store_true",
                   help="send the in-flight canary's nodes back to the current release")
    r = sub.add_parser("rollback", parents=[common, wait],
                       help="point the stack back at the previous release")
    r.add_argument("--to", help="release id from the history to go back to")
    st = sub.add_parser("status", parents=[common],
                        help="show the pointer, the history, the nodes and any canary in flight")
    st.add_argument("--wait", metavar="RELEASE",
                    help="follow the rollout until every healthy node runs RELEASE")
    st.add_argument("--timeout", type=float, default=600.0,
                    help="seconds --wait waits (default 600)")
    sub.add_parser("notify", parents=[common], help="fire the deploy event for the current release")
    return top
