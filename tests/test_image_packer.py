"""The Packer template as the real Packer 1.6.6 sees it: formatted, valid for every source, and
refusing a builder open to the world; plus where the plugin pins live.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.image_inputs import ROOT

IMAGE = ROOT / "image"
HASH = "ab" * 32
VALID = ["-var", "region=us-east-1", "-var", 'builder_cidrs=["198.51.100.7/32"]',
         "-var", f"content_hash={HASH}", "-var", "base_source_ami=ami-0d52744d6551d851e",
         "-var", "base_ami=ami-0123456789abcdef0"]


def packer(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("packer") is None:
        pytest.skip("packer is not installed (CI installs it with `apt-get install -y packer`)")
    # The Ansible provisioner checks for ansible-playbook while validating.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                                 os.environ["PATH"]]), PACKER_NO_COLOR="1")
    return subprocess.run(["packer", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.integration
@pytest.mark.parametrize("folder", ["image", "image/plugins"])
def test_packer_fmt_finds_nothing_to_change(folder: str) -> None:
    result = packer("fmt", "-check", "-diff", folder)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("source", ["amazon-ebs.base", "amazon-ebs.app", "docker.trial"])
def test_packer_validate_accepts_every_source_with_provisioning(source: str) -> None:
    result = packer("validate", f"-only={source}", *VALID, "image")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_packer_validate_accepts_the_dry_run_used_against_an_ec2_double() -> None:
    result = packer("validate", "-only=amazon-ebs.base", *VALID, "-var", "provision=false",
                    "-var", "communicator=none", "-var", "skip_aws_checks=true",
                    "-var", "ec2_endpoint=http://127.0.0.1:5000", "image")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_packer_validate_refuses_a_builder_open_to_the_world() -> None:
    args = [a.replace('["198.51.100.7/32"]', '["0.0.0.0/0"]') for a in VALID]
    result = packer("validate", "-only=amazon-ebs.base", *args, "image")
    assert result.returncode != 0
    assert "never 0.0.0.0/0" in result.stdout + result.stderr


@pytest.mark.integration
def test_packer_validate_refuses_a_content_hash_that_is_not_a_sha256() -> None:
    args = [a.replace(HASH, "abc") for a in VALID]
    result = packer("validate", "-only=amazon-ebs.base", *args, "image")
    assert "must be the 64-character sha256" in result.stdout + result.stderr


def test_required_plugins_live_only_in_the_plugins_folder() -> None:
    holders = sorted(p.relative_to(IMAGE).as_posix() for p in IMAGE.rglob("*.pkr.hcl")
                     if "required_plugins" in p.read_text())
    assert holders == ["plugins/plugins.pkr.hcl"]


def test_template_encrypts_the_ami_snapshots() -> None:
    assert re.search(r"^\s*encrypt_boot\s*=\s*true$", (IMAGE / "golden.pkr.hcl").read_text(),
                     re.MULTILINE)


def test_template_opens_the_builder_only_to_the_given_cidrs() -> None:
    assert re.search(r"^\s*temporary_security_group_source_cidrs\s*=\s*var\.builder_cidrs$",
                     (IMAGE / "golden.pkr.hcl").read_text(), re.MULTILINE)


def test_template_requires_imdsv2_before_any_provisioning() -> None:
    text = (IMAGE / "golden.pkr.hcl").read_text()
    provisioners = re.findall(r'provisioner "([^"]+)" \{(.*?)\n  \}', text, re.DOTALL)
    assert provisioners[0][0] == "shell-local"
    assert "require_imdsv2.py" in provisioners[0][1]
