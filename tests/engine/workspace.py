"""The real Pulumi CLI for the engine tests: found, checked, and run on a throwaway file backend.

Every stack here lives under a temp folder: its state (`file://` backend), its PULUMI_HOME and its
passphrase-encrypted config, so a test run touches nothing of the operator's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
PASSPHRASE = "engine-tests-passphrase"
# What the CLI distribution would carry and a CLI built from Go modules lacks: scripts/shims/.
DYNAMIC_PROVIDER_SHIM = "pulumi-resource-pulumi-python"
# Pulumi's marker of a secret in state (sdk/go/common/resource/sig), with its ciphertext beside it.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def search_path() -> str:
    """PATH with .tools/bin first, as `. scripts/tools-env` sets it."""
    rest = os.environ.get("PATH", "")
    return f"{TOOLS_BIN}:{rest}" if str(TOOLS_BIN) not in rest.split(":") else rest


def require_cli() -> Path:
    """The pinned Pulumi CLI and the dynamic provider shim; fails (never skips) without them."""
    sdk = version("pulumi")
    cli = shutil.which("pulumi", path=search_path())
    if cli is None:
        pytest.fail(f"no Pulumi CLI on PATH or in .tools/bin: run `bash scripts/setup` (it builds "
                    f"pulumi v{sdk} from the Go module proxy)", pytrace=False)
    found = subprocess.run([cli, "version"], capture_output=True, text=True, check=False,
                           env={"PATH": search_path(), "PULUMI_SKIP_UPDATE_CHECK": "true"})
    if found.stdout.strip() != f"v{sdk}":
        pytest.fail(f"{cli} is Pulumi {found.stdout.strip() or found.stderr.strip()}, the Python "
                    f"SDK is {sdk}: run `bash scripts/setup` to build the pinned CLI",
                    pytrace=False)
    if shutil.which(DYNAMIC_PROVIDER_SHIM, path=search_path()) is None:
        pytest.fail(f"no {DYNAMIC_PROVIDER_SHIM} on PATH or in .tools/bin (dynamic providers "
                    "need it): run `bash scripts/setup`, which installs scripts/shims/",
                    pytrace=False)
    return Path(cli)


def engine_env(tmp: Path) -> dict[str, str]:
    """Variables for the CLI: a file backend, passphrase secrets and a PULUMI_HOME, all in `tmp`."""
    (tmp / "state").mkdir(parents=True, exist_ok=True)
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return {
        "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_HOME": str(tmp / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": search_path(),
    }


def inline_stack(tmp: Path, project: str, stack: str, program: Callable[[], None]) -> auto.Stack:
    """A stack whose program is `program`, run in this process: no language host is needed."""
    cli = require_cli()
    env = engine_env(tmp)
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    return auto.create_or_select_stack(
        stack_name=stack, project_name=project, program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work), env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(cli.parent.parent)),
            project_settings=auto.ProjectSettings(
                name=project, runtime="python",
                backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"])),
        ))


def run_cli(tmp: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pulumi <args>` in `cwd` with the test's backend; fails the test with the CLI's stderr."""
    cli = require_cli()
    done = subprocess.run([str(cli), *args, "--non-interactive"], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, **engine_env(tmp)}, check=False)
    if done.returncode != 0:
        pytest.fail(f"pulumi {' '.join(args[:3])} failed: {done.stderr.strip()}", pytrace=False)
    return done


def state_text(tmp: Path) -> str:
    """Every file of the file backend (the stack, its history, its backups), as one text."""
    return "\n".join(p.read_text(errors="replace")
                     for p in sorted((tmp / "state").rglob("*")) if p.is_file())


@dataclass
class Captured:
    """What the CLI printed during one operation (`on_output`)."""

    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def resource_outputs(stack: auto.Stack, type_: str) -> Mapping[str, Any]:
    """The outputs state holds for the one resource of `type_` (secrets decrypted)."""
    found = [r for r in (stack.export_stack().deployment or {}).get("resources", [])
             if r.get("type") == type_]
    assert len(found) == 1, f"expected one {type_} in state, found {len(found)}"
    outputs: Mapping[str, Any] = found[0].get("outputs", {})
    return outputs
