"""The node image for the fleet: a Debian 12 root made by debootstrap and converged by the real
Ansible roles, cached outside the checkout like scripts/go-tools caches its builds.

Two cached layers, each built once per machine and reused by every run whose inputs match:
  debootstrap-<key>  `debootstrap --variant=minbase --include=<PACKAGES> bookworm` (about 1.5 min)
  image-<key>        a copy of it converged by image/ansible/trial.yml over the chroot connection,
                     keyed on the debootstrap key and the content of image/ansible/ and config/
The Go-built consul, consul-template and stretcher are not in the image: `tools_layer` puts them
where the roles' download tasks would (/usr/local/bin), as a thin overlay layer of its own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from components.image.inputs import ROOT
from tests.instance.image_root import SUITE, apply_roles, debian_mirror, recap

PACKAGES = ("systemd", "systemd-sysv", "python3", "dbus", "iproute2")
CACHE = Path(os.environ.get("WEBTIER_FLEET_CACHE", Path.home() / ".cache" / "webtier-fleet"))
# What the roles' download tasks install, and where (consul/consul_template/stretcher defaults).
TOOLS = {"consul": "usr/local/bin/consul",
         "consul-template": "usr/local/bin/consul-template",
         "stretcher": "usr/local/bin/stretcher"}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:12]


def _tree_bytes(*folders: Path) -> list[bytes]:
    """Every file's relative path and content, in a stable order: the roles' cache key."""
    out: list[bytes] = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out += [str(path.relative_to(ROOT)).encode(), path.read_bytes(),
                    oct(path.stat().st_mode & 0o777).encode()]
    return out


def _publish(build: Path, final: Path) -> None:
    """Another run may have finished the same layer meanwhile: keep whichever landed first."""
    try:
        build.rename(final)
    except OSError:
        shutil.rmtree(build, ignore_errors=True)


def debootstrap_layer() -> tuple[Path, float]:
    """The pristine root and the seconds spent building it (0.0 when cached)."""
    key = _digest(SUITE.encode(), ",".join(PACKAGES).encode())
    final = CACHE / f"debootstrap-{key}"
    if (final / "usr/bin/python3").exists():
        return final, 0.0
    started = time.monotonic()
    build = CACHE / f".debootstrap-{key}.{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    build.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(build),
         debian_mirror()], capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise RuntimeError(f"debootstrap failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    _publish(build, final)
    return final, time.monotonic() - started


def image_layer() -> tuple[Path, float]:
    """The root converged by the real roles, and the seconds spent (0.0 when cached)."""
    base, spent = debootstrap_layer()
    key = _digest(base.name.encode(),
                  *_tree_bytes(ROOT / "image" / "ansible", ROOT / "config"))
    final = CACHE / f"image-{key}"
    if (final / ".converged").exists():
        return final, spent
    started = time.monotonic()
    build = CACHE / f".image-{key}.{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    # cp -a keeps device nodes and ownership, which a Python copy would not.
    subprocess.run(["cp", "-a", str(base), str(build)], check=True, timeout=600)
    # The Debian convention for chroots: package scripts must not start daemons here.
    policy = build / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    result = apply_roles(build)
    if recap(result)["failed"] != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise RuntimeError(f"the roles failed:\n{result.stdout[-5000:]}{result.stderr[-2000:]}")
    policy.unlink()
    (build / ".converged").write_text(f"{time.monotonic() - started:.0f} s\n")
    _publish(build, final)
    return final, spent + time.monotonic() - started


def tools_layer(binaries: dict[str, Path]) -> Path:
    """A layer holding only the Go-built tools at the paths the download tasks would use."""
    key = _digest(*(f"{name}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode()
                    for name, path in sorted(binaries.items())))
    final = CACHE / f"tools-{key}"
    if (final / ".done").exists():
        return final
    build = CACHE / f".tools-{key}.{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    for name, source in binaries.items():
        target = build / TOOLS[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        target.chmod(0o755)
    (build / ".done").write_text("")
    _publish(build, final)
    return final
