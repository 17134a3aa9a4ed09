"""A node in a temp dir: the instance scripts' paths, tools and environment, for the tests in this
folder (the `node` fixture is in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.go_tools import tool

FILES = Path(__file__).resolve().parents[2] / "image/ansible/roles/stretcher/files"
RELEASE_SWITCH = FILES / "release-switch"
RELEASE_PULL = FILES / "release-pull"
HANDLER = FILES / "deploy-event-handler"
APP = "webapp"


@dataclass
class Node:
    """The instance's paths, in a temp dir, and the environment the scripts run with."""

    tmp: Path
    root: Path
    state: Path
    bin: Path
    env: dict[str, str]

    @property
    def current(self) -> Path:
        return self.root / "current"

    def current_release(self) -> str | None:
        try:
            target = self.root / os.readlink(self.current)
        except OSError:
            return None
        return target.name if target.is_dir() else f"DANGLING:{target}"

    def run(self, script: Path, *args: str, stdin: str = "",
            extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), *args], input=stdin, text=True,
                              capture_output=True, env={**self.env, **(extra or {})}, timeout=120)

    def make_release(self, release_id: str, content: str = "v") -> Path:
        path = self.root / "releases" / release_id
        path.mkdir(parents=True)
        (path / "app.txt").write_text(content)
        return path

    def stretcher_calls(self) -> list[str]:
        calls = self.tmp / "stretcher-calls"
        return calls.read_text().splitlines() if calls.exists() else []

    def restarts(self) -> list[str]:
        log = self.tmp / "restarts"
        return log.read_text().splitlines() if log.exists() else []

    def fail_restarts(self) -> None:
        (self.tmp / "restart-fails").touch()

    def shim(self, name: str, body: str) -> None:
        """Put a command on PATH ahead of the real one."""
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)


def make_node(tmp_path: Path) -> Node:
    root, state, bin_dir = tmp_path / "opt-app", tmp_path / "state", tmp_path / "bin"
    for d in (root, state, bin_dir):
        d.mkdir()
    if shutil.which("rsync") is None:
        pytest.fail("rsync is missing: stretcher syncs every release with it "
                    "(`apt-get install rsync`; the image's base role installs it)")
    # Records the manifest URL stretcher is handed on stdin, then runs the real one on it.
    stretcher = bin_dir / "stretcher"
    stretcher.write_text(f'#!/bin/sh\ntee -a "{tmp_path}/stretcher-calls" | '
                         f'exec {tool("stretcher")} "$@"\n')
    stretcher.chmod(0o755)
    restart = tmp_path / "restart-app"
    # Records which release `current` names at restart time; fails when told to.
    restart.write_text(f"#!/bin/sh\nreadlink {root}/current >> {tmp_path}/restarts\n"
                       f"[ ! -e {tmp_path}/restart-fails ]\n")
    restart.chmod(0o755)
    node_env = tmp_path / "node.env"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "WEBTIER_ROOT": str(root),
        "WEBTIER_STATE_DIR": str(state),
        "WEBTIER_NODE_ENV": str(node_env),
        "WEBTIER_CONSUL_ENV": str(tmp_path / "consul-template.env"),
        "WEBTIER_NODE_TOKEN_ENV": str(tmp_path / "node-token.env"),
        "WEBTIER_RESTART_CMD": str(restart),
        "WEBTIER_PULL_WAIT": "3",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        if key in os.environ:
            env[key] = os.environ[key]
    return Node(tmp_path, root, state, bin_dir, env)


def write_node_env(node: Node, bucket: str, consul: str = "http://127.0.0.1:9",
                   event: str | None = None) -> None:
    """node.env with what the scripts read; DEPLOY_EVENT only when ``event`` is given (without
    it, a node.env from before the event was per stack)."""
    (node.tmp / "node.env").write_text(
        f"WEBTIER_ENV=staging\nAPP_NAME={APP}\nAWS_REGION=us-east-1\nKV_PREFIX={APP}/staging\n"
        f"RELEASE_BUCKET={bucket}\nDEPLOY_POINTER_KEY={APP}/staging/deploy/{APP}/current\n"
        + (f"DEPLOY_EVENT={event}\n" if event else ""))
    node.env["CONSUL_HTTP_ADDR"] = consul
