"""`--bootstrap-status` on stack files the REAL Pulumi CLI wrote, for every secrets provider.

Real: `.tools/bin/pulumi` (v3.260.0) with a file backend in a temp dir writes the stack file:
`passphrase` (PULUMI_CONFIG_PASSPHRASE), and `awskms` against a moto KMS on loopback (the URL's
`awssdk=v2&endpoint=` points gocloud's AWS client there), then `config set --secret` of every
required secret, value on stdin. Recorded from Pulumi's documentation instead, because they need a
cloud service this machine cannot reach (each cited where it is built):
azurekeyvault/gcpkms/hashivault (same `secretsprovider` + `encryptedkey` shape as awskms), the
Pulumi Cloud default (no provider fields at all), and ESC `environment:` imports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from bootstrap.stacks import secret_commands
from plan.readiness import markdown, readiness
from plan.secrets_provider import PASSPHRASE, SERVICE
from tests.moto_server import running_moto

pytestmark = [pytest.mark.integration, pytest.mark.engine]

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".tools" / "bin" / "pulumi"
STACK = "staging"
CLOUD = {"PULUMI_BACKEND_URL": "https://api.pulumi.com"}


@dataclass(frozen=True)
class Project:
    dir: Path
    env: dict[str, str]

    def pulumi(self, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run([str(CLI), *args], cwd=self.dir, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"pulumi {' '.join(args)}: {done.stderr}"

    def set_every_secret(self) -> None:
        for i, argv in enumerate(secret_commands(STACK, self.dir)):
            self.pulumi(*argv[1:], stdin=f"value-{i}")

    def doc(self) -> dict[str, object]:
        loaded = yaml.safe_load((self.dir / f"Pulumi.{STACK}.yaml").read_text())
        assert isinstance(loaded, dict)
        return loaded

    def write(self, doc: dict[str, object]) -> None:
        (self.dir / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(doc))


def new_project(tmp: Path, **extra: str) -> Project:
    if not CLI.is_file():
        pytest.fail("no .tools/bin/pulumi: run `bash scripts/setup`", pytrace=False)
    work = tmp / "project"
    work.mkdir()
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml"):
        shutil.copy(ROOT / name, work / name)
    (tmp / "state").mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "PULUMI_HOME": str(tmp / "home"),
           "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}", "PULUMI_SKIP_UPDATE_CHECK": "true",
           **extra}
    return Project(work, env)


@pytest.fixture
def passphrase_stack(tmp_path: Path) -> Project:
    project = new_project(tmp_path, PULUMI_CONFIG_PASSPHRASE="readiness-test-passphrase")
    project.pulumi("stack", "init", STACK, "--secrets-provider", "passphrase")
    return project


@pytest.fixture
def awskms_stack(tmp_path: Path) -> Iterator[tuple[Project, str]]:
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        with running_moto() as url:
            kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1")
            kms.create_alias(AliasName="alias/webtier-stack-secrets",
                             TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
            provider = (f"awskms://alias/webtier-stack-secrets?region=us-east-1&awssdk=v2"
                        f"&endpoint={url}")
            project = new_project(tmp_path, **keys)
            project.pulumi("stack", "init", STACK, "--secrets-provider", provider)
            yield project, provider
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_passphrase_stack_is_ready_once_every_secret_is_set(passphrase_stack: Project) -> None:
    p = passphrase_stack
    assert "encryptionsalt" in p.doc()
    before = readiness(STACK, p.dir, p.env)
    assert (before.secrets_provider, before.ready) == (PASSPHRASE, False)
    assert "webtier:consulGossipKey" in before.missing
    p.set_every_secret()
    after = readiness(STACK, p.dir, p.env)
    assert (after.secrets_provider, after.missing, after.plaintext, after.ready) == (
        PASSPHRASE, [], [], True)
    assert "PULUMI_CONFIG_PASSPHRASE" in markdown(after)


def test_awskms_stack_is_ready_once_every_secret_is_set(
        awskms_stack: tuple[Project, str]) -> None:
    p, provider = awskms_stack
    assert p.doc()["secretsprovider"] == provider
    assert p.doc().get("encryptedkey")
    p.set_every_secret()
    found = readiness(STACK, p.dir, p.env)
    assert (found.secrets_provider, found.ready) == (provider, True)
    # A KMS provider whose data key is gone cannot decrypt anything.
    doc = p.doc()
    del doc["encryptedkey"]
    p.write(doc)
    assert readiness(STACK, p.dir, p.env).ready is False


@pytest.mark.parametrize("url", [
    # URL forms from https://www.pulumi.com/docs/iac/concepts/secrets/ ("Configuring secrets
    # encryption"): the stack file holds `secretsprovider: <url>` and `encryptedkey`, exactly as
    # for awskms (stack settings file reference: "encryptedkey ... Only used for cloud-based
    # secrets providers").
    "azurekeyvault://mykeyvaultname.vault.azure.net/keys/mykeyname",
    "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
    "hashivault://mykey",
])
def test_other_kms_providers_have_the_awskms_shape(
        awskms_stack: tuple[Project, str], url: str) -> None:
    p, _ = awskms_stack
    p.set_every_secret()
    doc = p.doc()
    doc["secretsprovider"] = url
    p.write(doc)
    found = readiness(STACK, p.dir, p.env)
    assert (found.secrets_provider, found.ready) == (url, True)


def test_pulumi_cloud_default_holds_no_provider_fields(passphrase_stack: Project) -> None:
    # With the Pulumi Cloud backend and no --secrets-provider, the service keeps the stack's key:
    # the stack file has neither secretsprovider, encryptedkey nor encryptionsalt (stack
    # settings file reference: salt "only used for passphrase", encryptedkey "only used for
    # cloud-based secrets providers"), only `secure:` values.
    p = passphrase_stack
    p.set_every_secret()
    doc = p.doc()
    del doc["encryptionsalt"]
    p.write(doc)
    found = readiness(STACK, p.dir, CLOUD)
    assert (found.secrets_provider, found.ready) == (SERVICE, True)
    # The same file on a self-managed backend has no key anywhere: not bootstrapped.
    assert readiness(STACK, p.dir, p.env).ready is False


@pytest.mark.parametrize("environment", [
    # https://www.pulumi.com/docs/esc/guides/pulumi-iac/: "The environment block in your stack
    # configuration file (Pulumi.<stack>.yaml) lists the environments the stack imports".
    ["webtier/common", "webtier/staging"],
    # Stack settings file reference: "Environment definition or list of environments".
    {"imports": ["webtier/common", "webtier/staging"]},
])
def test_esc_environments_supply_the_secrets(passphrase_stack: Project,
                                             environment: object) -> None:
    p = passphrase_stack
    doc = p.doc()
    doc.pop("encryptionsalt")
    doc["environment"] = environment
    p.write(doc)
    found = readiness(STACK, p.dir, CLOUD)
    assert found.ready is True
    assert found.environments == ("webtier/common", "webtier/staging")
    assert "webtier:consulGossipKey" in found.from_environments
    assert "Not checked offline" in markdown(found)
    # A secret typed into the file in plain text is still refused.
    config = doc["config"]
    assert isinstance(config, dict)
    config["webtier:consulGossipKey"] = "plain"
    p.write(doc)
    assert readiness(STACK, p.dir, CLOUD).plaintext == ["webtier:consulGossipKey"]
