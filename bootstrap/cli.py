"""python -m bootstrap: prepare an AWS account and the stacks for `pulumi up` from GitHub Actions.

    python -m bootstrap --region ap-northeast-1 --state-bucket acme-webtier-state \\
        --github-repo acme/webtier [--dry-run] [--init-stacks]

Creates, or checks and corrects, each of: the state bucket (versioned, encrypted, public access
blocked, TLS only; its policy merged by statement), a KMS key and alias per stack for its secrets,
GitHub's OIDC provider, and per stack a permissions boundary, a preview role and a deploy role.
Every item prints one line: created, updated, already there, or with --dry-run would create /
would update; drift it leaves to you (a policy someone added to its roles, a disabled key or one
pending deletion, an unprotected production environment) prints `problem` with the command that
fixes it. With GITHUB_TOKEN (or GH_TOKEN) set, it checks the production environment's required
reviewers and branch rule. Then the `pulumi` commands that create the stacks (run with
--init-stacks when `pulumi` is on PATH) and set their secrets.

Exit codes: EXIT_CODES below (docs/exit-codes.md is generated from it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from bootstrap import github_environment, policies, stacks
from bootstrap.account import Clients, Created, Report, Target, bootstrap
from contracts.aws_ids import BUCKET_NAME, REGION
from contracts.names import PROJECT

# Defined once: docs/exit-codes.md is generated from it (python -m contracts.exit_code_table).
EXIT_CODES = {
    0: "done",
    1: "unexpected failure",
    2: "bad arguments",
    3: "AWS refused or unreachable (the message names the call)",
    4: "a `pulumi` command failed",
    5: "done, but problems were found (each `problem` line names its fix)",
    130: "interrupted",
}
EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_AWS, EXIT_PULUMI, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_PROBLEMS = 5
REPO_ALLOWED = "must be owner/name, e.g. acme/webtier"
# Pull requests preview staging; production is previewed only from main (deploy.yml).
PREVIEW_VARIABLES = {"staging": "AWS_PREVIEW_ROLE_ARN",
                     policies.PRODUCTION: "AWS_PRODUCTION_PREVIEW_ROLE_ARN"}


class BootstrapError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise BootstrapError(f"{message} (see --help)", EXIT_USAGE)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m bootstrap", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", required=True, help="AWS region for the bucket and the key")
    parser.add_argument("--state-bucket", required=True,
                        help="S3 bucket for Pulumi state (created if missing)")
    parser.add_argument("--github-repo", required=True,
                        help="owner/name of the repository whose workflows assume the roles")
    parser.add_argument("--dry-run", action="store_true",
                        help="only check and report; change nothing")
    parser.add_argument("--init-stacks", action="store_true",
                        help="also run `pulumi login` and `pulumi stack init` (needs pulumi on "
                             "PATH); without it they are printed")
    args = parser.parse_args(argv)
    problems = []
    if not REGION.matches(args.region):
        problems.append(f"--region {args.region!r} {REGION.allowed}")
    if not BUCKET_NAME.matches(args.state_bucket):
        problems.append(f"--state-bucket {args.state_bucket!r} {BUCKET_NAME.allowed}")
    owner, _, name = args.github_repo.partition("/")
    if not (owner and name and "/" not in name and all(
            ch.isalnum() or ch in "-._" for ch in owner + name)):
        problems.append(f"--github-repo {args.github_repo!r} {REPO_ALLOWED}")
    if problems:
        raise BootstrapError("; ".join(problems), EXIT_USAGE)
    return args


def aws_clients(region: str) -> Clients:
    import boto3

    # AWS_ENDPOINT_URL (honoured by boto3) points every client at a double in the tests.
    session = boto3.session.Session(region_name=region)
    return Clients(*(session.client(name) for name in ("s3", "kms", "iam", "sts")))


def check_github(repo: str, report: Report,
                 get: github_environment.Get | None = None) -> None:
    """Production's environment protection, where a token lets bootstrap ask GitHub."""
    item = f"github environment {policies.PRODUCTION} of {repo}"
    if get is None:
        token, api = github_environment.token_from_env()
        if token is None:
            report.unchecked(item, "set GITHUB_TOKEN (read access to the repository) to check "
                                   "its required reviewers and branch rule")
            return
        get = github_environment.api_get(token, api)
    try:
        problems = github_environment.environment_problems(repo, get)
    except (OSError, ValueError) as err:  # unreachable, refused (401/403), or not JSON
        report.unchecked(item, f"GitHub API did not answer: {str(err).splitlines()[0]}")
        return
    except (AttributeError, TypeError):  # JSON, but not the shape GitHub documents
        report.unchecked(item, "GitHub API answered something that is not an environment")
        return
    for problem in problems:
        report.problem(item, problem, "see docs/first-day.md, step 4")
    if not problems:
        report.record(item, True, True, lambda: None)


