"""The image content hash and Packer variables (components/image/inputs.py), on a copied tree.

What must hold: unchanged inputs hash the same; a change rebuilds exactly the affected layer; junk
files change nothing; the Packer variables drive the dry-run knobs only for an EC2 double.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components.image.inputs import (
    ROOT,
    BuildOptions,
    ImageInputsError,
    LayerTarget,
    content_hash,
    layer_files,
    packer_only,
    packer_variables,
    parse_layer,
    playbook_roles,
)

BASE = LayerTarget("base", "ap-northeast-1", "ami-0d52744d6551d851e")
APP = LayerTarget("app", "ap-northeast-1", "ami-0123456789abcdef0")
OPTIONS = BuildOptions(instance_type="t3.small", name_prefix="webapp", role="webapp",
                       git_revision="abc123", builder_cidrs=("198.51.100.7/32",))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the image inputs that a test may change."""
    shutil.copytree(ROOT / "image", tmp_path / "image",
                    ignore=shutil.ignore_patterns("manifest*.json", "packer_cache"))
    if (ROOT / "config").is_dir():
        shutil.copytree(ROOT / "config", tmp_path / "config")
    else:
        (tmp_path / "config").mkdir()
    return tmp_path


def touch_up(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\n# changed\n")


def test_same_inputs_give_the_same_hash(tree: Path) -> None:
    assert content_hash(BASE, tree) == content_hash(BASE, tree)


def test_hash_does_not_depend_on_where_the_tree_is(tree: Path) -> None:
    assert content_hash(BASE, tree) == content_hash(BASE, ROOT)


def test_base_role_change_changes_the_base_hash(tree: Path) -> None:
    before = content_hash(BASE, tree)
    touch_up(tree / "image/ansible/roles/base/tasks/main.yml")
    assert content_hash(BASE, tree) != before


def test_app_role_change_leaves_the_base_hash_alone(tree: Path) -> None:
    before = content_hash(BASE, tree)
    touch_up(tree / "image/ansible/roles/consul/templates/consul.service.j2")
    assert content_hash(BASE, tree) == before


def test_app_role_change_changes_the_app_hash(tree: Path) -> None:
    before = content_hash(APP, tree)
    touch_up(tree / "image/ansible/roles/consul/templates/consul.service.j2")
    assert content_hash(APP, tree) != before


def test_config_change_changes_the_app_hash_only(tree: Path) -> None:
    base, app = content_hash(BASE, tree), content_hash(APP, tree)
    (tree / "config/templates").mkdir(parents=True, exist_ok=True)
    (tree / "config/templates/extra.ctmpl").write_text("{{ key \"x\" }}\n")
    assert (content_hash(BASE, tree), content_hash(APP, tree) != app) == (base, True)


def test_template_change_changes_both_layers(tree: Path) -> None:
    base, app = content_hash(BASE, tree), content_hash(APP, tree)
    touch_up(tree / "image/golden.pkr.hcl")
    assert content_hash(BASE, tree) != base
    assert content_hash(APP, tree) != app


def test_base_ami_id_is_part_of_the_app_hash(tree: Path) -> None:
    other = LayerTarget("app", APP.region, "ami-0fedcba9876543210")
    assert content_hash(APP, tree) != content_hash(other, tree)


def test_source_ami_is_part_of_the_base_hash(tree: Path) -> None:
    other = LayerTarget("base", BASE.region, "ami-0fedcba9876543210")
    assert content_hash(BASE, tree) != content_hash(other, tree)


def test_build_script_change_rebuilds_nothing(tree: Path) -> None:
    base, app = content_hash(BASE, tree), content_hash(APP, tree)
    touch_up(tree / "image/build.py")
    assert (content_hash(BASE, tree), content_hash(APP, tree)) == (base, app)


def test_editor_and_python_leftovers_change_nothing(tree: Path) -> None:
    base = content_hash(BASE, tree)
    role = tree / "image/ansible/roles/base"
    (role / "tasks/.main.yml.swp").write_bytes(b"swap")
    (role / "__pycache__").mkdir()
    (role / "__pycache__/x.pyc").write_bytes(b"pyc")
    assert content_hash(BASE, tree) == base


def test_moving_bytes_between_files_changes_the_hash(tree: Path) -> None:
    tasks = tree / "image/ansible/roles/base/tasks/main.yml"
    handlers = tree / "image/ansible/roles/base/handlers/main.yml"
    before = content_hash(BASE, tree)
    data = tasks.read_bytes()
    tasks.write_bytes(data[:-1])
    handlers.write_bytes(data[-1:] + handlers.read_bytes())
    assert content_hash(BASE, tree) != before


def test_base_layer_files_are_only_the_base_role_and_shared_files() -> None:
    roles = {p.relative_to(ROOT / "image/ansible/roles").parts[0]
             for p in layer_files("base") if "roles" in p.parts}
    assert roles == {"base"}


def test_playbook_roles_follow_meta_dependencies(tmp_path: Path) -> None:
    (tmp_path / "roles/a/meta").mkdir(parents=True)
    (tmp_path / "roles/b").mkdir(parents=True)
    (tmp_path / "roles/a/meta/main.yml").write_text("dependencies:\n  - role: b\n")
    (tmp_path / "p.yml").write_text("- hosts: all\n  roles:\n    - role: a\n")
    assert playbook_roles(tmp_path / "p.yml", tmp_path / "roles") == ["a", "b"]


def test_playbook_listing_roles_in_another_form_is_refused(tmp_path: Path) -> None:
    (tmp_path / "roles/a").mkdir(parents=True)
    (tmp_path / "p.yml").write_text("- hosts: all\n  roles: [a]\n")
    with pytest.raises(ImageInputsError, match="form other than `- role: <name>`"):
        playbook_roles(tmp_path / "p.yml", tmp_path / "roles")


@pytest.mark.parametrize("layer", ["base", "app"])
def test_roles_read_for_the_hash_are_the_roles_ansible_applies(layer: str) -> None:
    ansible = ROOT / "image/ansible"
    plays = yaml.safe_load((ansible / f"{layer}.yml").read_text())
    applied = [r["role"] if isinstance(r, dict) else r for play in plays for r in play["roles"]]
    assert playbook_roles(ansible / f"{layer}.yml", ansible / "roles") == applied


def test_playbook_naming_a_missing_role_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "p.yml").write_text("- hosts: all\n  roles:\n    - role: ghost\n")
    with pytest.raises(ImageInputsError, match="applies role 'ghost'"):
        playbook_roles(tmp_path / "p.yml", tmp_path / "roles")


