"""`python -m plan`'s argument handling: the help an operator reads, the usage error, which report
each flag prints and its exit code, and the one-line error (secrets redacted) for a PlanError.
The reports themselves are stubbed here; their own tests run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mock_engine import PLACEHOLDER_KV_SECRET, ROOT
from plan import cli, readiness
from plan.readiness import Readiness

HELP = """\
usage: python -m plan [-h] [--base REF] [--compare OTHER_STACK] [--policy] [--capacity]
                      [--bootstrap-status] [--markdown] [--calibrate]
                      stack

Offline plan of a stack under the mock engine: no cloud account, no state backend, no Pulumi CLI.
Secrets show as [secret]; outputs known only after an update (e.g. the AMI a Packer build makes)
as [unknown].

positional arguments:
  stack                 stack name, e.g. staging (reads Pulumi.<stack>.yaml)

options:
  -h, --help            show this help message and exit
  --base REF            print what changes from git revision REF to the working tree
  --compare OTHER_STACK
                        print the inputs that differ between STACK and OTHER_STACK
  --policy              run the policy pack (policy/, at policy/STACK.json) on the plan; exit 1 if
                        a mandatory rule is violated
  --capacity            print what the scaling settings mean, best to worst case: reaction time,
                        capacity after 5/10/30 minutes, scale-in time, hourly cost, every
                        assumption and its source (with --compare: two stacks side by side; with
                        --base REF: before and after); with --markdown or in a job summary,
                        Markdown with a chart per policy
  --bootstrap-status    print whether the stack file has its secrets provider and every required
                        secret encrypted, and if not the commands to run; exit 3 if not
  --markdown            print Markdown (a PR comment, a job summary) instead of plain text; the
                        default inside a GitHub Actions step (GITHUB_STEP_SUMMARY is set)
  --calibrate           read the group's scaling activities and launch times from the account (AWS
                        credentials needed, read-only) and print each step measured beside what
                        --capacity assumes

exit codes: 0 ok; 1 --policy: a mandatory rule is violated; 2 bad usage, unusable stack file or
invalid config (one line per problem); --calibrate: no AWS credentials, or the account cannot be
read; 3 --bootstrap-status: not bootstrapped yet; 130 interrupted (docs/exit-codes.md)
"""
USAGE = """\
usage: python -m plan [-h] [--base REF] [--compare OTHER_STACK] [--policy] [--capacity]
                      [--bootstrap-status] [--markdown] [--calibrate]
                      stack
"""


@pytest.fixture(autouse=True)
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal's width


def test_help_lists_every_mode_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--help"])
    assert (caught.value.code, capsys.readouterr().out) == (0, HELP)


@pytest.mark.parametrize("argv", [["staging", "--capacity", "--policy"],
                                  ["staging", "--capacity", "--bootstrap-status"],
                                  ["staging", "--capacity", "--calibrate"]])
def test_capacity_with_another_mode_is_a_usage_error(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert (caught.value.code, capsys.readouterr().err) == (
        2, USAGE + "python -m plan: error: --capacity combines only with --compare or --base\n")


Calls = list[tuple[str, tuple[Any, ...]]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Each report stubbed to record its arguments and print its own name."""
    seen: Calls = []

    def stub(name: str, status: int | None = None) -> Any:
        def report(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, args))
            return f"{name}\n" if status is None else (f"{name}\n", status)
        return report

    for name in ("tree_text", "base_markdown", "compare_markdown", "capacity_markdown",
                 "capacity_base", "calibrate_text"):
        monkeypatch.setattr(cli, name, stub(name))
    monkeypatch.setattr(cli, "policy_markdown", stub("policy_markdown", 1))
    return seen


@pytest.mark.parametrize(("argv", "called", "status"), [
    (["staging"], ("tree_text", ("staging",)), 0),
    (["staging", "--base", "origin/main"], ("base_markdown", ("staging", "origin/main")), 0),
    (["staging", "--compare", "production"],
     ("compare_markdown", ("staging", "production")), 0),
    (["staging", "--capacity"], ("capacity_markdown", (["staging"],)), 0),
    (["staging", "--capacity", "--compare", "production"],
     ("capacity_markdown", (["staging", "production"],)), 0),
    (["staging", "--capacity", "--base", "main"], ("capacity_base", ("staging", "main")), 0),
    (["staging", "--calibrate"], ("calibrate_text", ("staging",)), 0),
    (["production", "--policy"], ("policy_markdown", ("production",)), 1),
])
def test_each_mode_prints_its_report_and_exits_with_its_status(
        argv: list[str], called: tuple[str, tuple[Any, ...]], status: int, calls: Calls,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == status
    assert calls == [called]
    assert capsys.readouterr().out == f"{called[0]}\n"


@pytest.mark.parametrize(("ready", "status"), [(True, 0), (False, cli.EXIT_NOT_BOOTSTRAPPED)])
def test_bootstrap_status_exits_3_until_the_stack_is_ready(
        ready: bool, status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    found = Readiness("staging", tmp_path, "eu-west-1", "awskms://k" if ready else None, [], [])
    asked: list[tuple[str, Path]] = []

    def fake(stack: str, root: Path) -> Readiness:
        asked.append((stack, root))
        return found
    monkeypatch.setattr(readiness, "readiness", fake)
    assert cli.main(["staging", "--bootstrap-status", "--markdown"]) == status
    assert asked == [("staging", ROOT)]
    assert capsys.readouterr().out == readiness.markdown(found)


def test_plan_error_is_one_line_on_stderr_with_secrets_redacted(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fails(stack: str) -> str:
        raise cli.PlanError(f"webtier:kvSecrets.db = {PLACEHOLDER_KV_SECRET}: not allowed")
    monkeypatch.setattr(cli, "tree_text", fails)
    assert cli.main(["staging"]) == 2
    assert capsys.readouterr() == ("", "plan: webtier:kvSecrets.db = [secret]: not allowed\n")


def test_redact_can_be_turned_off_for_the_leak_tests() -> None:
    text = f"a {PLACEHOLDER_KV_SECRET} b"
    assert (cli._redact(text), cli._redact(text, redact=False)) == ("a [secret] b", text)
