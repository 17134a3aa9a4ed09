"""Create the stack's Consul ACL policies and tokens, idempotently.

    python -m consul_tokens --stack staging --dry-run     # the policies, nothing contacted
    python -m consul_tokens --stack staging --set-config  # create, then store them as secrets
    python -m consul_tokens --stack staging               # create, print the commands (terminal)

Talks to webtier:consul.address (else CONSUL_HTTP_ADDR) with CONSUL_HTTP_TOKEN, a token allowed
to write ACLs (the bootstrap token, or one with `acl = "write"`). Tokens never go to a log or a
file: --set-config hands each one to `pulumi config set --secret` on stdin; without it they are
printed only when stdout is a terminal.

Exit codes: 0 done, 2 bad arguments, stack settings or no Consul address, 3 Consul refused or
unreachable, 4 `pulumi config set` failed, 5 refused to print tokens to something that is not a
terminal, 6 a token with this command's description carries other policies, roles or identities
than its own policy (never reused, never stored: the line names its accessor and the fix).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from components.consul_client import (
    ConsulClient,
    ConsulConnection,
    ConsulError,
    Endpoint,
    resolve_connection,
)
from components.settings import SettingsError, StackSettings, parse_settings
from components.settings.secrets import SECRET_KEYS
from consul_tokens.apply import Ensured, ForeignToken, ensure
from consul_tokens.rules import TokenSpec, stack_tokens
from contracts.names import STACKS

ROOT = Path(__file__).resolve().parent.parent
EXIT_USAGE, EXIT_CONSUL, EXIT_PULUMI, EXIT_NOT_A_TERMINAL, EXIT_FOREIGN = 2, 3, 4, 5, 6


class CommandError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def load_stack(stack: str, root: Path = ROOT) -> StackSettings:
    """The stack's committed settings. Its secrets are what this command makes, so placeholders
    stand in for them (their values are never used here)."""
    from mock_engine import stack_config  # the committed-config loader the plan uses

    try:
        config, secret_keys = stack_config(stack, root=root)
        return parse_settings(stack, config, secret_keys)
    except FileNotFoundError as err:
        raise CommandError(EXIT_USAGE, f"--stack {stack}: {err}") from None
    except SettingsError as err:
        raise CommandError(EXIT_USAGE, str(err)) from None


def specs_for(settings: StackSettings) -> list[TokenSpec]:
    specs = stack_tokens(settings.app, settings.stack, settings.kv.prefix,
                         settings.consul.wan.failover_services)
    unknown = [s.config_key for s in specs if s.config_key and s.config_key not in SECRET_KEYS]
    assert not unknown, f"config keys not in SECRET_KEYS: {unknown}"
    return specs


def print_dry_run(specs: Sequence[TokenSpec], out: TextIO) -> None:
    for spec in specs:
        target = f"-> webtier:{spec.config_key}" if spec.config_key else "-> kept by the operator"
        out.write(f"# {spec.policy_name} ({spec.role}) {target}\n{spec.rules}\n")


def set_config(result: Ensured, stack: str, run: Callable[..., subprocess.CompletedProcess[str]],
               cwd: Path) -> None:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CommandError(EXIT_PULUMI, "--set-config: the pulumi CLI is not on PATH; install it "
                           "or run without --set-config in a terminal")
    key = result.spec.config_key
    done = run([pulumi, "config", "set", "--secret", str(key), "--stack", stack],
               input=result.secret_id, text=True, capture_output=True, cwd=cwd, check=False)
    if done.returncode != 0:
        # pulumi's stderr never holds the value (it came on stdin); scrub it anyway.
        err = done.stderr.replace(result.secret_id, "[secret]").strip().splitlines()[-1:] or [""]
        raise CommandError(EXIT_PULUMI, f"pulumi config set --secret {key} --stack {stack} "
                           f"failed: {err[0]}")


def report(results: Sequence[Ensured], stack: str, *, stored: bool, out: TextIO) -> None:
    for r in results:
        out.write(f"{r.spec.policy_name}: policy {r.policy}, token {r.token} "
                  f"(accessor {r.accessor_id})\n")
    out.write("\n")
    for r in results:
        if r.spec.config_key is None:
            if stored:
                out.write(f"# {r.spec.role}: read it when you need it with "
                          f"`consul acl token read -id {r.accessor_id}`\n")
            else:
                out.write(f"export CONSUL_HTTP_TOKEN={r.secret_id}  # {r.spec.role}: for "
                          "`python -m deploy`\n")
        elif stored:
            out.write(f"stored webtier:{r.spec.config_key} (secret) in stack {stack}\n")
        else:
            out.write(f"pulumi config set --secret {r.spec.config_key} {r.secret_id} "
                      f"--stack {stack}\n")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m consul_tokens",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, choices=STACKS)
    p.add_argument("--dry-run", action="store_true", help="print the policies; contact nothing")
    p.add_argument("--set-config", action="store_true",
                   help="store the tokens with `pulumi config set --secret` (value on stdin)")
    p.add_argument("--address", help="Consul HTTP API (default webtier:consul.address, then "
                   "CONSUL_HTTP_ADDR)")
    return p.parse_args(argv)


def run(argv: Sequence[str], *, environ: Mapping[str, str], out: TextIO, err: TextIO,
        is_terminal: bool, root: Path = ROOT,
        runner: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) and EXIT_USAGE
    try:
        settings = load_stack(args.stack, root)
        specs = specs_for(settings)
        if args.dry_run:
            print_dry_run(specs, out)
            return 0
        if not args.set_config and not is_terminal:
            raise CommandError(EXIT_NOT_A_TERMINAL, "stdout is not a terminal and the output "
                               "would carry tokens: use --set-config, or run it in a terminal")
        if not environ.get("CONSUL_HTTP_TOKEN"):
            raise CommandError(EXIT_USAGE, "CONSUL_HTTP_TOKEN is not set: export a token allowed "
                               "to write ACLs (e.g. the bootstrap token)")
        tls = settings.consul.tls
        try:
            where = resolve_connection(ConsulConnection(
                address=args.address or settings.consul.address,
                datacenter=settings.consul.datacenter,
                ca_cert=tls.ca_cert if tls.enabled else None), environ)
        except ValueError as e:
            raise CommandError(EXIT_USAGE, str(e)) from None
        endpoint = Endpoint(where.address, where.datacenter, where.ca_pem,
                            environ["CONSUL_HTTP_TOKEN"])
        try:
            with ConsulClient(endpoint) as client:
                results = [ensure(client, spec) for spec in specs]
        except ForeignToken as e:
            raise CommandError(EXIT_FOREIGN, str(e)) from None
        except ConsulError as e:
            raise CommandError(EXIT_CONSUL, f"{endpoint.where()}: {e}") from None
        if args.set_config:
            for r in results:
                if r.spec.config_key:
                    set_config(r, args.stack, runner, root)
        report(results, args.stack, stored=args.set_config, out=out)
        return 0
    except CommandError as e:
        err.write(f"consul_tokens: {e}\n")
        return e.code


def main(argv: Sequence[str]) -> int:
    return run(argv, environ=os.environ, out=sys.stdout, err=sys.stderr,
               is_terminal=sys.stdout.isatty())
