"""The node sandbox every instance-script test starts from, and the converged image root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.instance.image_root import (
    SKIP_REASON,
    SUITE,
    Converged,
    announce,
    apply_roles,
    debian_mirror,
    recap,
)
from tests.instance.node_sandbox import Node, make_node


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return make_node(tmp_path)


@pytest.fixture(scope="session")
def debian_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A pristine minimal Debian root with Python, made once per session (~30 s)."""
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root; run the integration tests as root")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (CI: `apt-get install -y debootstrap`)")
    target = tmp_path_factory.mktemp("debootstrap") / SUITE
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3", SUITE, str(target),
         debian_mirror()],
        capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, f"debootstrap failed:\n{result.stdout[-2000:]}{result.stderr}"
    yield target
    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="module")
def converged(debian_rootfs: Path, tmp_path_factory: pytest.TempPathFactory,
              pytestconfig: pytest.Config) -> Iterator[Converged]:
    root = tmp_path_factory.mktemp("chroot") / "root"
    # cp -a keeps device nodes and ownership, which a Python copy would not.
    subprocess.run(["cp", "-a", str(debian_rootfs), str(root)], check=True, timeout=300)
    # The Debian convention for chroots: package scripts must not start daemons here.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    announce(pytestconfig, SKIP_REASON)
    first = apply_roles(root)
    assert recap(first)["failed"] == 0, first.stdout[-5000:] + first.stderr[-2000:]
    second = apply_roles(root)
    yield Converged(root, first, second)
    shutil.rmtree(root, ignore_errors=True)
