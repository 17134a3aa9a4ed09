"""A secret in plain text outside webtier: (aws:secretKey, a mistyped webtie:consulGossipKey) stops
the settings and the offline plan with one line per key that never shows the value."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.settings import SettingsError, parse_settings
from mock_engine import stack_config

ROOT = Path(__file__).resolve().parent.parent.parent
VALUE = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("key", ["aws:secretKey", "aws:token", "aws:accessKey",
                                 "webtie:consulGossipKey", "webtier-x:consulAgentToken",
                                 "db:password", "app:privateKey"])
def test_a_plaintext_secret_in_another_namespace_is_refused_naming_only_the_key(key: str) -> None:
    config, secrets = stack_config("staging")
    config[key] = VALUE
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    message = str(caught.value)
    assert f"{key} looks like a secret stored in plaintext" in message
    assert VALUE not in message
    assert len(message.splitlines()) == 1


def test_the_same_key_set_with_secret_passes() -> None:
    config, secrets = stack_config("staging")
    config["aws:secretKey"] = VALUE
    parse_settings("staging", config, [*secrets, "aws:secretKey"])


def test_plain_keys_of_other_namespaces_still_pass() -> None:
    config, secrets = stack_config("staging")
    config.update({"aws:profile": "ops", "aws:skipCredentialsValidation": "true"})
    parse_settings("staging", config, secrets)


@pytest.mark.parametrize("mode", [[], ["--policy"], ["--bootstrap-status"]])
def test_the_plan_exits_non_zero_without_the_value(tmp_path: Path, mode: list[str]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("components", "contracts", "plan", "mock_engine", "policy", "bootstrap",
                 "config", "image"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.production.yaml"):
        shutil.copy(ROOT / name, root / name)
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    doc["config"]["aws:secretKey"] = VALUE
    (root / "Pulumi.staging.yaml").write_text(yaml.safe_dump(doc))
    done = subprocess.run([sys.executable, "-m", "plan", "staging", *mode], cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == (3 if mode == ["--bootstrap-status"] else 2), done.stderr
    assert "aws:secretKey" in done.stderr + done.stdout
    assert VALUE not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
