"""`python -m consul_tokens` arguments: no abbreviations, no token ever echoed, and any stack
that has a `Pulumi.<stack>.yaml` (not only staging and production)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from consul_tokens.cli import ROOT, run

TOKEN = "b1gs3cr3t-9f4e-token"


def call(argv: list[str], root: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, environ={}, out=out, err=err, is_terminal=False, root=root)
    return code, out.getvalue(), err.getvalue()


def test_a_token_on_the_command_line_is_refused_without_printing_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(["--stack", "staging", "--consul-token", TOKEN, "--dry-run"])
    printed = err + capsys.readouterr().err
    assert code == 2
    assert out == ""
    assert TOKEN not in printed
    assert "--consul-token" in printed, printed
    assert "CONSUL_HTTP_TOKEN" in printed, printed


def test_no_option_is_taken_from_an_abbreviation(capsys: pytest.CaptureFixture[str]) -> None:
    # `--set` would otherwise be --set-config and hand tokens to pulumi.
    assert call(["--stack", "staging", "--set"])[0] == 2
    assert "unrecognized arguments: --set" in capsys.readouterr().err


def test_any_stack_with_a_stack_file_is_accepted(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.qa-eu.yaml")
    code, out, err = call(["--stack", "qa-eu", "--dry-run"], root=tmp_path)
    assert (code, err) == (0, "")
    assert "qa-eu" in out, out


def test_a_stack_without_a_stack_file_names_the_file_and_the_stacks_there(
        tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    code, out, err = call(["--stack", "qa", "--dry-run"], root=tmp_path)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert "Pulumi.qa.yaml" in err, err
    assert "staging" in err, err
