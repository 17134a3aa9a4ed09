"""The user data of an instance warmed for the pool parks the app's Consul service file, so the
warming node is never a node of the service; in service, the agent loads it at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.fleet.user_data import render
from components.image.inputs import ROOT
from contracts.consul_agent import POOLED_SERVICE_CONFIG, SERVICE_CONFIG
from tests.fleet.test_user_data_escaping import BOOT, run_boot

pytestmark = pytest.mark.integration  # runs bash

CURL = ('case "$*" in *instance-id*) echo i-0123456789abcdef0;; '
        '*target-lifecycle-state*) echo {state};; *) echo stub-token;; esac\n')


def under(tmp: Path, path: str) -> Path:
    return tmp / path.lstrip("/")


@pytest.mark.parametrize("state", ["Warmed:Pending:Wait", "Warmed:Stopped"])
def test_warming_instance_parks_its_service_file(state: str, tmp_path: Path) -> None:
    done = run_boot(render(BOOT), tmp_path, curl=CURL.format(state=state))
    assert done.returncode == 0, done.stderr
    assert not under(tmp_path, SERVICE_CONFIG).exists()
    assert 'name = "webapp-staging"' in under(tmp_path, POOLED_SERVICE_CONFIG).read_text()


@pytest.mark.parametrize("state", ["InService", ""])
def test_instance_in_service_registers_its_service(state: str, tmp_path: Path) -> None:
    done = run_boot(render(BOOT), tmp_path, curl=CURL.format(state=state))
    assert done.returncode == 0, done.stderr
    assert 'name = "webapp-staging"' in under(tmp_path, SERVICE_CONFIG).read_text()
    assert not under(tmp_path, POOLED_SERVICE_CONFIG).exists()


def test_lifecycle_hook_unparks_the_file_boot_parks() -> None:
    # lifecycle-hook is stdlib-only and cannot import the contract: its default is checked here.
    hook = (ROOT / "image/ansible/roles/stretcher/files/lifecycle-hook").read_text()
    assert f'"WEBTIER_SERVICE_CONFIG", "{SERVICE_CONFIG}"' in hook
    assert 'live.with_name(f"{live.name}.pooled")' in hook
    assert f"{SERVICE_CONFIG}.pooled" == POOLED_SERVICE_CONFIG
