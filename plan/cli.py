"""Offline plan: what a stack would manage, or change, with no cloud account, backend or Pulumi CLI.

    python -m plan staging                       # the resource tree
    python -m plan staging --base origin/main    # the diff for a PR (--markdown for a comment)
    python -m plan staging --compare production  # setting values that differ
    python -m plan staging --capacity [--compare production | --base origin/main]
    python -m plan staging --bootstrap-status    # is the stack file ready for preview / up?
    python -m plan staging --calibrate           # the capacity timings measured in the account

The program runs under the mock engine (`mock_engine`) with the stack's committed config and
placeholder secrets; no command runs (Packer never builds), so command outputs show as [unknown].
Exit codes: EXIT_CODES below (docs/exit-codes.md is generated from it).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi

from contracts.argument_parser import ArgumentParser
from contracts.stack_file import StackFileError
from mock_engine import (
    PLACEHOLDER_KV_SECRET,
    PLACEHOLDER_SECRETS,
    ROOT,
    Registration,
    run_stack,
)
from plan import comparison as plan_comparison
from plan import model as plan_model
from plan import plain_text
from plan import render as plan_render
from plan.errors import PlanError

# Defined once: docs/exit-codes.md is generated from it (python -m contracts.exit_code_table).
EXIT_CODES = {
    0: "ok",
    1: "`--policy`: a mandatory rule is violated",
    2: "bad usage, unusable stack file or invalid config (one line per problem); "
       "`--calibrate`: no AWS credentials, or the account cannot be read",
    3: "`--bootstrap-status`: not bootstrapped yet",
    130: "interrupted",
}
EXIT_POLICY_VIOLATED, EXIT_USAGE, EXIT_NOT_BOOTSTRAPPED = 1, 2, 3
PLACEHOLDERS = (*PLACEHOLDER_SECRETS.values(), PLACEHOLDER_KV_SECRET)
# Packages of ours the program never imports; they stay loaded while another tree's program runs.
_OWN_PACKAGES = frozenset({"plan", "mock_engine", "tests", "bench", "venv"})
# A git that hangs (a slow or broken clone) fails the plan with one line, not a traceback.
GIT_TIMEOUT: float = 120


def _program_packages(root: Path) -> set[str]:
    names = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    names |= {p.stem for p in root.glob("*.py")}
    return names - _OWN_PACKAGES


@contextmanager
def _isolated_program(root: Path) -> Iterator[None]:
    """Run another tree's program (a git revision) without mixing in our loaded `components`.

    Its modules are imported fresh from ``root`` and dropped afterwards; ours are put back.
    """
    if root.resolve() == ROOT.resolve():
        yield
        return
    names = _program_packages(root) | _program_packages(ROOT)

    def ours(module: str) -> bool:
        return module.split(".")[0] in names

    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    for k in saved:
        del sys.modules[k]
    try:
        yield
    finally:
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def registrations(stack: str, *, root: Path = ROOT,
                  config_overrides: Mapping[str, Any] | None = None) -> list[Registration]:
    """What the program under ``root`` registers for ``stack``, under the mock engine."""
    try:
        with _isolated_program(root):
            return run_stack(stack, root=root, config_overrides=config_overrides)
    except (FileNotFoundError, StackFileError) as e:
        raise PlanError(str(e)) from None
    except pulumi.RunError as e:  # the program's own message for a bad config
        raise PlanError(str(e)) from None


def plan(stack: str, *, root: Path = ROOT,
         config_overrides: Mapping[str, Any] | None = None) -> list[plan_model.Resource]:
    """The resources ``stack`` would manage, from the program and stack file under ``root``."""
    return plan_model.resources(registrations(stack, root=root,
                                              config_overrides=config_overrides))


def _redact(text: str, redact: bool = True) -> str:
    # A backstop only: a placeholder reaching plain text is reported as a finding above this.
    # Leak tests pass redact=False, so they see what the backstop would have hidden.
    if not redact:
        return text
    for secret in PLACEHOLDERS:
        text = text.replace(secret, "[secret]")
    return text


def tree_text(stack: str, *, root: Path = ROOT,
              config_overrides: Mapping[str, Any] | None = None, redact: bool = True) -> str:
    items = plan(stack, root=root, config_overrides=config_overrides)
    return _redact(plan_render.tree(stack, items, plan_model.plaintext_secrets(items,
                                                                               PLACEHOLDERS)),
                   redact)


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise PlanError(f"git {' '.join(args)}: no answer after {GIT_TIMEOUT:g} s; run it "
                        f"in {root} to see why") from None
    if done.returncode != 0:
        # git's own advice runs over several lines; the error stays one.
        said = "; ".join(line.strip() for line in done.stderr.decode(errors="replace").splitlines()
                         if line.strip())
        raise PlanError(f"git {' '.join(args)}: {said or f'exit {done.returncode}'}")
    return done.stdout


@contextmanager
def checkout(ref: str, root: Path = ROOT) -> Iterator[tuple[Path, str]]:
    """The tree of git revision ``ref`` in a temporary directory, and its short commit id."""
    if ref.startswith("-"):
        raise PlanError(f"--base {ref!r}: expected a branch, tag or commit, e.g. origin/main")
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except PlanError:
        raise PlanError(f"--base {ref!r} is not a commit in {root}: give a branch, tag or commit "
                        "(e.g. origin/main; fetch it first in a shallow clone)") from None
    sha = commit.decode().strip()
    archive = _git(root, "archive", "--format=tar", sha)
    with tempfile.TemporaryDirectory(prefix="webtier-plan-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp), sha[:12]


def base_markdown(stack: str, ref: str, *, root: Path = ROOT,
                  config_overrides: Mapping[str, Any] | None = None, redact: bool = True) -> str:
    """Markdown for a PR comment: the changes from revision ``ref`` to the working tree."""
    after = plan(stack, root=root, config_overrides=config_overrides)
    note = None
    with checkout(ref, root) as (tree, sha):
        if not (tree / "__main__.py").is_file() or not (tree / f"Pulumi.{stack}.yaml").is_file():
            before: list[plan_model.Resource] = []
            note = f"`{ref}` has no program or no `Pulumi.{stack}.yaml`: everything is new."
        else:
            try:
                before = plan(stack, root=tree)
            except PlanError as e:
                raise PlanError(f"at {ref}: {e}") from None
    changes = plan_model.diff(before, after)
    warnings = plan_model.plaintext_secrets(after, PLACEHOLDERS)
    return _redact(plan_render.diff_markdown(stack, f"{ref} ({sha})", changes, warnings, note),
                   redact)


def compare_markdown(stack: str, other: str, *, root: Path = ROOT, redact: bool = True) -> str:
    """Markdown: how ``other`` differs from ``stack`` (setting values; structure is flagged)."""
    left, right = plan(stack, root=root), plan(other, root=root)
    return _redact(plan_render.compare_markdown(stack, other,
                                                plan_comparison.compare(left, right, stack, other)),
                   redact)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m plan",
        description="Offline plan of a stack under the mock engine: no cloud account, no state "
                    "backend, no Pulumi CLI. Secrets show as [secret]; outputs known only after "
                    "an update (e.g. the AMI a Packer build makes) as [unknown].",
        epilog="exit codes: " + "; ".join(f"{code} {meaning.replace('`', '')}"
                                          for code, meaning in EXIT_CODES.items())
               + " (docs/exit-codes.md)")
    parser.add_argument("stack", help="stack name, e.g. staging (reads Pulumi.<stack>.yaml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--base", metavar="REF",
                      help="print what changes from git revision REF to the "
                           "working tree")
    mode.add_argument("--compare", metavar="OTHER_STACK",
                      help="print the inputs that differ between STACK and "
                           "OTHER_STACK")
    mode.add_argument("--policy", action="store_true",
                      help="run the policy pack (policy/, at policy/STACK.json) on the plan; "
                           "exit 1 if a mandatory rule is violated")
    # Not in the group: --capacity combines with --compare or --base.
    parser.add_argument("--capacity", action="store_true",
                        help="print what the scaling settings mean, best to worst case: "
                             "reaction time, capacity after 5/10/30 minutes, scale-in time, "
                             "hourly cost, every assumption and its source (with --compare: two "
                             "stacks side by side; with --base REF: before and after); with "
                             "--markdown or in a job summary, Markdown with a chart per policy")
    mode.add_argument("--bootstrap-status", action="store_true",
                      help="print whether the stack file has its secrets provider "
                           "and every required secret encrypted, and if not the commands to "
                           "run; exit 3 if not")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown (a PR comment, a job summary) instead of plain "
                             "text; the default inside a GitHub Actions step "
                             "(GITHUB_STEP_SUMMARY is set)")
    mode.add_argument("--calibrate", action="store_true",
                      help="read the group's scaling activities and launch times from the "
                           "account (AWS credentials needed, read-only) and print each step "
                           "measured beside what --capacity assumes")
    args = parser.parse_args(argv)
    if args.capacity and (args.policy or args.bootstrap_status or args.calibrate):
        parser.error("--capacity combines only with --compare or --base")
    try:
        text, status = _run(args)
    except (PlanError, StackFileError) as e:  # every mode: --capacity, --bootstrap-status too
        print(f"plan: {_redact(str(e))}", file=sys.stderr)
        return 2
    if _wants_markdown(args):
        text = f"```\n{text}```\n" if _is_tree(args) else text
    elif not (_is_tree(args) or args.capacity or args.calibrate):  # those two render plain text
        text = plain_text.from_markdown(text)
    sys.stdout.buffer.write(text.encode())
    sys.stdout.flush()
    return status


def _wants_markdown(args: argparse.Namespace) -> bool:
    """Markdown when asked, or inside a GitHub Actions step (a job summary); else plain text."""
    return bool(args.markdown or os.environ.get("GITHUB_STEP_SUMMARY"))


def _is_tree(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for the resource tree, the one report written as plain text."""
    return not (args.capacity or args.bootstrap_status or args.base or args.compare
                or args.policy or args.calibrate)


