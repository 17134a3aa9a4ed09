"""What each golden-image layer is built from: its content hash and its Packer variables.

Pure over the files in the repo: the GoldenImage component uses the hash as the build trigger and
image/build.py tags the AMI with it, so both must compute it here, the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

Layer = Literal["base", "app"]
LAYERS: tuple[Layer, ...] = ("base", "app")

ROOT = Path(__file__).resolve().parent.parent

# Bumped when the framing below changes, so old and new hashes can never collide.
_FORMAT = b"webtier-image-inputs/1\n"
# Editor, Python and Ansible leftovers that change nothing on the image.
_IGNORED_SUFFIXES = (".pyc", ".retry", ".swp", "~")
_IGNORED_DIRS = frozenset({"__pycache__", "packer_cache"})

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LayerTarget:
    """The values (besides files) a layer's content depends on."""

    layer: Layer
    region: str
    source_ami: str
    """base: the stock AMI it starts from; app: the base layer's AMI id."""


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs and is labelled; none of it changes what is on the image."""

    instance_type: str
    name_prefix: str
    role: str
    git_revision: str
    builder_cidrs: tuple[str, ...]
    subnet_id: str = ""
    ec2_double: str | None = None
    """EC2 endpoint of a local double (moto): a dry run with communicator none, no provisioning."""


class ImageInputsError(ValueError):
    """The image tree is not what the hash expects (a playbook or role is missing)."""


def layer_files(layer: Layer, root: Path = ROOT) -> list[Path]:
    """Every file the layer's image depends on, in a stable order.

    Both layers: the Packer template, its plugin pins and helpers, ansible.cfg. Then the layer's
    playbook and the roles it names (with their meta dependencies); the app layer also carries the
    repo's config/ tree, which the consul_template role copies onto the image.
    """
    image = root / "image"
    ansible = image / "ansible"
    files = [p for p in image.glob("*.pkr.hcl") if p.is_file()]
    files += [p for p in (image / "plugins").glob("*.pkr.hcl") if p.is_file()]
    files += [image / "require_imdsv2.py", ansible / "ansible.cfg"]
    playbook = ansible / f"{layer}.yml"
    files.append(playbook)
    for role in playbook_roles(playbook, ansible / "roles"):
        files.extend(_walk(ansible / "roles" / role))
    if layer == "app":
        files.extend(_walk(root / "config"))
    missing = [str(p.relative_to(root)) for p in files if not p.is_file()]
    if missing:
        raise ImageInputsError(f"image inputs missing for layer {layer!r}: {', '.join(missing)}")
    return sorted(set(files))


def playbook_roles(playbook: Path, roles_dir: Path) -> list[str]:
    """Role names a playbook applies, each followed by the roles it depends on, without repeats."""
    try:
        plays = yaml.load(playbook.read_bytes(), Loader=_Loader) or []  # noqa: S506 (safe loader)
    except FileNotFoundError:
        raise ImageInputsError(f"playbook {playbook} does not exist") from None
    seen: list[str] = []
    pending = [name for play in plays for name in _role_names(play.get("roles") or [])]
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        if not (roles_dir / name).is_dir():
            raise ImageInputsError(f"{playbook.name} applies role {name!r}, which has no folder "
                                   f"in {roles_dir}")
        seen.append(name)
        meta = roles_dir / name / "meta" / "main.yml"
        if meta.is_file():
            data = yaml.load(meta.read_bytes(), Loader=_Loader) or {}  # noqa: S506
            pending.extend(_role_names(data.get("dependencies") or []))
    return seen


def content_hash(target: LayerTarget, root: Path = ROOT) -> str:
    """sha256 over the layer's files (path, size, bytes) and its target values."""
    return hash_files(layer_files(target.layer, root), root, _target_values(target))


def hash_files(files: Iterable[Path], root: Path, values: Mapping[str, str]) -> str:
    """The framing both the layer hashes and the whole-tree benchmark use."""
    digest = hashlib.sha256(_FORMAT)
    for path in files:
        data = path.read_bytes()
        # Path and length frame each file, so moving bytes between files changes the hash.
        digest.update(f"F {path.relative_to(root).as_posix()} {len(data)}\n".encode())
        digest.update(data)
    for key in sorted(values):
        digest.update(f"V {key}={values[key]}\n".encode())
    return digest.hexdigest()


def packer_only(layer: Layer) -> str:
    """The `-only` argument that selects the layer's source in image/golden.pkr.hcl."""
    return f"amazon-ebs.{layer}"


def packer_variables(target: LayerTarget, digest: str, options: BuildOptions, *,
                     build_token: str, manifest_path: Path, python: str) -> dict[str, object]:
    """The -var-file content for one layer's build (JSON-ready)."""
    variables: dict[str, object] = {
        "region": target.region,
        "base_source_ami" if target.layer == "base" else "base_ami": target.source_ami,
        "instance_type": options.instance_type,
        "subnet_id": options.subnet_id,
        "builder_cidrs": list(options.builder_cidrs),
        "name_prefix": options.name_prefix,
        "role": options.role,
        "content_hash": digest,
        "git_revision": options.git_revision,
        "build_token": build_token,
        "manifest_path": str(manifest_path),
        "python": python,
    }
    if options.ec2_double:
        # Against an EC2 double nothing boots: no SSH, so nothing can be provisioned, and the
        # STS/IMDS checks would reach for AWS itself.
        variables.update(communicator="none", provision=False, ec2_endpoint=options.ec2_double,
                         skip_aws_checks=True)
    return variables


def parse_layer(value: str) -> Layer:
    for layer in LAYERS:
        if value == layer:
            return layer
    raise ImageInputsError(f"image layer {value!r} is not one of {', '.join(LAYERS)}")


def _target_values(target: LayerTarget) -> dict[str, str]:
    return {"layer": target.layer, "region": target.region, "source_ami": target.source_ami}


def _role_names(entries: Iterable[object]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            name = entry.get("role") or entry.get("name")
            if isinstance(name, str):
                yield name


def _walk(top: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS and not d.startswith(".")]
        for filename in filenames:
            if not filename.startswith(".") and not filename.endswith(_IGNORED_SUFFIXES):
                yield Path(dirpath, filename)
