"""What each golden-image layer is built from: its content hash and its Packer variables.

Pure over the files in the repo: the GoldenImage component uses the hash as the build trigger and
image/build.py tags the AMI with it, so both must compute it here, the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Layer = Literal["base", "app"]
LAYERS: tuple[Layer, ...] = ("base", "app")

ROOT = Path(__file__).resolve().parents[2]

# Bumped when the framing below changes, so old and new hashes can never collide.
_FORMAT = b"webtier-image-inputs/1\n"
# Editor, Python and Ansible leftovers that change nothing on the image.
_IGNORED_SUFFIXES = (".pyc", ".retry", ".swp", "~")
_IGNORED_DIRS = frozenset({"__pycache__", "packer_cache"})

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

    Both layers: the Packer template (with its plugin pins) and ansible.cfg. Then the layer's
    playbook and the roles it names (with their meta dependencies); the app layer also carries the
    repo's config/ tree, which the consul_template role copies onto the image.
    """
    return [root / rel for rel in _layer_paths(layer, str(root))]


def playbook_roles(playbook: Path, roles_dir: Path) -> list[str]:
    """Role names a playbook applies, each followed by the roles it depends on, without repeats.

    Roles are named as `- role: <name>` items, in playbooks and in meta dependencies alike; a
    test checks that this reading agrees with Ansible's own for every playbook in the repo.
    """
    return [name for name, _ in _roles_with_files(playbook, str(roles_dir), "")]


def content_hash(target: LayerTarget, root: Path = ROOT) -> str:
    """sha256 over the layer's files (path, size, bytes) and its target values."""
    return hash_paths(_layer_paths(target.layer, str(root)), root, _target_values(target))


def tree_paths(top: str, root: Path = ROOT) -> list[str]:
    """Files under root/top as sorted root-relative POSIX paths, leftovers left out."""
    found: list[str] = []
    _collect(str(root), top, found)
    found.sort()
    return found


def hash_paths(paths: Iterable[str], root: Path, values: Mapping[str, str]) -> str:
    """The framing every image hash uses, over root-relative POSIX paths in the given order."""
    base = f"{root}/"
    digest = hashlib.sha256(_FORMAT)
    update = digest.update
    for rel in paths:
        data = _read(base + rel, rel, root)
        # Path and length frame each file, so moving bytes between files changes the hash.
        update(b"F %s %d\n" % (rel.encode(), len(data)))
        update(data)
    for key in sorted(values):
        update(f"V {key}={values[key]}\n".encode())
    return digest.hexdigest()


def packer_only(layer: Layer) -> str:
    """The `-only` argument that selects the layer's source in image/golden.pkr.hcl."""
    return f"amazon-ebs.{layer}"


def packer_variables(target: LayerTarget, digest: str, options: BuildOptions, *,
                     build_token: str, manifest_path: Path) -> dict[str, object]:
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


_ROLE_ITEM = re.compile(rb"^\s*-\s+role:\s*([A-Za-z0-9_.-]+)\s*$", re.MULTILINE)


def _role_refs(text: bytes, source: Path) -> list[str]:
    names = [m.decode() for m in _ROLE_ITEM.findall(text)]
    if not names and re.search(rb"^\s*-?\s*(roles|dependencies):", text, re.MULTILINE):
        # A form this reader does not follow would leave roles out of the hash silently.
        raise ImageInputsError(f"{source} lists roles in a form other than `- role: <name>`; "
                               "use that form so the image hash covers them")
    return names


def _roles_with_files(playbook: Path, root: str, roles: str) -> list[tuple[str, list[str]]]:
    """Each role the playbook applies (meta dependencies followed) with its files' paths."""
    try:
        text = playbook.read_bytes()
    except FileNotFoundError:
        raise ImageInputsError(f"playbook {playbook} does not exist") from None
    pending = _role_refs(text, playbook)
    done: list[tuple[str, list[str]]] = []
    while pending:
        name = pending.pop(0)
        if any(name == seen for seen, _ in done):
            continue
        top = f"{roles}/{name}" if roles else name
        files: list[str] = []
        if not _collect(root, top, files):
            raise ImageInputsError(f"{playbook.name} applies role {name!r}, which has no folder "
                                   f"in {Path(root, roles)}")
        done.append((name, files))
        meta = f"{top}/meta/main.yml"
        if meta in files:
            pending.extend(_role_refs(Path(root, meta).read_bytes(), Path(root, meta)))
    return done


def _layer_paths(layer: Layer, root: str) -> list[str]:
    ansible = "image/ansible"
    paths = [f"image/{n}" for n in _names(root, "image") if n.endswith(".pkr.hcl")]
    paths += [f"{ansible}/ansible.cfg", f"{ansible}/{layer}.yml"]
    for _, files in _roles_with_files(Path(root, ansible, f"{layer}.yml"), root,
                                      f"{ansible}/roles"):
        paths += files
    if layer == "app":
        _collect(root, "config", paths)
    return sorted(set(paths))


def _read(path: str, rel: str, root: Path) -> bytes:
    # One read(2) of the known size instead of a buffered file object: most image inputs are
    # small, so per-file overhead, not bytes, is what hashing them costs.
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ImageInputsError(f"image input {rel} is missing under {root}") from None
    try:
        parts = [os.read(fd, os.fstat(fd).st_size + 1)]
        while parts[-1]:  # a file that grew meanwhile, or a short read
            parts.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(parts)


def _names(root: str, rel: str) -> list[str]:
    try:
        return os.listdir(f"{root}/{rel}")
    except FileNotFoundError:
        return []


def _collect(root: str, top: str, found: list[str]) -> bool:
    """Append the files under root/top as root-relative paths; False if top does not exist.

    A plain loop over os.scandir: listing folders is most of what hashing the tree costs.
    """
    pending = [top]
    while pending:
        rel = pending.pop()
        try:
            entries = os.scandir(f"{root}/{rel}")
        except (FileNotFoundError, NotADirectoryError):
            if rel == top:
                return False
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name[0] == ".":
                    continue
                if entry.is_dir():
                    if name not in _IGNORED_DIRS:
                        pending.append(f"{rel}/{name}")
                elif not name.endswith(_IGNORED_SUFFIXES):
                    found.append(f"{rel}/{name}")
    return True