def _run(args: argparse.Namespace) -> tuple[str, int]:
    if args.capacity:
        markdown = _wants_markdown(args)
        if args.base:
            return capacity_base(args.stack, args.base, markdown=markdown), 0
        return capacity_markdown([args.stack, *([args.compare] if args.compare else [])],
                                 markdown=markdown), 0
    if args.calibrate:
        return calibrate_text(args.stack, markdown=_wants_markdown(args)), 0
    if args.bootstrap_status:
        from plan import readiness

        found = readiness.readiness(args.stack, ROOT)
        return readiness.markdown(found), 0 if found.ready else EXIT_NOT_BOOTSTRAPPED
    if args.base:
        return base_markdown(args.stack, args.base), 0
    if args.compare:
        return compare_markdown(args.stack, args.compare), 0
    if args.policy:
        return policy_markdown(args.stack)
    return tree_text(args.stack), 0


def policy_markdown(stack: str, *, root: Path = ROOT,
                    config_overrides: Mapping[str, Any] | None = None,
                    redact: bool = True) -> tuple[str, int]:
    """The policy pack's report on the stack's plan, and 1 if a mandatory rule is violated."""
    from plan import policy_check  # the pack's SDK loads only when asked for

    registered = registrations(stack, root=root, config_overrides=config_overrides)
    findings = policy_check.check(stack, registered, overrides=config_overrides, root=root)
    return (_redact(policy_check.render(stack, findings), redact),
            1 if any(f.blocks for f in findings) else 0)