def run_aws(args: argparse.Namespace, out: Callable[[str], None],
            report: Report | None = None) -> Created:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    report = report or Report(dry_run=args.dry_run, printer=out)
    try:
        return bootstrap(aws_clients(args.region),
                         Target(args.region, args.state_bucket, args.github_repo), report)
    except NoCredentialsError:
        raise BootstrapError("no AWS credentials: run `aws configure sso` / `aws sso login`, or "
                             "export AWS_PROFILE, for an administrator of the account",
                             EXIT_AWS) from None
    except ClientError as err:
        error = err.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        if code == "BucketAlreadyExists" or (err.operation_name == "HeadBucket"
                                             and code in ("403", "Forbidden")):
            message = ("another account owns this bucket name (or these credentials may not "
                       "read it): choose another --state-bucket")
        raise BootstrapError(f"AWS refused {err.operation_name}: {code}: {message}",
                             EXIT_AWS) from None
    except BotoCoreError as err:
        raise BootstrapError(f"AWS unreachable: {err}", EXIT_AWS) from None


def init_stacks(args: argparse.Namespace, out: Callable[[str], None]) -> None:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise BootstrapError("--init-stacks needs the pulumi CLI on PATH "
                             "(https://www.pulumi.com/docs/install/), or drop --init-stacks and "
                             "run the printed commands", EXIT_PULUMI)

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pulumi, *argv[1:]], cwd=stacks.ROOT, capture_output=True,
                              text=True, check=False, timeout=300)

    login = stacks.login_command(args.state_bucket, args.region)
    if args.dry_run:
        out(f"{'would run':>13}  {stacks.shell(login)}")
    else:
        done = run(login)
        if done.returncode != 0:
            raise BootstrapError(f"{stacks.shell(login)} failed: {_last_line(done)}",
                                 EXIT_PULUMI)
        out(f"{'logged in':>13}  {policies.backend_url(args.state_bucket, args.region)}")
    for stack in stacks.stacks():
        exists = not args.dry_run and run(stacks.select_command(stack)).returncode == 0
        init = stacks.init_command(stack, args.region)
        if exists:
            out(f"{'already there':>13}  pulumi stack {stack}")
        elif args.dry_run:
            out(f"{'would create':>13}  pulumi stack {stack}: {stacks.shell(init)}")
        else:
            done = run(init)
            if done.returncode != 0:
                raise BootstrapError(f"{stacks.shell(init)} failed: {_last_line(done)}",
                                     EXIT_PULUMI)
            out(f"{'created':>13}  pulumi stack {stack}")


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def next_steps(args: argparse.Namespace, created: Created, out: Callable[[str], None]) -> None:
    if not args.init_stacks:
        out("\nCreate the stacks (once; keeps the committed Pulumi.<stack>.yaml settings):")
        out(f"  {stacks.shell(stacks.login_command(args.state_bucket, args.region))}")
        for stack in stacks.stacks():
            out(f"  {stacks.shell(stacks.init_command(stack, args.region))}")
    out("\nSet each stack's secrets (pulumi prompts for the value; commit the stack files, "
        "which now hold only secure: ciphertext):")
    for stack in stacks.stacks():
        for argv in stacks.secret_commands(stack):
            out(f"  {stacks.shell(argv)}")
    out(f"\nGitHub settings of {args.github_repo} (repository variables; not secret):")
    out(f"  gh variable set PULUMI_BACKEND_URL --body "
        f"'{policies.backend_url(args.state_bucket, args.region)}'")
    for stack, arn in created.preview_role_arns.items():
        out(f"  gh variable set {PREVIEW_VARIABLES[stack]} --body '{arn}'")
    for env, arn in created.deploy_role_arns.items():
        out(f"  gh variable set AWS_DEPLOY_ROLE_ARN --env {env} --body '{arn}'")
    out("  (create the environments staging and production first; give production required "
        f"reviewers and limit its deployment branches to {policies.PROTECTED_BRANCH})")


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    try:
        args = parse_args(argv)
        mode = " (dry run: nothing is changed)" if args.dry_run else ""
        out(f"bootstrap {PROJECT}: region {args.region}, state bucket {args.state_bucket}, "
            f"repository {args.github_repo}{mode}")
        report = Report(dry_run=args.dry_run, printer=out)
        created = run_aws(args, out, report)
        check_github(args.github_repo, report)
        if args.init_stacks:
            init_stacks(args, out)
        next_steps(args, created, out)
        if report.problems:
            raise BootstrapError(f"{len(report.problems)} problem(s) above, each with the "
                                 "command that fixes it; then run bootstrap again",
                                 EXIT_PROBLEMS)
    except BootstrapError as err:
        print(f"bootstrap: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("bootstrap: interrupted; rerun to finish (every step is idempotent)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # e.g. a garbled answer from an endpoint: still one line
        print(f"bootstrap: unexpected {type(err).__name__}: {str(err).splitlines()[0]}; rerun "
              "to continue (every step is idempotent)", file=sys.stderr)
        return EXIT_UNEXPECTED
    return EXIT_OK
