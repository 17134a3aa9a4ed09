"""The offline plan on the real program: both stacks, config changes, secrets, the CLI.

The program runs under the mock engine (`mock_engine`) with each stack's committed config;
nothing reaches AWS and no command runs. The --base test also runs a real `git` on a temporary
copy of the program.
"""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_engine import PROMOTED_AMI, ROOT
from plan import cli as plan
from plan import comparison as plan_comparison
from plan import model as plan_model
from plan.model import GROUP, LAUNCH_CONFIGURATION, LAUNCH_TEMPLATE

STACKS = ("staging", "production")
FLEET = {GROUP, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION}


def stack_file(stack: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"]


@functools.cache
def planned(stack: str) -> tuple[plan_model.Resource, ...]:
    return tuple(plan.plan(stack))


def changes(stack: str, **overrides: Any) -> dict[str, plan_model.Change]:
    """The changes a config edit makes, keyed by resource type and name."""
    base = dict(overrides.pop("base", {}))
    before = plan.plan(stack, config_overrides=base) if base else list(planned(stack))
    after = plan.plan(stack, config_overrides={**base, **overrides["edit"]})
    return {c.label: c for c in plan_model.diff(before, after)}


def leaks(text: str) -> list[str]:
    """Placeholder secrets found in ``text``, plain or base64-encoded."""
    found = []
    for secret in plan.PLACEHOLDERS:
        encoded = base64.b64encode(secret.encode()).decode()[:-4]
        if secret in text or encoded in text:
            found.append(secret)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_plan_tree_has_the_fleet_with_its_stacks_instance_type(stack: str) -> None:
    text = plan.tree_text(stack)
    instance_type = stack_file(stack)["webtier:fleet"]["instanceType"]
    assert re.search(r"webtier:fleet:Fleet  \S+", text), text
    assert f"instanceType: {instance_type}\n" in text


@pytest.mark.parametrize("stack", STACKS)
def test_plan_tree_prints_stack_secrets_only_as_the_secret_marker(stack: str) -> None:
    text = plan.tree_text(stack, redact=False)  # before the backstop, which would hide a leak
    assert "value: [secret]" in text
    assert leaks(text) == []


@pytest.mark.parametrize("stack", STACKS)
def test_plan_tree_is_the_same_bytes_on_every_run(stack: str) -> None:
    assert plan.tree_text(stack) == plan.tree_text(stack)


def test_instance_type_change_makes_a_new_launch_template_version() -> None:
    found = changes("staging", base={"webtier:fleet.launchKind": "template"},
                    edit={"webtier:fleet.instanceType": "m5.large"})
    templates = [c for c in found.values() if c.type == LAUNCH_TEMPLATE]
    assert [c.new_version for c in templates] == [True], found


def test_instance_type_change_rolls_the_fleet_by_instance_refresh() -> None:
    found = changes("staging", base={"webtier:fleet.launchKind": "template"},
                    edit={"webtier:fleet.instanceType": "m5.large"})
    groups = [c for c in found.values() if c.type == GROUP]
    assert [str(c.rolls).startswith("instance refresh") for c in groups] == [True], found


def test_instance_type_change_replaces_the_launch_configuration() -> None:
    found = changes("staging", base={"webtier:fleet.launchKind": "configuration"},
                    edit={"webtier:fleet.instanceType": "m5.large"})
    configurations = [c for c in found.values() if c.type == LAUNCH_CONFIGURATION]
    assert [c.action for c in configurations] == ["replace"], found


def fleet_or_image(change: plan_model.Change) -> bool:
    # The image is whatever lives under an image component (its Packer command, AMI lookups).
    qualified_type = change.key.rsplit("::", 1)[0]
    return change.type in FLEET or "image" in qualified_type.lower()


def test_kv_only_change_touches_no_fleet_or_image_resource() -> None:
    found = changes("staging", edit={"webtier:kv.values.app/log-level": "warn"})
    assert [c.label for c in found.values() if fleet_or_image(c)] == []


def test_compare_flags_only_the_image_build_and_staging_first_features() -> None:
    # staging builds the golden image (image.source: build); production promotes the same AMI
    # and builds nothing. Staging also shows the capacity features production has not taken up
    # (request-count and predictive policies, the notification topic). Nothing else differs.
    comparison = plan_comparison.compare(list(planned("staging")), list(planned("production")),
                                    "staging", "production")
    assert sorted(r.name for r in comparison.only_left) == [
        "webapp-staging-fleet-group-events", "webapp-staging-image-app",
        "webapp-staging-image-base", "webapp-staging-notifications",
        "webapp-staging-notifications-key",
        "webapp-staging-notifications-topic", "webapp-staging-scaling-predictive",
        "webapp-staging-scaling-requests-target"]
    assert comparison.only_right == []


def test_compare_staging_production_lists_only_values_from_the_stack_files() -> None:
    # Setting values come from Pulumi.<stack>.yaml; ids, ARNs and URNs the mocks made up do not.
    comparison = plan_comparison.compare(list(planned("staging")), list(planned("production")),
                                    "staging", "production")
    texts = {s: (ROOT / f"Pulumi.{s}.yaml").read_text() for s in STACKS}
    # Besides setting values, the one other source is what production's AMI lookup finds (the
    # mocks answer it) where staging's AMI is still unknown: it is built during the update.
    texts["production"] += PROMOTED_AMI
    # Staging's alarms also notify its topic (webtier:notifications), a mock-made ARN; that they
    # act on the policy and notify the topic is tested in tests/fleet/test_notifications.py.
    notified = {"alarmActions", "okActions"}
    for d in (d for d in comparison.differences
              if not d.only_stack_name and d.path not in notified):
        for stack, value in (("staging", d.left), ("production", d.right)):
            words = [v for v in (value if isinstance(value, tuple) else (value,))
                     if isinstance(v, str)]
            assert all(w in texts[stack] for w in words), (d.label, d.path, stack, value)


def test_compare_staging_production_names_the_instance_types() -> None:
    text = plan.compare_markdown("staging", "production")
    left = stack_file("staging")["webtier:fleet"]["instanceType"]
    right = stack_file("production")["webtier:fleet"]["instanceType"]
    assert f"| `instanceType` | `{left}` | `{right}` |" in text


def test_compare_output_carries_no_secret_placeholder() -> None:
    assert leaks(plan.compare_markdown("staging", "production", redact=False)) == []


def test_a_planted_leak_fails_the_leak_check_though_the_backstop_hides_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = plan.plan_render.tree
    secret = plan.PLACEHOLDERS[0]
    monkeypatch.setattr(plan.plan_render, "tree",
                        lambda *a, **k: original(*a, **k) + f"leaked: {secret}\n")
    assert leaks(plan.tree_text("staging", redact=False)) == [secret]
    assert leaks(plan.tree_text("staging")) == []


def test_invalid_config_stops_the_plan_with_the_programs_message() -> None:
    with pytest.raises(plan.PlanError, match=r"webtier:fleet.*instanceType.*not-a-type"):
        plan.plan("staging", config_overrides={"webtier:fleet.instanceType": "not-a-type"})


def test_cli_exits_2_naming_the_stacks_there_are_for_an_unknown_stack(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["qa"]) == 2
    assert "no stack file Pulumi.qa.yaml: stacks are production, staging" in capsys.readouterr().err


def test_cli_exits_2_when_base_and_compare_are_both_given() -> None:
    with pytest.raises(SystemExit) as stop:
        plan.main(["staging", "--base", "main", "--compare", "production"])
    assert stop.value.code == 2


def test_cli_prints_the_tree(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert plan.main(["staging"]) == 0
    assert capsysbinary.readouterr().out.decode() == plan.tree_text("staging")


# --- --base, against a real git repository -----------------------------------------------------

def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=plan-test",
                    "-c", "user.email=plan-test@example.invalid", *args],
                   check=True, capture_output=True, timeout=60)


