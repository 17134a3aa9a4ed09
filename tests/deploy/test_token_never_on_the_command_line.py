"""`--consul-token SECRET` is refused, never taken as an abbreviation of `--consul-token-file`
(argparse's default would read a file named SECRET), and the refusal never prints the token."""

from __future__ import annotations

import pytest

from deploy.arguments import build

TOKEN = "b1gs3cr3t-9f4e-token"


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        build("doc").parse_args(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", ["push", "rollback", "status", "notify"])
def test_consul_token_with_a_value_is_refused_without_printing_it(
        capsys: pytest.CaptureFixture[str], command: str) -> None:
    err = refused(capsys, command, "--stack", "staging", "--consul-token", TOKEN)
    assert TOKEN not in err
    last = err.splitlines()[-1]
    assert "--consul-token-file" in last, last
    assert "CONSUL_HTTP_TOKEN" in last, last


def test_consul_token_equals_value_is_refused_without_printing_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, "status", "--stack", "staging", f"--consul-token={TOKEN}")
    assert TOKEN not in err
    assert "--consul-token" in err


def test_no_option_is_taken_from_an_abbreviation(capsys: pytest.CaptureFixture[str]) -> None:
    # `--bu` would otherwise be --bucket, `--no` --no-wait: every flag is spelled out.
    err = refused(capsys, "push", "--stack", "staging", "--bu", "b1", "rel")
    assert "unrecognized arguments: --bu" in err, err
    refused(capsys, "rollback", "--stack", "staging", "--no")


def test_an_unknown_positional_value_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    # A stray value could be a token pasted in the wrong place.
    err = refused(capsys, "status", "--stack", "staging", TOKEN)
    assert TOKEN not in err
    assert "1 value not shown" in err, err