def capacity_markdown(stacks: Sequence[str], *, root: Path = ROOT, markdown: bool = True) -> str:
    """The capacity report of one stack, or two side by side (plan/capacity_report.py)."""
    from plan import capacity_report

    try:
        return capacity_report.capacity_markdown(stacks, root, markdown)
    except FileNotFoundError as e:
        raise PlanError(str(e)) from None
    except pulumi.RunError as e:  # the settings' own message for a bad config
        raise PlanError(str(e)) from None


def capacity_base(stack: str, ref: str, *, root: Path = ROOT, markdown: bool = True) -> str:
    """`--capacity --base REF`: the stack's capacity at revision ``ref`` and in the working tree."""
    from plan import capacity_report

    try:  # the working tree's own errors first, unprefixed
        capacity_report.load(stack, root)
    except (FileNotFoundError, pulumi.RunError) as e:
        raise PlanError(str(e)) from None
    with checkout(ref, root) as (tree, sha):
        if not (tree / f"Pulumi.{stack}.yaml").is_file():
            raise PlanError(f"--base {ref!r} has no Pulumi.{stack}.yaml: nothing to compare "
                            "the capacity with")
        name = f"`{ref}` ({sha})" if markdown else f"{ref} ({sha})"
        try:
            return capacity_report.capacity_before_after(stack, tree, name, root, markdown)
        except (FileNotFoundError, pulumi.RunError) as e:
            raise PlanError(f"at {ref}: {e}") from None


def calibrate_text(stack: str, *, root: Path = ROOT, markdown: bool = True,
                   session: Any = None) -> str:
    """`--calibrate`: the stack's group's measured timings beside the model's."""
    import boto3

    from plan import calibrate, calibrate_account, capacity_report

    try:
        settings = capacity_report.load(stack, root)
    except (FileNotFoundError, pulumi.RunError) as e:
        raise PlanError(str(e)) from None
    session = session or boto3.session.Session(region_name=settings.region)

    def measure() -> str:
        group, found = calibrate_account.read(session.client("autoscaling"),
                                              session.client("ec2"),
                                              f"{settings.name}-fleet-")
        return calibrate.render(stack, group, found, calibrate.steps(found), markdown)
    try:
        return calibrate_account.guarded(stack, settings.region, measure)
    except calibrate_account.CalibrateError as e:
        raise PlanError(str(e)) from None