@pytest.fixture
def program_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the program, its first commit the current tree."""
    repo = tmp_path / "webtier"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", "venv", "node_modules", ".tools", "mutants", "__pycache__", ".*_cache",
        "packer_cache", "build"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def set_instance_type(repo: Path, stack: str, value: str) -> None:
    path = repo / f"Pulumi.{stack}.yaml"
    text, n = re.subn(r"(?m)^(\s+instanceType:\s*)\S+$", rf"\g<1>{value}", path.read_text())
    assert n == 1, f"no single instanceType line in {path.name}"
    path.write_text(text)


@pytest.mark.integration
def test_base_diff_against_a_real_git_commit_names_the_new_launch_template_version(
        program_repo: Path) -> None:
    set_instance_type(program_repo, "staging", "m5.large")
    text = plan.base_markdown("staging", "HEAD", root=program_repo, redact=False)
    kind = stack_file("staging")["webtier:fleet"].get("launchKind", "template")
    if kind == "template":
        assert re.search(r"\| \*\*new version\*\* \| `[^`]+-template` \|", text), text
        assert "> **Rolls instances**" in text
    else:
        assert re.search(r"\| \*\*replace\*\* \| `[^`]+-configuration` \|", text), text
    assert "| `instanceType` |" in text
    assert leaks(text) == []


@pytest.mark.integration
def test_base_diff_against_a_real_git_commit_with_no_edit_reports_no_changes(
        program_repo: Path) -> None:
    assert "No changes." in plan.base_markdown("production", "HEAD", root=program_repo)


@pytest.mark.integration
def test_base_that_is_not_a_commit_is_a_usage_error_run_against_real_git(
        program_repo: Path) -> None:
    with pytest.raises(plan.PlanError, match="'no-such-branch' is not a commit"):
        plan.base_markdown("staging", "no-such-branch", root=program_repo)
