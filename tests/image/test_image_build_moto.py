"""image/build.py with the real Packer 1.9.4 and amazon plugin 1.8.0 (built by scripts/go-tools)
against a real moto server on loopback.

Real: Packer, its amazon plugin, the template, build.py, moto's EC2 API (the plugin reaches it
through the template's `custom_endpoint_ec2`). Not real: nothing boots, so Packer runs
with `communicator = "none"` and every step that needs a shell on the builder (cloud-init wait,
Ansible) is skipped by the template's `provision = false` (the roles are applied for real in a
chroot by test_ansible_roles_chroot.py).

moto records images made by CreateImage/CopyImage with RootDeviceType "standard" where EC2 says
"ebs", and Packer refuses any other source AMI; so the base-then-app chain runs against a moto
server started here with that one attribute corrected (and request recording on, to check what
Packer asked EC2 for). Every other test uses the shared `moto_server`.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from components.image.inputs import ROOT, LayerTarget, content_hash
from tests.go_tools import offline_env, tool
from tests.image.test_image_build_script import build as build_script
from tests.moto_server import running_moto

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUILD_PY = ROOT / "image" / "build.py"
ROLE = "webapp"
CIDR = "127.0.0.1/32"


def ec2(url: str) -> Any:
    return boto3.client("ec2", region_name=REGION, endpoint_url=url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def stock_ami(url: str) -> str:
    """A moto default image that Packer accepts as a source (EBS root, x86_64)."""
    images = ec2(url).describe_images(Filters=[
        {"Name": "root-device-type", "Values": ["ebs"]},
        {"Name": "architecture", "Values": ["x86_64"]},
        {"Name": "name", "Values": ["ubuntu/*"]},
    ])["Images"]
    return str(sorted(images, key=lambda i: i["ImageId"])[0]["ImageId"])


def build_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in offline_env().items() if not k.startswith("WEBTIER_")}
    env.update(WEBTIER_PACKER=tool("packer"), AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION,
               WEBTIER_IMAGE_EC2_DOUBLE=url,
               WEBTIER_IMAGE_REGION=REGION, WEBTIER_IMAGE_ROLE=ROLE,
               WEBTIER_IMAGE_NAME_PREFIX=ROLE, WEBTIER_IMAGE_BUILDER_CIDR=CIDR,
               WEBTIER_GIT_REVISION="0123abc", WEBTIER_IMAGE_TIMEOUT="300")
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(extra)
    return env


def build(url: str, layer: str, source_ami: str, tmp: Path, script: Path = BUILD_PY,
          **extra: str) -> subprocess.CompletedProcess[str]:
    env = build_env(url, WEBTIER_IMAGE_LAYER=layer, WEBTIER_IMAGE_SOURCE_AMI=source_ami,
                    WEBTIER_IMAGE_MANIFEST=str(tmp / f"manifest-{layer}.json"), **extra)
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def image(url: str, ami: str) -> dict[str, Any]:
    return dict(ec2(url).describe_images(ImageIds=[ami])["Images"][0])


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def leftovers(url: str) -> list[str]:
    client = ec2(url)
    keys = [k["KeyName"] for k in client.describe_key_pairs()["KeyPairs"]]
    groups = [g["GroupName"] for g in client.describe_security_groups()["SecurityGroups"]]
    return [name for name in keys + groups if name.startswith("packer_")]


# --- the base layer against the shared moto server ---------------------------------------------


@pytest.fixture
def base_build(moto_reset: str, tmp_path: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    return moto_reset, build(moto_reset, "base", stock_ami(moto_reset), tmp_path)


def test_build_script_real_packer_against_moto_prints_only_the_ami_id(
        base_build: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    url, result = base_build
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert image(url, result.stdout.strip())["State"] == "available"


def test_build_script_real_packer_against_moto_tags_the_ami_with_role_layer_hash_revision(
        base_build: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    url, result = base_build
    ami = result.stdout.strip()
    expected = content_hash(LayerTarget("base", REGION, stock_ami(url)))
    got = tags(image(url, ami))
    assert {k: got.get(k) for k in ("role", "layer", "content-hash", "git-revision")} == {
        "role": ROLE, "layer": "base", "content-hash": expected, "git-revision": "0123abc"}


def test_build_script_real_packer_against_moto_tags_the_snapshot_too(
        base_build: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    url, result = base_build
    snapshot = image(url, result.stdout.strip())["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    found = ec2(url).describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert {k: tags(found).get(k) for k in ("role", "layer")} == {"role": ROLE, "layer": "base"}


def test_build_script_real_packer_against_moto_requires_imdsv2_on_the_builder(
        base_build: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    url, result = base_build
    assert result.returncode == 0, result.stderr[-3000:]
    reservations = ec2(url).describe_instances(Filters=[
        {"Name": "tag:Name", "Values": [f"packer-builder {ROLE}-base"]}])["Reservations"]
    builders = [i for r in reservations for i in r["Instances"]]
    assert [i["MetadataOptions"]["HttpTokens"] for i in builders] == ["required"]


def test_build_script_real_packer_against_moto_leaves_no_packer_keypairs_or_sgs(
        base_build: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    url, result = base_build
    assert result.returncode == 0, result.stderr[-3000:]
    assert leftovers(url) == []


def test_build_script_real_packer_against_moto_same_inputs_reuse_the_ami_without_packer(
        base_build: tuple[str, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    url, first = base_build
    count = len(ec2(url).describe_images(Owners=["self"])["Images"])
    again = build(url, "base", stock_ami(url), tmp_path, WEBTIER_PACKER="/nonexistent/packer")
    assert (again.returncode, again.stdout) == (0, first.stdout), again.stderr
    assert len(ec2(url).describe_images(Owners=["self"])["Images"]) == count


def test_build_script_real_packer_against_moto_refuses_inputs_that_changed_since_preview(
        moto_reset: str, tmp_path: Path) -> None:
    result = build(moto_reset, "base", stock_ami(moto_reset), tmp_path,
                   WEBTIER_IMAGE_CONTENT_HASH="0" * 64)
    assert (result.returncode, result.stdout) == (1, "")
    assert "inputs changed since the program computed its trigger" in result.stderr


# --- failures ----------------------------------------------------------------------------------


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A copy of the repo's image inputs whose template Packer rejects."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "image", root / "image",
                    ignore=shutil.ignore_patterns("manifest*.json", "packer_cache"))
    (root / "components" / "image").mkdir(parents=True)
    for name in ("__init__.py", "state_aliases.py", "image/__init__.py", "image/inputs.py"):
        shutil.copy(ROOT / "components" / name, root / "components" / name)
    shutil.copytree(ROOT / "contracts", root / "contracts",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if (ROOT / "config").is_dir():
        shutil.copytree(ROOT / "config", root / "config")
    with (root / "image" / "golden.pkr.hcl").open("a") as template:
        template.write('\nsource "amazon-ebs" "golden" {\n  region = var.region\n}\n')
    return root


def test_build_script_real_packer_against_moto_broken_template_fails_with_packers_message(
        moto_reset: str, broken_tree: Path, tmp_path: Path) -> None:
    result = build(moto_reset, "base", stock_ami(moto_reset), tmp_path,
                   script=broken_tree / "image" / "build.py")
    assert (result.returncode, result.stdout) == (1, "")
    assert "Duplicate source block" in result.stderr.split("packer build of the base layer")[-1]


def test_build_script_real_packer_against_moto_broken_template_leaves_no_ami(
        moto_reset: str, broken_tree: Path, tmp_path: Path) -> None:
    build(moto_reset, "base", stock_ami(moto_reset), tmp_path,
          script=broken_tree / "image" / "build.py")
    assert ec2(moto_reset).describe_images(Owners=["self"])["Images"] == []


def test_build_script_real_packer_against_moto_missing_source_ami_fails_with_no_leftovers(
        moto_reset: str, tmp_path: Path) -> None:
    result = build(moto_reset, "base", "ami-0000000000000dead", tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert "does not exist" in result.stderr
    assert leftovers(moto_reset) == []


_SLOW_STOP_MOTO = """
import sys, time
from moto.ec2.responses.instances import InstanceResponse

