"""requirements.txt (what `pulumi install` puts in venv/) says what pyproject.toml says.

The Pulumi CLI's pip toolchain installs only requirements.txt; `scripts/setup` installs
pyproject.toml. Two lists of the same facts drift, so these tests hold them equal, and prove a venv
built from requirements.txt alone runs the whole program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PULUMI_SDKS = ("pulumi", "pulumi-aws", "pulumi-command", "pulumi-policy")


def requirement_lines(path: Path) -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            req = Requirement(text)
            out[canonicalize_name(req.name)] = req
    return out


def pyproject_dependencies() -> dict[str, Requirement]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {canonicalize_name(r.name): r for r in map(Requirement, deps)}


def normal(reqs: dict[str, Requirement]) -> dict[str, str]:
    return {name: f"{r.specifier}{';' + str(r.marker) if r.marker else ''}"
            for name, r in reqs.items()}


def test_requirements_txt_lists_exactly_pyprojects_runtime_dependencies() -> None:
    assert normal(requirement_lines(ROOT / "requirements.txt")) == normal(pyproject_dependencies())


@pytest.mark.parametrize("name", PULUMI_SDKS)
def test_pulumi_sdks_are_pinned_to_one_exact_version(name: str) -> None:
    specs = list(pyproject_dependencies()[name].specifier)
    assert [s.operator for s in specs] == ["=="], f"{name}: {specs} is not an exact pin"


def test_policy_packs_requirements_pin_the_same_sdks_as_the_program() -> None:
    pack = normal(requirement_lines(ROOT / "policy" / "requirements.txt"))
    program = normal(pyproject_dependencies())
    assert pack == {name: program[name] for name in pack}


def test_pulumi_yaml_uses_the_pip_toolchain_that_reads_requirements_txt() -> None:
    import yaml

    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": "venv"}


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_real_fresh_venv_from_requirements_txt_alone_runs_the_program_and_policy_pack(
        tmp_path: Path) -> None:
    # What `pulumi install` does: a venv, then `pip install -r requirements.txt` (PyPI; pip's
    # cache makes reruns fast). Then the program, every component and the policy pack run in it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements.txt")], check=True, timeout=280, env=env)
    # The tree runs __main__.py (every component) under the mock engine; --policy loads the pack.
    ours = subprocess.run([sys.executable, "-m", "plan", "staging"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True).stdout
    for args in (["staging"], ["staging", "--policy"]):
        done = subprocess.run([str(python), "-m", "plan", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
        if args == ["staging"]:
            assert done.stdout == ours, "the fresh venv plans a different stack"
