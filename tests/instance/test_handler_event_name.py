"""deploy-event-handler acts only on its own stack's deploy event, as node.env names it, run for
real as a process beside a stub release-pull that records what it is handed. A node.env from
before the per-stack event (no DEPLOY_EVENT) keeps the old shared `deploy`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from contracts.release_layout import LEGACY_DEPLOY_EVENT, deploy_event

pytestmark = pytest.mark.integration  # starts processes

FILES = Path(__file__).resolve().parent.parent.parent / "image/ansible/roles/stretcher/files"
STAGING, PRODUCTION = deploy_event("webapp", "staging"), deploy_event("webapp", "production")


def event(name: str, ltime: int) -> dict[str, object]:
    url = f"s3://rel/releases/webapp/{name}/manifest.yml"
    return {"ID": str(uuid.uuid4()), "Name": name, "LTime": ltime, "Version": 1,
            "Payload": base64.b64encode(url.encode()).decode()}


def handled(tmp: Path, node_env: str, events: list[dict[str, object]]) -> list[str]:
    """The manifests the handler hands release-pull for these events, under this node.env."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shutil.copy(FILES / "deploy-event-handler", bin_dir)
    (bin_dir / "release-pull").write_text(
        f"import sys\nopen({str(tmp / 'pulls')!r}, 'a').write(sys.argv[-1] + '\\n')\n")
    (tmp / "node.env").write_text(node_env)
    done = subprocess.run([sys.executable, str(bin_dir / "deploy-event-handler")],
                          input=json.dumps(events), text=True, capture_output=True, timeout=60,
                          env={"PATH": os.defpath, "WEBTIER_STATE_DIR": str(tmp / "state"),
                               "WEBTIER_NODE_ENV": str(tmp / "node.env")}, check=False)
    assert done.returncode == 0, done.stderr
    pulls = tmp / "pulls"
    return [line.split("/")[-2] for line in pulls.read_text().splitlines()] \
        if pulls.exists() else []


# The other stack's event and the old shared one come later (higher LTime): acted on, either
# would win over the node's own.
EVERY = [event(STAGING, 5), event(PRODUCTION, 6), event(LEGACY_DEPLOY_EVENT, 7)]


def test_a_node_deploys_only_its_own_stacks_event(tmp_path: Path) -> None:
    node_env = f"APP_NAME=webapp\nDEPLOY_EVENT='{STAGING}'\nKV_PREFIX=webapp/staging\n"
    assert handled(tmp_path, node_env, EVERY) == [STAGING]


def test_a_node_env_without_deploy_event_keeps_the_old_shared_event(tmp_path: Path) -> None:
    assert handled(tmp_path, "APP_NAME=webapp\nKV_PREFIX=webapp/staging\n", EVERY) == \
        [LEGACY_DEPLOY_EVENT]
