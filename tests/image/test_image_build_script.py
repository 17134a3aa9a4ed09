"""image/build.py's own logic, offline: which manifest entry is this run's, what Packer output it
notes, and the no-change path (with a stand-in EC2 client that already has the AMI).
The real runs against Packer and moto are in test_image_build_moto.py.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from components.image.inputs import ROOT, LayerTarget, content_hash

STOCK_AMI = "ami-0d52744d6551d851e"


def load_build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webtier_image_build", ROOT / "image/build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


build = load_build_module()


def manifest(tmp_path: Path, builds: list[dict[str, Any]], last: str) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"builds": builds, "last_run_uuid": last}))
    return path


def entry(run: str, token: str, artifact: str) -> dict[str, Any]:
    return {"name": "golden", "builder_type": "amazon-ebs", "artifact_id": artifact,
            "packer_run_uuid": run, "custom_data": {"build_token": token, "layer": "base"}}


def test_manifest_gives_the_ami_of_this_runs_entry(tmp_path: Path) -> None:
    path = manifest(tmp_path, [entry("old", "t0", "us-east-1:ami-0000000000000000a"),
                               entry("new", "t1", "us-east-1:ami-0000000000000000b")], "new")
    assert build.ami_from_manifest(path, "t1", "us-east-1") == "ami-0000000000000000b"


def test_manifest_from_an_earlier_run_gives_no_ami(tmp_path: Path) -> None:
    # Packer failed before writing: the manifest still names the previous run.
    path = manifest(tmp_path, [entry("old", "t0", "us-east-1:ami-0000000000000000a")], "old")
    with pytest.raises(build.BuildError, match="has no entry for this run"):
        build.ami_from_manifest(path, "t1", "us-east-1")


def test_manifest_picks_the_ami_of_the_build_region(tmp_path: Path) -> None:
    artifact = "eu-west-1:ami-0000000000000000c,us-east-1:ami-0000000000000000d"
    path = manifest(tmp_path, [entry("r", "t", artifact)], "r")
    assert build.ami_from_manifest(path, "t", "us-east-1") == "ami-0000000000000000d"


def test_missing_manifest_after_success_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="unreadable"):
        build.ami_from_manifest(tmp_path / "none.json", "t", "us-east-1")


def test_packer_output_names_the_temporary_keypair_and_security_group() -> None:
    run = build.PackerRun(returncode=0)
    for line in [
        "==> amazon-ebs.base: Creating temporary keypair: packer_6b08c513-d286-93da-9ee7-bd",
        "==> amazon-ebs.base: Creating temporary security group for this instance: "
        "packer_6b08c513-9a93-384c",
    ]:
        build._note(run, line)
    assert (run.keypairs, run.security_groups) == (["packer_6b08c513-d286-93da-9ee7-bd"],
                                                   ["packer_6b08c513-9a93-384c"])


def test_packer_error_lines_are_kept_once() -> None:
    run = build.PackerRun(returncode=1)
    line = "--> amazon-ebs.base: Error querying AMI: InvalidAMIID.NotFound"
    build._note(run, line)
    build._note(run, line)
    build._note(run, "==> amazon-ebs.base: Launching a source AWS instance...")
    assert run.errors == [line]


class HasTheAmi:
    """Stands in for EC2 when an AMI with the layer's content hash already exists."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def describe_images(self, **kwargs: Any) -> dict[str, Any]:
        self.filters = kwargs["Filters"]
        return {"Images": [{"ImageId": "ami-0aaaaaaaaaaaaaaaa", "CreationDate": "2026-01-01"},
                           {"ImageId": "ami-0bbbbbbbbbbbbbbbb", "CreationDate": "2026-02-01"}]}


def test_no_change_path_prints_the_newest_existing_ami_without_packer(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = build.main(["--layer", "base", "--region", "us-east-1", "--source-ami", STOCK_AMI,
                       "--packer", "/nonexistent/packer"], ec2=HasTheAmi())
    assert (code, capsys.readouterr().out) == (0, "ami-0bbbbbbbbbbbbbbbb\n")


def test_no_change_path_looks_up_this_layers_content_hash() -> None:
    ec2 = HasTheAmi()
    build.main(["--layer", "base", "--region", "us-east-1", "--source-ami", STOCK_AMI,
                "--role", "webapp"], ec2=ec2)
    expected = content_hash(LayerTarget("base", "us-east-1", STOCK_AMI))
    assert {f["Name"]: f["Values"] for f in ec2.filters} == {
        "tag:role": ["webapp"], "tag:layer": ["base"], "tag:content-hash": [expected],
        "state": ["available"]}


def test_inputs_that_changed_since_preview_stop_the_build(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = build.main(["--layer", "base", "--region", "us-east-1", "--source-ami", STOCK_AMI,
                       "--expected-hash", "0" * 64], ec2=HasTheAmi())
    out = capsys.readouterr()
    assert (code, out.out) == (1, "")
    assert "inputs changed since the program computed its trigger" in out.err


def test_missing_source_ami_names_the_flag_and_variable(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = build.main(["--layer", "app", "--region", "us-east-1"], ec2=HasTheAmi())
    assert code == 1
    assert "--source-ami (WEBTIER_IMAGE_SOURCE_AMI) is required" in capsys.readouterr().err


def test_builder_cidrs_are_split_on_commas() -> None:
    assert build._cidrs(" 198.51.100.7/32, 203.0.113.0/28 ,") == ("198.51.100.7/32",
                                                                  "203.0.113.0/28")


class HasNoAmi:
    def describe_images(self, **_: Any) -> dict[str, Any]:
        return {"Images": []}


def test_a_packer_other_than_1_9_is_refused_naming_the_one_to_use(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    debian_packer = tmp_path / "packer"
    debian_packer.write_text("#!/bin/sh\necho 'Packer v1.6.6'\n")
    debian_packer.chmod(0o755)
    code = build.main(["--layer", "base", "--region", "us-east-1", "--source-ami", STOCK_AMI,
                       "--builder-cidr", "198.51.100.7/32", "--packer", str(debian_packer),
                       "--manifest", str(tmp_path / "m.json")], ec2=HasNoAmi())
    err = capsys.readouterr().err
    assert code == 1
    assert "is Packer v1.6.6; the template needs Packer 1.9.x" in err
    assert ".tools/bin/packer" in err


def test_packer_runs_with_the_project_plugins_and_no_update_check(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PACKER_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("CHECKPOINT_DISABLE", raising=False)
    monkeypatch.setattr(build, "TOOLS_PLUGINS", tmp_path)
    env = build.packer_env()
    assert (env["PACKER_PLUGIN_PATH"], env["CHECKPOINT_DISABLE"]) == (str(tmp_path), "1")


def test_a_dry_run_points_the_amazon_plugins_sdk_v2_clients_at_the_double() -> None:
    env = build.packer_env("http://127.0.0.1:5000")
    assert env["AWS_ENDPOINT_URL_EC2"] == "http://127.0.0.1:5000"
