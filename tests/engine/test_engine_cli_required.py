"""The engine tests fail, never skip, when the pinned Pulumi CLI or our plugin shim is missing.

Fakes: an empty .tools/bin and PATH, or a stand-in `pulumi` that reports another version. Real:
our plugin shims (scripts/shims/) started as the CLI starts them.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.engine import workspace


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No tools anywhere: .tools/bin and PATH both point at an empty folder."""
    monkeypatch.setattr(workspace, "TOOLS_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def _fake(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_a_missing_cli_fails_naming_setup(bare: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"no Pulumi CLI.*`bash scripts/setup`"):
        workspace.require_cli()


def test_a_cli_of_another_release_fails_naming_setup(bare: Path) -> None:
    _fake(bare, "pulumi", "echo v3.1.0")
    with pytest.raises(pytest.fail.Exception,
                       match=rf"Pulumi v3\.1\.0, the Python SDK is {version('pulumi')}.*setup"):
        workspace.require_cli()


def test_a_missing_dynamic_provider_shim_fails_naming_setup(bare: Path) -> None:
    _fake(bare, "pulumi", f"echo v{version('pulumi')}")
    with pytest.raises(pytest.fail.Exception,
                       match=r"no pulumi-resource-pulumi-python.*`bash scripts/setup`"):
        workspace.require_cli()


def test_the_dynamic_provider_shim_serves_a_provider_from_the_project_venv() -> None:
    shim = workspace.ROOT / "scripts" / "shims" / workspace.DYNAMIC_PROVIDER_SHIM
    served = subprocess.Popen([shim], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert served.stdout is not None
        port = served.stdout.readline().strip()  # a plugin announces its gRPC port first
        cmdline = Path(f"/proc/{served.pid}/cmdline").read_bytes().split(b"\0")
    finally:
        served.terminate()
        served.wait(timeout=10)
    assert port.isdigit(), port
    assert cmdline[0].decode().endswith("/scripts/shims/../../venv/bin/python"), cmdline
    assert cmdline[1:4] == [b"-u", b"-m", b"pulumi.dynamic"], cmdline


def test_the_policy_shim_runs_pulumi_policy_without_the_packs_runtime_options() -> None:
    shim = workspace.ROOT / "scripts" / "shims" / "pulumi-analyzer-policy-python"
    # The CLI passes PulumiPolicy.yaml's runtime options as -name=value before its arguments.
    ran = subprocess.run([shim, "-virtualenv=../venv"], capture_output=True, text=True,
                         timeout=20, check=False)
    # Without the engine's arguments pulumi.policy's own argument parser answers.
    assert ran.returncode == 2, ran.stderr
    assert "required: engineAddress, program" in ran.stderr