def test_unknown_layer_is_rejected_naming_the_allowed_ones() -> None:
    with pytest.raises(ImageInputsError, match="not one of base, app"):
        parse_layer("web")


def test_packer_only_selects_the_layers_amazon_ebs_source() -> None:
    assert packer_only("app") == "amazon-ebs.app"


def test_base_variables_name_the_stock_ami_as_base_source() -> None:
    variables = packer_variables(BASE, "h" * 64, OPTIONS, build_token="t",
                                 manifest_path=Path("/m.json"))
    assert (variables["base_source_ami"], "base_ami" in variables) == (BASE.source_ami, False)


def test_app_variables_name_the_base_ami_as_source() -> None:
    variables = packer_variables(APP, "h" * 64, OPTIONS, build_token="t",
                                 manifest_path=Path("/m.json"))
    assert (variables["base_ami"], "base_source_ami" in variables) == (APP.source_ami, False)


def test_real_build_variables_leave_the_dry_run_knobs_at_their_defaults() -> None:
    variables = packer_variables(BASE, "h" * 64, OPTIONS, build_token="t",
                                 manifest_path=Path("/m.json"))
    assert not {"communicator", "provision", "ec2_endpoint", "skip_aws_checks"} & set(variables)


def test_ec2_double_variables_skip_ssh_and_provisioning() -> None:
    double = BuildOptions(**{**OPTIONS.__dict__, "ec2_double": "http://127.0.0.1:5000"})
    variables = packer_variables(BASE, "h" * 64, double, build_token="t",
                                 manifest_path=Path("/m.json"))
    assert {k: variables[k] for k in ("communicator", "provision", "ec2_endpoint")} == {
        "communicator": "none", "provision": False, "ec2_endpoint": "http://127.0.0.1:5000"}
