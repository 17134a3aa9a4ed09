"""`python -m deploy`'s command line: what each command parses to, its defaults, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.arguments import build

COMMON = {"stack": "staging", "app": None, "bucket": None, "kv_prefix": None, "region": None,
          "s3_endpoint": None, "consul_addr": None, "consul_token_file": None, "consul_ca": None}


def parse(*argv: str) -> dict[str, object]:
    return vars(build("the CLI's docstring").parse_args(argv))


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The stderr lines of a refused command line; argparse exits 2 (docs/exit-codes.md)."""
    with pytest.raises(SystemExit) as caught:
        build("doc").parse_args(argv)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_push_with_only_the_stack_parses_to_every_default() -> None:
    assert parse("push", "--stack", "staging") == {
        **COMMON, "command": "push", "release_dir": None, "release_id": None, "keep": None,
        "canary": None, "bake": 60.0, "resume": False, "abort": False, "timeout": 600.0,
        "no_wait": False}


def test_push_with_every_flag_parses_each_to_its_typed_value() -> None:
    assert parse("push", "--stack", "production", "rel", "--app", "shop", "--bucket", "b1",
                 "--kv-prefix", "shop/prod", "--region", "eu-west-1", "--s3-endpoint",
                 "http://127.0.0.1:5000", "--consul-addr", "10.0.0.1:8500",
                 "--consul-token-file", "/run/token", "--consul-ca", "/etc/ca.pem",
                 "--release-id", "r7", "--keep", "3", "--canary", "25%", "--bake", "2.5",
                 "--resume", "--abort", "--timeout", "30", "--no-wait") == {
        "stack": "production", "app": "shop", "bucket": "b1", "kv_prefix": "shop/prod",
        "region": "eu-west-1", "s3_endpoint": "http://127.0.0.1:5000",
        "consul_addr": "10.0.0.1:8500", "consul_token_file": "/run/token",
        "consul_ca": "/etc/ca.pem", "command": "push", "release_dir": Path("rel"),
        "release_id": "r7", "keep": 3, "canary": "25%", "bake": 2.5, "resume": True,
        "abort": True, "timeout": 30.0, "no_wait": True}


def test_rollback_parses_its_target_and_the_wait_flags() -> None:
    assert parse("rollback", "--stack", "staging") == {
        **COMMON, "command": "rollback", "to": None, "timeout": 600.0, "no_wait": False}
    assert parse("rollback", "--stack", "staging", "--to", "r1", "--timeout", "5",
                 "--no-wait") == {**COMMON, "command": "rollback", "to": "r1", "timeout": 5.0,
                                  "no_wait": True}


def test_status_parses_the_release_to_wait_for_and_its_timeout() -> None:
    assert parse("status", "--stack", "staging") == {
        **COMMON, "command": "status", "wait": None, "timeout": 600.0}
    assert parse("status", "--stack", "staging", "--wait", "r2", "--timeout", "7.5") == {
        **COMMON, "command": "status", "wait": "r2", "timeout": 7.5}


def test_notify_takes_only_the_common_flags() -> None:
    assert parse("notify", "--stack", "staging", "--consul-addr", "c:8500") == {
        **COMMON, "command": "notify", "consul_addr": "c:8500"}


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys)[-1] == ("python -m deploy: error: the following arguments are "
                                       "required: command")


@pytest.mark.parametrize("command", ["push", "rollback", "status", "notify"])
def test_every_command_needs_the_stack(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert usage_error(capsys, command)[-1] == (f"python -m deploy {command}: error: the "
                                                "following arguments are required: --stack")


@pytest.mark.parametrize(("argv", "says"), [
    (["deploy", "--stack", "s"], "python -m deploy: error: argument command: invalid choice: "
     "'deploy' (choose from 'push', 'rollback', 'status', 'notify')"),
    (["push", "--stack", "s", "--timeout", "soon"],
     "python -m deploy push: error: argument --timeout: 'soon': must be a positive number of "
     "seconds"),
    (["push", "--stack", "s", "--bake", "long"],
     "python -m deploy push: error: argument --bake: 'long': must be a number of seconds, 0 or "
     "more"),
    (["push", "--stack", "s", "--bake", "nan"],
     "python -m deploy push: error: argument --bake: 'nan': must be a number of seconds, 0 or "
     "more"),
    (["push", "--stack", "s", "--bake", "-1"],
     "python -m deploy push: error: argument --bake: '-1': must be a number of seconds, 0 or "
     "more"),
    (["push", "--stack", "s", "--timeout", "inf"],
     "python -m deploy push: error: argument --timeout: 'inf': must be a positive number of "
     "seconds"),
    (["push", "--stack", "s", "--timeout", "0"],
     "python -m deploy push: error: argument --timeout: '0': must be a positive number of "
     "seconds"),
    (["push", "--stack", "s", "--canary", ""],
     "python -m deploy push: error: argument --canary: '': must be a whole number of nodes (1 or "
     "more) or a percentage under 100% like 25%; to deploy to every node at once, push without "
     "--canary"),
    (["push", "--stack", "s", "--canary", "100%"],
     "python -m deploy push: error: argument --canary: '100%': must be a whole number of nodes "
     "(1 or more) or a percentage under 100% like 25%; to deploy to every node at once, push "
     "without --canary"),
    (["push", "--stack", "s", "--keep", "2.5"],
     "python -m deploy push: error: argument --keep: invalid int value: '2.5'"),
    # A stray value could be a pasted token: only flags are named, values are counted.
    (["push", "--stack", "s", "a", "b"],
     "python -m deploy: error: unrecognized arguments: (1 value not shown)"),
    (["rollback", "--stack", "s", "--canary", "1"],
     "python -m deploy: error: unrecognized arguments: --canary (1 value not shown)"),
    (["status", "--stack", "s", "--no-wait"],
     "python -m deploy: error: unrecognized arguments: --no-wait"),
    (["status", "--stack", "s", "--timeout", "x"],
     "python -m deploy status: error: argument --timeout: 'x': must be a positive number of "
     "seconds"),
    (["notify", "--stack", "s", "--timeout", "5"],
     "python -m deploy: error: unrecognized arguments: --timeout (1 value not shown)"),
    (["push", "--stack", "s", "dir", "--resume", "yes"],
     "python -m deploy: error: unrecognized arguments: (1 value not shown)"),
])
def test_bad_flags_are_one_usage_line_naming_the_argument(
        capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    assert usage_error(capsys, *argv)[-1] == says


def test_status_wait_takes_a_release_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, "status", "--stack", "s", "--wait")[-1] == (
        "python -m deploy status: error: argument --wait: expected one argument")
    with pytest.raises(SystemExit):
        build("doc").parse_args(["status", "-h"])
    assert "[--wait RELEASE]" in capsys.readouterr().out


def test_help_keeps_the_docstring_layout_its_exit_code_table_needs() -> None:
    doc = "first line\n\nExit codes:\n  0    done\n  1    refused"
    assert build(doc).format_help().split("\n\n", 1)[1].startswith(doc + "\n")


def test_each_command_offers_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("push", "rollback", "status", "notify"):
        with pytest.raises(SystemExit) as caught:
            build("doc").parse_args([command, "-h"])
        assert caught.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: python -m deploy {command} ")
