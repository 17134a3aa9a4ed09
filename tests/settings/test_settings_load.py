"""Loading settings: the KV keys a committed stack file declares, and load_settings reading the
running config through the SDK adapter (replaced here by a dict) next to the other stacks' files."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components import pulumi_sdk
from components.settings.load import load_settings, stack_file_kv_keys
from components.settings.model import StackSettings
from components.settings.reader import SettingsError
from tests.settings.test_settings_secrets_parse import GOOD, SECRETS

KV_FILE = """config:
  webtier:kv:
    values: {app/name: shop, app/port: 80}
    secretKeys: [db/password]
    environmentSpecific: [app/port]
"""


def test_stack_file_kv_keys_reads_values_secrets_and_environment_specific(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(KV_FILE)
    assert stack_file_kv_keys(path) == (frozenset({"app/name", "app/port", "db/password"}),
                                        frozenset({"app/port"}))


@pytest.mark.parametrize("text", [
    "config: {}\n",
    "config:\n  webtier:kv: [a]\n",
    "config:\n  webtier:kv: {values: [a], secretKeys: {b: 1}, environmentSpecific: c}\n",
])
def test_stack_file_kv_keys_of_a_file_without_usable_kv_is_empty(tmp_path: Path,
                                                                  text: str) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(text)
    assert stack_file_kv_keys(path) == (frozenset(), frozenset())


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The running stack is staging with GOOD as its config."""
    config: dict[str, object] = dict(GOOD)
    monkeypatch.setattr(pulumi, "get_stack", lambda: "staging")
    monkeypatch.setattr(pulumi_sdk, "running_config", lambda: (config, set(SECRETS)))
    return config


def test_load_settings_checks_kv_against_the_other_committed_stacks(
        tmp_path: Path, running: dict[str, object]) -> None:
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  webtier:kv: {values: {x/y: 1}}\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(KV_FILE)  # not a stack of this project
    assert isinstance(load_settings(tmp_path), StackSettings)
    (tmp_path / "Pulumi.production.yaml").write_text(KV_FILE)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    assert caught.value.problems == (
        "webtier:kv: KV key 'app/name' is defined in stack 'production' but not in 'staging': "
        "define it in every stack, or list it in kv.environmentSpecific",
        "webtier:kv: KV key 'db/password' is defined in stack 'production' but not in "
        "'staging': define it in every stack, or list it in kv.environmentSpecific",
    )


def test_load_settings_refuses_an_unusable_other_stack_file_in_one_line(
        tmp_path: Path, running: dict[str, object]) -> None:
    (tmp_path / "Pulumi.production.yaml").write_text("config: [1]\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == (
        "stack 'staging' has invalid settings: Pulumi.production.yaml: `config` is a list; it "
        "must be a mapping of `<namespace>:<key>: value`")


def test_load_settings_runs_the_extra_checks_on_valid_settings(
        tmp_path: Path, running: dict[str, object]) -> None:
    seen: list[str] = []

    def none(settings: StackSettings) -> list[str]:
        seen.append(settings.stack)
        return []

    assert load_settings(tmp_path, none).stack == "staging"
    assert seen == ["staging"]
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, lambda s: [f"{s.app}: one", "two"])
    assert caught.value.problems == ("webtier: one", "two")
