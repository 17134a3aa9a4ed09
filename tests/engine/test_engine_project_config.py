"""The real project's stack config through the REAL Pulumi CLI: stack init, config set --secret.

Real: the Pulumi CLI v3.260.0 on a temp copy of Pulumi.yaml + Pulumi.staging.yaml, a file backend,
passphrase secrets, the Automation API reading the config back, the program's settings parser.
Not run: the program itself (`pulumi up`/`pulumi install` need the Python language host, which the
module proxy refuses; the AWS provider cannot be built) - see docs/testing.md.
"""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from components.settings import SettingsError
from components.settings.load import stack_file_kv_keys
from components.settings.parse import parse_settings
from tests.engine.workspace import ROOT, engine_env, require_cli, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.engine]

STACK = "staging"
SECRETS = {
    "consulGossipKey": "Z29zc2lwLWtleS1mb3ItZW5naW5lLXRlc3Q=",
    "consulAgentToken": "agent-token-e1f0a9b8",
    "consulTemplateToken": "template-token-5c6d7e8f",
    "consulKvToken": "kv-token-0a1b2c3d",
}
KV_SECRET = ("database/master-password", "master-password-Jx7q")


@dataclass(frozen=True)
class Project:
    tmp: Path
    dir: Path

    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{STACK}.yaml"

    def config(self) -> tuple[dict[str, object], set[str]]:
        """The stack's config as the engine hands it to the program: values and secret keys."""
        stack = auto.select_stack(
            stack_name=STACK, work_dir=str(self.dir),
            opts=auto.LocalWorkspaceOptions(
                env_vars=engine_env(self.tmp),
                pulumi_command=auto.PulumiCommand(root=str(require_cli().parent.parent))))
        found = stack.get_all_config()
        return ({k: v.value for k, v in found.items()},
                {k for k, v in found.items() if v.secret})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    tmp = tmp_path_factory.mktemp("engine-project")
    copy = tmp / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml"):
        shutil.copy(ROOT / name, copy / name)
    run_cli(tmp, copy, "stack", "init", STACK, "--secrets-provider", "passphrase")
    for key, value in SECRETS.items():
        run_cli(tmp, copy, "config", "set", "--secret", key, value)
    run_cli(tmp, copy, "config", "set", "--secret", "--path",
            f'kvSecrets["{KV_SECRET[0]}"]', KV_SECRET[1])
    return Project(tmp, copy)


def _secret_forms() -> list[str]:
    values = [*SECRETS.values(), KV_SECRET[1]]
    return values + [base64.b64encode(v.encode()).decode() for v in values]


def test_config_set_secret_writes_only_ciphertext_to_the_stack_file(project: Project) -> None:
    text = project.stack_file().read_text()
    config = yaml.safe_load(text)["config"]
    for key in SECRETS:
        assert str(config[f"webtier:{key}"]["secure"]).startswith("v1:"), key
    assert str(config["webtier:kvSecrets"][KV_SECRET[0]]["secure"]).startswith("v1:")
    for form in _secret_forms():
        assert form not in text


def test_the_program_settings_read_the_secrets_the_cli_wrote(project: Project) -> None:
    raw, secret_keys = project.config()
    others = {"production": stack_file_kv_keys(ROOT / "Pulumi.production.yaml")}
    settings = parse_settings(STACK, raw, secret_keys, others)
    assert settings.secrets.gossip_key.value == SECRETS["consulGossipKey"]
    assert settings.secrets.agent_token.value == SECRETS["consulAgentToken"]
    assert settings.secrets.template_token.value == SECRETS["consulTemplateToken"]
    assert settings.secrets.kv_token is not None
    assert settings.secrets.kv_token.value == SECRETS["consulKvToken"]
    assert settings.secrets.kv_values[KV_SECRET[0]].value == KV_SECRET[1]


def test_a_secret_set_in_plain_text_is_refused_naming_the_command(project: Project) -> None:
    plain = "plain-agent-token-99"
    # --plaintext: without it the CLI itself may refuse a value that looks like a secret.
    run_cli(project.tmp, project.dir, "config", "set", "--plaintext", "consulAgentToken", plain)
    try:
        raw, secret_keys = project.config()
        with pytest.raises(SettingsError) as refused:
            parse_settings(STACK, raw, secret_keys)
    finally:
        run_cli(project.tmp, project.dir, "config", "set", "--secret", "consulAgentToken",
                SECRETS["consulAgentToken"])
    message = str(refused.value)
    assert "webtier:consulAgentToken" in message
    assert f"pulumi config set --secret consulAgentToken <value> --stack {STACK}" in message
    assert plain not in message


def _documented_keys() -> set[str]:
    """The keys docs/settings.md says a stack sets: its list of plain keys, and its secrets."""
    doc = (ROOT / "docs" / "settings.md").read_text()
    listed = re.search(r"under\s+`webtier:`\s+\(([^)]*)\)", doc)
    assert listed, "docs/settings.md no longer lists the keys under `webtier:`"
    plain = set(re.findall(r"`(\w+)`", listed.group(1)))
    secret = set(re.findall(r"pulumi config set --secret (\w+)", doc))
    secret |= set(re.findall(r"--path '(\w+)\[", doc))
    assert plain, "docs/settings.md names no plain keys"
    assert secret, "docs/settings.md names no secrets"
    return plain | secret


def test_pulumi_config_lists_the_keys_docs_settings_md_names(project: Project) -> None:
    listing = run_cli(project.tmp, project.dir, "config").stdout
    rows = dict(line.split(None, 1) for line in listing.splitlines()[1:] if line.strip())
    missing = _documented_keys() - set(rows)
    assert not missing, f"`pulumi config` does not list {sorted(missing)}:\n{listing}"
    for key in SECRETS:
        assert rows[key].strip() == "[secret]", key
    for form in _secret_forms():
        assert form not in listing
