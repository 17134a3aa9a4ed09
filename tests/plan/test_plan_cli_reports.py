"""The plan's reports on stubbed programs: each one plans the stack under the root and with the
overrides it is given, warns about a secret in plain text, and hides placeholder secrets unless
asked not to (the leak tests ask). The whole-program runs are in tests/plan/test_plan_stack.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from mock_engine import PLACEHOLDER_KV_SECRET as LEAK
from mock_engine import Registration
from plan import cli, model, policy_check

PARAMETER = "aws:ssm/parameter:Parameter"
OVERRIDES = {"webtier:fleet.maxSize": 4}


def registered(value: str, stack: str = "qa") -> list[Registration]:
    return [Registration(PARAMETER, "p", f"urn:pulumi:{stack}::webtier::{PARAMETER}::p", "", True,
                         {"value": value, "tier": "Standard"}, {})]


Asked = list[tuple[str, Path, Mapping[str, Any] | None]]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Asked:
    """cli.registrations stubbed: stack "qa" holds the placeholder secret in plain text."""
    seen: Asked = []

    def fake(stack: str, *, root: Path = cli.ROOT,
             config_overrides: Mapping[str, Any] | None = None) -> list[Registration]:
        seen.append((stack, root, config_overrides))
        return registered(LEAK if stack == "qa" else "other", stack)
    monkeypatch.setattr(cli, "registrations", fake)
    return seen


HEADER = ("Offline plan for stack qa: 1 resources (mock engine: nothing was created, no command "
          "ran)\n[secret] = secret value · [unknown] = known only once the update runs · [mock] "
          "= made up by the mock engine (what AWS assigns, the AMI a promotion finds)\n\n"
          f"WARNING: secret in plain text: {PARAMETER} p: value\n{PARAMETER}  p\n"
          "      tier: Standard\n")


def test_tree_warns_of_a_plain_text_secret_and_hides_it(asked: Asked, tmp_path: Path) -> None:
    assert cli.tree_text("qa", root=tmp_path, config_overrides=OVERRIDES) == \
        HEADER + "      value: [secret]\n"
    assert cli.tree_text("qa", root=tmp_path, redact=False) == HEADER + f"      value: {LEAK}\n"
    assert asked == [("qa", tmp_path, OVERRIDES), ("qa", tmp_path, None)]


COMPARED = ("### Stacks compared: `qa` and `prod`\n\n#### Setting values that differ (1)\n\n"
            "| resource | input | `qa` | `prod` |\n|---|---|---|---|\n"
            f"| `{PARAMETER} p` | `value` | `{{}}` | `other` |\n")


def test_compare_plans_both_stacks_under_the_root_and_hides_secrets(
        asked: Asked, tmp_path: Path) -> None:
    assert cli.compare_markdown("qa", "prod", root=tmp_path) == COMPARED.format("[secret]")
    assert cli.compare_markdown("qa", "prod", root=tmp_path, redact=False) == \
        COMPARED.format(LEAK)
    assert [(stack, root) for stack, root, _ in asked] == [("qa", tmp_path), ("prod", tmp_path)] * 2


def echo(args: ResourceValidationArgs, report: ReportViolation) -> None:
    report(f"value is {args.props['value']}", None)


@pytest.mark.parametrize(("pack", "status", "level"), [
    ({}, 0, "advisory"), ({"all": "mandatory"}, 1, "mandatory")])
def test_policy_report_runs_the_pack_of_the_root_and_exits_1_on_a_mandatory_violation(
        pack: dict[str, str], status: int, level: str, asked: Asked, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_check, "POLICIES", [
        ResourceValidationPolicy("echo-value", "reports the value it sees", echo)])
    (tmp_path / "Pulumi.staging.yaml").write_text("config: {}\n")
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "staging.json").write_text(json.dumps(pack))
    text = ("Policy pack on `staging`: 1 violation(s), {}.\n\n"
            "| level | policy | resource | message |\n|---|---|---|---|\n"
            f"| {level} | `echo-value` | `p` | value is {{}} |\n")
    blocking = f"{status} blocking"
    assert cli.policy_markdown("staging", root=tmp_path, config_overrides=OVERRIDES) == \
        (text.format(blocking, "other"), status)
    assert asked == [("staging", tmp_path, OVERRIDES)]


def test_policy_report_hides_a_placeholder_a_policy_quotes(
        asked: Asked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_check, "POLICIES", [
        ResourceValidationPolicy("echo-value", "reports the value it sees", echo)])
    (tmp_path / "Pulumi.qa.yaml").write_text("config: {}\n")
    hidden, _ = cli.policy_markdown("qa", root=tmp_path)
    shown, _ = cli.policy_markdown("qa", root=tmp_path, redact=False)
    assert hidden.endswith("| value is [secret] |\n")
    assert shown.endswith(f"| value is {LEAK} |\n")


def test_policy_report_gives_the_pack_the_overridden_stack_config(
        asked: Asked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def region(args: ResourceValidationArgs, report: ReportViolation) -> None:
        import pulumi.runtime
        report(f"region {pulumi.runtime.get_config('aws:region')}", None)
    monkeypatch.setattr(policy_check, "POLICIES", [
        ResourceValidationPolicy("region", "reports the stack's region", region)])
    (tmp_path / "Pulumi.qa.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    text, _ = cli.policy_markdown("qa", root=tmp_path,
                                  config_overrides={"aws:region": "ap-northeast-1"})
    assert text.endswith("| region ap-northeast-1 |\n")


def test_plan_model_is_built_from_the_registrations(asked: Asked, tmp_path: Path) -> None:
    assert cli.plan("qa", root=tmp_path) == model.resources(registered(LEAK))
    assert asked == [("qa", tmp_path, None)]
