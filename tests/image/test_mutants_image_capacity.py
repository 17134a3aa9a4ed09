"""Packer variables against the Packer template, and when a mixed group uses spot (mutants).

packer_variables is only useful if Packer knows every name it writes: each one is checked
against the `variable` blocks of image/golden.pkr.hcl, and each value against its source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.image.inputs import BuildOptions, LayerTarget, packer_variables
from components.settings.capacity import MixedInstances

ROOT = Path(__file__).resolve().parents[2]
DECLARED = set(re.findall(r'^variable "([a-z0-9_]+)"', (ROOT / "image/golden.pkr.hcl").read_text(),
                          re.MULTILINE))
OPTIONS = BuildOptions(instance_type="t3.small", name_prefix="webapp", role="web",
                       git_revision="abc123", builder_cidrs=("198.51.100.7/32",),
                       subnet_id="subnet-1", ec2_double="http://127.0.0.1:5000")


@pytest.mark.parametrize("target", [LayerTarget("base", "eu-west-1", "ami-base"),
                                    LayerTarget("app", "eu-west-1", "ami-app")])
def test_every_packer_variable_is_declared_in_the_template_with_its_value(
        target: LayerTarget) -> None:
    variables = packer_variables(target, "d" * 64, OPTIONS, build_token="tok",
                                 manifest_path=Path("/tmp/m.json"))
    assert set(variables) <= DECLARED, set(variables) - DECLARED
    source_key = "base_source_ami" if target.layer == "base" else "base_ami"
    assert variables == {
        "region": "eu-west-1", source_key: target.source_ami, "instance_type": "t3.small",
        "subnet_id": "subnet-1", "builder_cidrs": ["198.51.100.7/32"], "name_prefix": "webapp",
        "role": "web", "content_hash": "d" * 64, "git_revision": "abc123", "build_token": "tok",
        "manifest_path": "/tmp/m.json", "communicator": "none",
        "provision": False, "ec2_endpoint": "http://127.0.0.1:5000", "skip_aws_checks": True,
    }


def mixed(base: int, percentage: int) -> MixedInstances:
    return MixedInstances(("t3.micro",), None, None, base, percentage,
                          "price-capacity-optimized", False, None)


def test_spot_only_when_some_capacity_above_the_on_demand_base_may_be_spot() -> None:
    assert mixed(0, 99).uses_spot(max_size=1)
    assert not mixed(0, 100).uses_spot(max_size=20)
    assert not mixed(4, 0).uses_spot(max_size=4)
    assert mixed(4, 0).uses_spot(max_size=5)
