"""Secrets the Pulumi way in the offline plan: a plaintext secret in a stack file is refused as
`up` refuses it, `secure:` values stand in as secrets, and a stack not bootstrapped yet gets the
commands to run (`--bootstrap-status`) instead of a failure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.settings.secrets import OPTIONAL_SECRETS, SECRET_KEYS
from mock_engine import PLACEHOLDER_SECRETS, ROOT, stack_config
from plan import cli
from plan.readiness import markdown, readiness

PLAINTEXT = "hunter2-plaintext-gossip"
SECURE = {"secure": "v1:AAABAKmsCiphertextOnly"}


def stack_file(tmp_path: Path, extra: dict[str, object], top: dict[str, object] | None = None,
               stack: str = "staging") -> Path:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    doc["config"].update(extra)
    doc.update(top or {})
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


BOOTSTRAPPED = {"secretsprovider": "awskms://alias/webtier-stack-secrets?region=ap-northeast-1",
                "encryptedkey": "AQICAHh..."}
ALL_SECRETS: dict[str, object] = {
    **{f"webtier:{k}": SECURE for k in SECRET_KEYS if k not in OPTIONAL_SECRETS},
    "webtier:kvSecrets": {"database/master-password": SECURE}}


def test_plaintext_secret_in_the_stack_file_reaches_the_program_unmarked(tmp_path: Path) -> None:
    config, secret_keys = stack_config("staging", root=stack_file(
        tmp_path, {"webtier:consulGossipKey": PLAINTEXT}))
    assert config["webtier:consulGossipKey"] == PLAINTEXT
    assert "webtier:consulGossipKey" not in secret_keys


def test_secure_values_become_placeholders_marked_secret(tmp_path: Path) -> None:
    config, secret_keys = stack_config("staging", root=stack_file(tmp_path, ALL_SECRETS))
    assert config["webtier:consulGossipKey"] == PLACEHOLDER_SECRETS["webtier:consulGossipKey"]
    assert {"webtier:consulGossipKey", "webtier:kvSecrets"} <= set(secret_keys)
    assert "v1:AAAB" not in str(config)


def test_committed_stacks_are_not_bootstrapped_and_the_summary_lists_the_commands(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["staging", "--bootstrap-status"]) == cli.EXIT_NOT_BOOTSTRAPPED
    out = capsys.readouterr().out
    assert "not bootstrapped yet" in out
    assert "pulumi stack init staging --secrets-provider 'awskms://" in out
    for key in set(SECRET_KEYS) - OPTIONAL_SECRETS:
        assert f"pulumi config set --secret {key} --stack staging" in out
    assert "'kvSecrets[\"database/master-password\"]'" in out


def test_a_bootstrapped_stack_file_is_ready(tmp_path: Path) -> None:
    found = readiness("staging", stack_file(tmp_path, ALL_SECRETS, BOOTSTRAPPED))
    assert (found.ready, found.missing, found.plaintext) == (True, [], [])
    assert markdown(found).count("\n") == 1


def test_a_stack_with_secrets_but_no_secrets_provider_is_not_ready(tmp_path: Path) -> None:
    # On a self-managed backend (S3): only Pulumi Cloud holds a stack's key for it, see
    # tests/plan/test_readiness_providers.py for the Cloud default.
    found = readiness("staging", stack_file(tmp_path, ALL_SECRETS),
                      {"PULUMI_BACKEND_URL": "s3://acme-webtier-state?region=ap-northeast-1"})
    assert not found.ready
    assert "pulumi stack init staging" in markdown(found)


def test_a_plaintext_secret_is_named_in_the_summary_without_its_value(tmp_path: Path) -> None:
    found = readiness("staging", stack_file(
        tmp_path, {**ALL_SECRETS, "webtier:consulGossipKey": PLAINTEXT}, BOOTSTRAPPED))
    text = markdown(found)
    assert found.plaintext == ["webtier:consulGossipKey"]
    assert "`webtier:consulGossipKey`" in text
    assert PLAINTEXT not in text
    assert "pulumi config set --secret consulGossipKey --stack staging" in text
    assert "consulAgentToken" not in text


@pytest.mark.integration
def test_real_plan_refuses_a_plaintext_secret_in_the_stack_file_without_repeating_it(
        tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        "venv", "node_modules", ".git", ".tools", "mutants", "__pycache__", ".mypy_cache",
        ".ruff_cache"))
    stack_file(tree, {"webtier:consulGossipKey": PLAINTEXT})
    done = subprocess.run([sys.executable, "-m", "plan", "staging"], cwd=tree,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout[-2000:]
    assert "webtier:consulGossipKey" in done.stderr
    assert "is stored in plaintext" in done.stderr
    assert "Traceback" not in done.stderr
    assert PLAINTEXT not in done.stdout + done.stderr
