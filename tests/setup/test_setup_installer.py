"""How `scripts/setup` installs the Python packages and how `scripts/test` starts pytest.

Each script runs for real under bash in a temp copy of the layout it needs, with stand-ins for
pip, uv, ruff, mypy and pytest that log their arguments: what is checked is what the scripts ask
for, not what the tools do with it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ci.test_user_cli_stays_first import SYSTEM_PATH, executable, layout


def run(repo: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True,
                          timeout=60, check=False,
                          env={"PATH": SYSTEM_PATH, "HOME": str(repo), **env})


def fake_venv(repo: Path, log: Path, pip_brings_uv: bool) -> None:
    # The stand-in pip "installs" uv as pip would: an executable venv/bin/uv.
    uv = repo / "venv" / "bin" / "uv"
    brings = (f'case "$*" in *uv==*) printf \'#!/bin/sh\\necho "uv $*" >> {log}\\n\' > {uv}; '
              f"chmod +x {uv};; esac") if pip_brings_uv else ""
    executable(repo / "venv" / "bin" / "pip", f'echo "pip $*" >> {log}\n{brings}')
    executable(repo / "venv" / "bin" / "python", "exit 0")


def test_setup_installs_the_packages_with_uv_into_the_venv(tmp_path: Path) -> None:
    repo, log = layout(tmp_path, "setup"), tmp_path / "install.log"
    fake_venv(repo, log, pip_brings_uv=True)
    done = run(repo, "bash scripts/setup --venv-only")
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("pip install")
    assert "uv==" in calls[0]
    # Everything else goes through uv, into this venv: pip installs nothing of the project's.
    assert [c for c in calls if c.startswith("pip")] == calls[:1]
    uv = [c for c in calls if c.startswith("uv pip install")]
    assert len(uv) == 1
    assert ".[dev]" in uv[0]
    assert "--python venv/bin/python" in uv[0]


def test_setup_falls_back_to_pip_when_uv_cannot_be_installed(tmp_path: Path) -> None:
    repo, log = layout(tmp_path, "setup"), tmp_path / "install.log"
    fake_venv(repo, log, pip_brings_uv=False)
    done = run(repo, "bash scripts/setup --venv-only")
    assert done.returncode == 0, done.stderr
    assert "pip install -q .[dev]" in log.read_text().splitlines()


def fake_checks(repo: Path, log: Path) -> None:
    for tool in ("ruff", "mypy", "pytest"):
        executable(repo / "venv" / "bin" / tool, f'echo "{tool} $*" >> {log}')
    executable(repo / "venv" / "bin" / "mypy", f'echo "mypy cache $MYPY_CACHE_DIR" >> {log}')


def test_scripts_test_runs_pytest_on_every_core_with_the_callers_arguments(tmp_path: Path) -> None:
    repo, log = layout(tmp_path, "test", "tools-env"), tmp_path / "checks.log"
    fake_checks(repo, log)
    done = run(repo, 'bash scripts/test -m "not integration" -x')
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines()[-1] == "pytest -n auto -m not integration -x"


def test_scripts_test_takes_the_worker_count_from_the_environment(tmp_path: Path) -> None:
    repo, log = layout(tmp_path, "test", "tools-env"), tmp_path / "checks.log"
    fake_checks(repo, log)
    done = run(repo, "bash scripts/test tests/x.py", WEBTIER_TEST_WORKERS="0")
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines()[-1] == "pytest -n 0 tests/x.py"


def test_scripts_test_keeps_mypys_cache_outside_the_checkout(tmp_path: Path) -> None:
    # A fresh clone (CI) then type-checks in seconds instead of minutes.
    repo, log = layout(tmp_path, "test", "tools-env"), tmp_path / "checks.log"
    fake_checks(repo, log)
    done = run(repo, "bash scripts/test")
    assert done.returncode == 0, done.stderr
    assert f"mypy cache {repo}/.cache/webtier-mypy" in log.read_text().splitlines()
    done = run(repo, "bash scripts/test", MYPY_CACHE_DIR=str(tmp_path / "mine"))
    assert f"mypy cache {tmp_path}/mine" in log.read_text().splitlines()