# Packer 1.9 with communicator none finishes in well under a second; a StopInstances that takes
# a while holds the build at a known step (builder running, key pair and group made) to interrupt.
_stop = InstanceResponse.stop_instances
def _slow_stop(self):
    time.sleep(5)
    return _stop(self)
InstanceResponse.stop_instances = _slow_stop

from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""


def test_build_script_real_packer_against_slow_moto_interrupted_midbuild_leaves_no_leftovers(
        tmp_path: Path) -> None:
    """SIGTERM (a cancelled `pulumi up`) after the builder is running: Packer cleans up."""
    with running_moto(["-c", _SLOW_STOP_MOTO]) as url:
        env = build_env(url, WEBTIER_IMAGE_LAYER="base", WEBTIER_IMAGE_SOURCE_AMI=stock_ami(url),
                        WEBTIER_IMAGE_MANIFEST=str(tmp_path / "manifest.json"))
        proc = subprocess.Popen([sys.executable, str(BUILD_PY)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            # The builder is up, with its key pair and security group; moto holds the stop.
            if "Stopping the source instance" in line:
                proc.send_signal(signal.SIGTERM)
                break
        rest_out, rest_err = proc.communicate(timeout=300)
        stderr = "".join(seen) + rest_err
        assert (proc.returncode, rest_out) == (1, ""), stderr[-3000:]
        assert "interrupted" in stderr
        assert leftovers(url) == []


# --- the sweeper and the pruning, on moto directly ---------------------------------------------


def test_sweep_against_moto_deletes_the_named_leftovers_and_nothing_else(moto_reset: str) -> None:
    client = ec2(moto_reset)
    for name in ("packer_mine", "packer_other_build"):
        client.create_key_pair(KeyName=name)
        client.create_security_group(GroupName=name, Description="temporary")
    build_script.sweep_temporaries(client, ["packer_mine"], ["packer_mine"])
    assert sorted(leftovers(moto_reset)) == ["packer_other_build", "packer_other_build"]


def test_prune_against_moto_keeps_the_newest_and_those_in_use(moto_reset: str) -> None:
    client = ec2(moto_reset)
    made = []
    for n, in_use in enumerate((True, False, False, False)):
        extra = [{"Key": "in-use-by:production", "Value": "webtier"}] if in_use else []
        ami = client.register_image(Name=f"webapp-app-{n}")["ImageId"]
        client.create_tags(Resources=[ami], Tags=[
            {"Key": "role", "Value": ROLE}, {"Key": "layer", "Value": "app"}, *extra])
        made.append(ami)
        time.sleep(1.1)  # CreationDate has one-second resolution
    pruned = build_script.prune(client, ROLE, "app", 2, keep=set())
    assert pruned == [made[1]]


# --- base then app, on a moto server with EBS root devices and request recording ---------------

_EBS_MOTO = """
import sys
from moto.ec2.models import amis

# moto gives images made by CreateImage/CopyImage RootDeviceType "standard"; EC2 says "ebs",
# and Packer refuses any other source AMI. Correct that default, nothing else.
_init = amis.Ami.__init__
def _ebs_init(self, *args, **kwargs):
    kwargs.setdefault("root_device_type", "ebs")
    _init(self, *args, **kwargs)
amis.Ami.__init__ = _ebs_init

from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""


@pytest.fixture(scope="module")
def ebs_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A moto server whose created images have EBS roots; yields its URL and request log."""
    recording = tmp_path_factory.mktemp("moto") / "requests.jsonl"
    with running_moto(["-c", _EBS_MOTO], env={"MOTO_ENABLE_RECORDING": "true",
                                             "MOTO_RECORDER_FILEPATH": str(recording)}) as url:
        yield url, recording


@pytest.fixture(scope="module")
def chain(ebs_moto: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory,
          ) -> dict[str, str]:
    """Build base, then app on the base AMI; return both AMI ids."""
    url, _ = ebs_moto
    tmp = tmp_path_factory.mktemp("chain")
    base = build(url, "base", stock_ami(url), tmp)
    assert base.returncode == 0, base.stderr[-3000:]
    app = build(url, "app", base.stdout.strip(), tmp)
    assert app.returncode == 0, app.stderr[-3000:]
    return {"base": base.stdout.strip(), "app": app.stdout.strip()}


def requests(recording: Path, action: str) -> list[dict[str, list[str]]]:
    """The form parameters of each recorded EC2 request with this Action."""
    found = []
    for line in recording.read_text().splitlines():
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode()
        params = parse_qs(body)
        if params.get("Action") == [action]:
            found.append(params)
    return found


def test_build_script_real_packer_against_ebs_moto_builds_app_on_the_base_ami(
        ebs_moto: tuple[str, Path], chain: dict[str, str]) -> None:
    _, recording = ebs_moto
    launched = requests(recording, "RunInstances")
    assert [r["ImageId"] for r in launched][-1] == [chain["base"]]


def test_build_script_real_packer_against_ebs_moto_tags_the_app_ami_with_its_own_hash(
        ebs_moto: tuple[str, Path], chain: dict[str, str]) -> None:
    url, _ = ebs_moto
    got = tags(image(url, chain["app"]))
    expected = content_hash(LayerTarget("app", REGION, chain["base"]))
    assert (got["layer"], got["content-hash"]) == ("app", expected)


def test_build_script_real_packer_against_ebs_moto_copies_each_ami_encrypted(
        ebs_moto: tuple[str, Path], chain: dict[str, str]) -> None:
    _, recording = ebs_moto
    copies = requests(recording, "CopyImage")
    assert [c.get("Encrypted") for c in copies] == [["true"], ["true"]]


def test_build_script_real_packer_against_ebs_moto_opens_the_builder_only_to_the_build_host(
        ebs_moto: tuple[str, Path], chain: dict[str, str]) -> None:
    _, recording = ebs_moto
    ingress = requests(recording, "AuthorizeSecurityGroupIngress")
    cidrs = {v[0] for r in ingress for k, v in r.items() if k.endswith("CidrIp")}
    assert (len(ingress), cidrs) == (2, {CIDR})


def test_build_script_real_packer_against_ebs_moto_leaves_no_packer_keypairs_or_sgs(
        ebs_moto: tuple[str, Path], chain: dict[str, str]) -> None:
    url, _ = ebs_moto
    assert leftovers(url) == []
