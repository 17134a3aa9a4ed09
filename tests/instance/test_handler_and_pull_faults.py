"""deploy-event-handler with a full or read-only state dir, and release-pull's timeout, run for
real as processes. The handler runs from a temp copy beside a stub release-pull that counts its
calls; release-pull runs with a stub stretcher that leaves a child behind."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # every test here starts processes

FILES = Path(__file__).resolve().parent.parent.parent / "image/ansible/roles/stretcher/files"
URL = "s3://rel-staging/releases/webapp/r1/manifest.yml"


def event(ltime: int = 5) -> dict[str, object]:
    return {"ID": str(uuid.uuid4()), "Name": "deploy", "LTime": ltime, "Version": 1,
            "Payload": base64.b64encode(URL.encode()).decode()}


@pytest.fixture
def handler(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(FILES / "deploy-event-handler", bin_dir)
    stub = bin_dir / "release-pull"
    # The handler runs it with its own Python.
    stub.write_text("import sys\n"
                    f"with open({str(tmp_path / 'pulls')!r}, 'a') as f:\n"
                    "    f.write(' '.join(sys.argv[1:]) + '\\n')\n")
    stub.chmod(0o755)
    return bin_dir / "deploy-event-handler"


def run_handler(script: Path, state: Path, events: list[dict[str, object]],
                wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(wrap or []), sys.executable, str(script)],
                          input=json.dumps(events), text=True, capture_output=True, timeout=60,
                          env={"PATH": os.defpath, "WEBTIER_STATE_DIR": str(state)}, check=False)


def pulls(tmp: Path) -> list[str]:
    path = tmp / "pulls"
    return path.read_text().splitlines() if path.exists() else []


def test_a_replayed_event_deploys_once(handler: Path, tmp_path: Path) -> None:
    events = [event()]
    for _ in range(3):
        assert run_handler(handler, tmp_path / "state", events).returncode == 0
    assert pulls(tmp_path) == [f"--manifest {URL}"]


def test_a_full_state_dir_deploys_nothing_and_says_so_in_one_line(handler: Path,
                                                                  tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / ".handled-events.json.tmp").symlink_to("/dev/full")  # every write: ENOSPC
    events = [event()]
    for _ in range(3):  # every replay: still nothing deployed, still no traceback
        done = run_handler(handler, state, events)
        assert done.returncode == 4, done.stderr
        assert "Traceback" not in done.stderr
        assert "cannot record handled events" in done.stderr
        assert "No space left on device" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert pulls(tmp_path) == []


def test_a_read_only_state_dir_deploys_nothing_and_says_so(handler: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    # root ignores file modes: a read-only bind mount in a mount namespace of our own.
    wrap = ["unshare", "-m", "sh", "-c",
            f"mount --bind -o ro {state} {state} && exec \"$0\" \"$@\""]
    done = run_handler(handler, state, [event()], wrap)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "Read-only file system" in done.stderr
    assert pulls(tmp_path) == []


def test_a_missing_state_dir_that_cannot_be_made_is_one_line(handler: Path,
                                                            tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    done = run_handler(handler, tmp_path / "file" / "state", [event()])
    assert done.returncode == 4, done.stderr
    assert "cannot use the state dir" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("stdin", ["[" * 100_000, "\xff", '{"a": 1}', "[1, 2", "nul\x00l"])
def test_stdin_that_is_not_event_json_is_exit_1_without_traceback(handler: Path, tmp_path: Path,
                                                                 stdin: str) -> None:
    done = subprocess.run([sys.executable, str(handler)], input=stdin.encode("utf-8",
                          "surrogateescape") if stdin != "\xff" else b"\xff", capture_output=True,
                          timeout=60, env={"PATH": os.defpath,
                                           "WEBTIER_STATE_DIR": str(tmp_path / "s")}, check=False)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr


# --- release-pull's timeout -------------------------------------------------------------------


def test_the_timeout_kills_stretchers_children_before_the_lock_is_released(tmp_path: Path) -> None:
    root, state, fake = tmp_path / "app", tmp_path / "state", tmp_path / "fake"
    for d in (root, state, fake):
        d.mkdir()
    (tmp_path / "node.env").write_text("APP_NAME=webapp\nRELEASE_BUCKET=rel-staging\n"
                                       "KV_PREFIX=webapp/staging\n")
    # A manifest command that forks: the child would switch `current` after the timeout.
    (fake / "stretcher").write_text(
        "#!/bin/sh\n"
        f"(sleep 3; touch {tmp_path}/child-ran) &\n"
        f"echo $! > {tmp_path}/child-pid\n"
        "sleep 60\n")
    (fake / "stretcher").chmod(0o755)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(FILES / "release-pull"), "--manifest", URL], capture_output=True,
        text=True, timeout=60, check=False,
        env={"PATH": f"{fake}:{os.defpath}", "WEBTIER_NODE_ENV": str(tmp_path / "node.env"),
             "WEBTIER_ROOT": str(root), "WEBTIER_STATE_DIR": str(state),
             "WEBTIER_DEPLOY_TIMEOUT": "1"})
    assert done.returncode == 1, done.stderr
    assert "killed with its children" in done.stderr
    assert time.monotonic() - started < 20
    child = int((tmp_path / "child-pid").read_text())
    time.sleep(4)  # past the child's 3 s
    assert not (tmp_path / "child-ran").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
