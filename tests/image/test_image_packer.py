"""The Packer template as the real Packer 1.9.4 (built by scripts/go-tools, with the amazon plugin
1.8.0 it pins) sees it: formatted, initialised offline, valid for every source, and refusing a
builder open to the world; plus the plugin pin and the builder's metadata options.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.image.inputs import ROOT
from tests.go_tools import offline_env, tool

IMAGE = ROOT / "image"
HASH = "ab" * 32
VALID = ["-var", "region=us-east-1", "-var", 'builder_cidrs=["198.51.100.7/32"]',
         "-var", f"content_hash={HASH}", "-var", "base_source_ami=ami-0d52744d6551d851e",
         "-var", "base_ami=ami-0123456789abcdef0"]


def packer(*args: str) -> subprocess.CompletedProcess[str]:
    # The Ansible provisioner checks for ansible-playbook while validating.
    env = offline_env(PACKER_NO_COLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run([tool("packer"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def amazon_plugin_module_version() -> str:
    """The packer-plugin-amazon version gotools/ builds (its go.mod `require` line)."""
    go_mod = (ROOT / "gotools" / "packer-plugin-amazon" / "go.mod").read_text()
    match = re.search(r"^require github\.com/hashicorp/packer-plugin-amazon v(\S+)$", go_mod,
                      re.MULTILINE)
    assert match, "gotools/packer-plugin-amazon/go.mod does not require the plugin"
    return match.group(1)


@pytest.mark.integration
def test_real_packer_is_the_open_source_release_the_tools_module_pins() -> None:
    assert packer("version").stdout.startswith("Packer v1.9.")


@pytest.mark.integration
def test_packer_fmt_finds_nothing_to_change() -> None:
    result = packer("fmt", "-check", "-diff", "image")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_packer_init_finds_the_pinned_amazon_plugin_without_the_network() -> None:
    # No network here: init succeeds only if the pinned version is already installed.
    result = packer("init", "image")
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


def test_template_pins_exactly_the_amazon_plugin_the_tools_module_builds() -> None:
    block = re.search(r"required_plugins \{(.*?)\n  \}", (IMAGE / "golden.pkr.hcl").read_text(),
                      re.DOTALL)
    assert block, "golden.pkr.hcl has no required_plugins block"
    pins = dict(re.findall(r'(\w+) = \{\s*source\s*= "[^"]+"\s*version\s*= "([^"]+)"',
                           block.group(1)))
    assert pins == {"amazon": amazon_plugin_module_version()}


def test_template_encrypts_the_ami_snapshots() -> None:
    assert re.search(r"^\s*encrypt_boot\s*=\s*true$", (IMAGE / "golden.pkr.hcl").read_text(),
                     re.MULTILINE)


def test_template_opens_the_builder_only_to_the_given_cidrs() -> None:
    assert re.search(r"^\s*temporary_security_group_source_cidrs\s*=\s*var\.builder_cidrs$",
                     (IMAGE / "golden.pkr.hcl").read_text(), re.MULTILINE)


def test_template_launches_the_builder_requiring_imdsv2_with_hop_limit_one() -> None:
    text = (IMAGE / "golden.pkr.hcl").read_text()
    source = re.search(r'^source "amazon-ebs" "golden" \{(.*?)^\}', text, re.DOTALL | re.MULTILINE)
    assert source, "golden.pkr.hcl has no amazon-ebs golden source"
    options = re.search(r"metadata_options \{(.*?)\}", source.group(1), re.DOTALL)
    assert options, "the amazon-ebs source sets no metadata_options"
    settings = dict(re.findall(r'(\w+)\s*=\s*"?([^"\s]+)"?', options.group(1)))
    assert settings == {"http_endpoint": "enabled", "http_tokens": "required",
                        "http_put_response_hop_limit": "1"}
