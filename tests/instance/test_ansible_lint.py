"""The image playbooks and roles: syntax, ansible-lint (production profile), and the conventions
the roles share (layout, prefixed variables, downloads tagged so offline runs can skip them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.image.inputs import ROOT

ANSIBLE = ROOT / "image" / "ansible"
PLAYBOOKS = ["base.yml", "app.yml", "trial.yml"]
ROLES = sorted(p.name for p in (ANSIBLE / "roles").iterdir() if p.is_dir())
# Modules that fetch from outside or unpack what was fetched.
DOWNLOADING = {"ansible.builtin.get_url", "ansible.builtin.unarchive"}


def tool_env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))


def tasks(role: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((ANSIBLE / "roles" / role / "tasks/main.yml").read_text()) or [])


@pytest.mark.integration
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_passes_ansible_playbook_syntax_check(playbook: str) -> None:
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", "localhost,", playbook],
        cwd=ANSIBLE, env=tool_env(), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_playbooks_pass_ansible_lint_production_profile() -> None:
    result = subprocess.run(
        ["ansible-lint", "--profile", "production", "--nocolor", *PLAYBOOKS],
        cwd=ANSIBLE, env=tool_env(), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]


def test_playbooks_apply_every_role() -> None:
    applied = {r["role"] for name in ("base.yml", "app.yml")
               for play in yaml.safe_load((ANSIBLE / name).read_text())
               for r in play["roles"]}
    assert applied == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_has_defaults_tasks_handlers_and_templates(role: str) -> None:
    folder = ANSIBLE / "roles" / role
    # Handlers only where a task notifies one (stretcher's watch moved to boot, so it has none).
    needed = ("defaults", "tasks", "templates",
              *(("handlers",) if any("notify" in t for t in tasks(role)) else ()))
    assert [d for d in needed if not (folder / d).is_dir() or not any((folder / d).iterdir())] \
        == []


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_are_prefixed_with_the_role_name(role: str) -> None:
    defaults = yaml.safe_load((ANSIBLE / "roles" / role / "defaults/main.yml").read_text())
    assert [k for k in defaults if not k.startswith(f"{role}_")] == []


@pytest.mark.parametrize("role", ROLES)
def test_role_downloads_are_tagged_so_offline_runs_can_skip_them(role: str) -> None:
    untagged = [t["name"] for t in tasks(role)
                if DOWNLOADING & set(t) and "download" not in (t.get("tags") or [])]
    assert untagged == []


@pytest.mark.parametrize("role", ROLES)
def test_role_restart_handlers_are_off_for_image_bakes(role: str) -> None:
    """A bake must not start agents: a started consul would bake its node-id into the image."""
    defaults = yaml.safe_load((ANSIBLE / "roles" / role / "defaults/main.yml").read_text())
    path = ANSIBLE / "roles" / role / "handlers/main.yml"
    handlers = yaml.safe_load(path.read_text()) if path.exists() else []
    starting = [h for h in handlers
                if h.get("ansible.builtin.systemd_service", {}).get("state")]
    assert all(h.get("when") == f"{role}_restart_on_change" for h in starting), starting
    assert not defaults.get(f"{role}_restart_on_change", False)


@pytest.mark.parametrize("role", ["consul", "consul_template", "stretcher"])
def test_release_is_pinned_to_a_version_and_its_sha256(role: str) -> None:
    defaults = yaml.safe_load((ANSIBLE / "roles" / role / "defaults/main.yml").read_text())
    download = next(t for t in tasks(role) if "ansible.builtin.get_url" in t)
    assert re.fullmatch(r"\d+\.\d+\.\d+", defaults[f"{role}_version"])
    assert re.fullmatch(r"[0-9a-f]{64}", defaults[f"{role}_sha256"])
    assert download["ansible.builtin.get_url"]["checksum"] == f"sha256:{{{{ {role}_sha256 }}}}"
