"""The Go tools scripts/go-tools builds into .tools/ (Packer 1.9, its amazon plugin, stretcher,
consul-template): where tests find them, and the environment that keeps them offline.

A missing tool fails the test that needs it, naming the fix: a skip would count as a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
BIN = TOOLS / "bin"
PACKER_PLUGINS = TOOLS / "packer-plugins"


def tool(name: str) -> str:
    """Absolute path of a built tool; never one found elsewhere on PATH (e.g. Debian's Packer)."""
    path = BIN / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `bash scripts/setup` (scripts/go-tools builds it)")
    return str(path)


def offline_env(**extra: str) -> dict[str, str]:
    """os.environ with .tools/bin first on PATH, the project's Packer plugins, no update checks."""
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
               PACKER_PLUGIN_PATH=str(PACKER_PLUGINS), CHECKPOINT_DISABLE="1")
    env.update(extra)
    return env
