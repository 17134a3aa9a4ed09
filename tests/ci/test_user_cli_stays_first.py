"""The user's Pulumi CLI stays theirs: setup and the test scripts never put the test-only CLI
(.tools/bin/pulumi, no Python language host) or another PULUMI_HOME ahead of the user's.

Each script runs for real under bash, in a temp copy of the repository layout it needs, with a
stand-in `pulumi` of the user's on PATH; nothing here needs the real tools to be built."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/bin:/bin"


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def layout(tmp: Path, *scripts: str) -> Path:
    repo = tmp / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in scripts:
        shutil.copy(ROOT / "scripts" / name, repo / "scripts" / name)
    return repo


def bash(repo: Path, script: str, user_bin: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True,
                          timeout=60, check=False,
                          env={"PATH": f"{user_bin}:{SYSTEM_PATH}", "HOME": str(repo), **env})


def test_tools_env_keeps_the_users_pulumi_and_pulumi_home(tmp_path: Path) -> None:
    repo = layout(tmp_path, "tools-env", "tools-path")
    executable(repo / ".tools" / "bin" / "pulumi", "echo test-only-cli")
    executable(repo / ".tools" / "bin" / "pulumi-resource-pulumi-python", "exit 0")
    executable(repo / ".tools" / "bin" / "packer", "echo packer-1.9")
    user_bin = tmp_path / "user-bin"
    executable(user_bin / "pulumi", "echo users-cli")
    assert subprocess.run(["bash", "scripts/tools-path"], cwd=repo, check=False).returncode == 0
    done = bash(repo, ". scripts/tools-env && pulumi && echo \"$PULUMI_HOME\" && packer && "
                "command -v pulumi-resource-pulumi-python || echo no-shim", user_bin,
                PULUMI_HOME="/home/me/.pulumi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["users-cli", "/home/me/.pulumi", "packer-1.9", "no-shim"]


def test_tools_path_links_every_tool_but_pulumis(tmp_path: Path) -> None:
    repo = layout(tmp_path, "tools-path")
    for name in ("pulumi", "pulumi-analyzer-policy-python", "packer", "consul", "stretcher"):
        executable(repo / ".tools" / "bin" / name, f"echo {name}")
    assert subprocess.run(["bash", "scripts/tools-path"], cwd=repo, check=False).returncode == 0
    linked = sorted(p.name for p in (repo / ".tools" / "path").iterdir())
    assert linked == ["consul", "packer", "stretcher"]
    assert subprocess.run([str(repo / ".tools" / "path" / "packer")], capture_output=True,
                          text=True, check=True).stdout == "packer\n"


def test_setup_venv_only_installs_the_venv_and_nothing_else(tmp_path: Path) -> None:
    repo = layout(tmp_path, "setup")
    log = tmp_path / "pip.log"
    executable(repo / "venv" / "bin" / "pip", f'echo "$@" >> {log}')
    executable(repo / "venv" / "bin" / "python", "exit 0")
    user_bin = tmp_path / "user-bin"
    # Neither apt, npm nor go may run: each would leave its mark.
    for tool in ("apt-get", "npm", "go", "sudo"):
        executable(user_bin / tool, f"echo {tool} >> {tmp_path / 'forbidden.log'}; exit 1")
    done = bash(repo, "bash scripts/setup --venv-only", user_bin)
    assert done.returncode == 0, done.stderr
    assert ".[dev]" in log.read_text()
    assert not (tmp_path / "forbidden.log").exists()
    assert not (repo / ".tools").exists()
    assert done.stdout.splitlines()[-1] == "setup: ready (venv)"


def test_setup_refuses_an_unknown_option_in_one_line(tmp_path: Path) -> None:
    repo = layout(tmp_path, "setup")
    done = bash(repo, "bash scripts/setup --vnev-only", tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--vnev-only" in done.stderr
    assert "--venv-only" in done.stderr


def test_no_script_tells_the_user_to_put_the_test_cli_on_path() -> None:
    for name in ("setup", "go-tools", "test", "tools-env"):
        text = (ROOT / "scripts" / name).read_text()
        assert "export PULUMI_HOME" not in text, name
        assert "PULUMI_HOME=.tools" not in text, name
        assert '.tools/bin:$PATH' not in text.replace('"', ""), name
    assert "_webtier_tools/bin" not in (ROOT / "scripts" / "tools-env").read_text()


def test_scripts_test_leaves_pulumi_home_and_the_users_cli_alone(tmp_path: Path) -> None:
    # scripts/test sources tools-env before ruff, mypy and pytest: what they see is what it sets.
    user_bin = tmp_path / "user-bin"
    executable(user_bin / "pulumi", "echo users-cli")
    done = subprocess.run(["bash", "-c", ". scripts/tools-env && pulumi && echo \"$PULUMI_HOME\""],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PATH": f"{user_bin}:{SYSTEM_PATH}",
                               "PULUMI_HOME": "/home/me/.pulumi"})
    assert done.stdout.splitlines() == ["users-cli", "/home/me/.pulumi"], done.stderr
