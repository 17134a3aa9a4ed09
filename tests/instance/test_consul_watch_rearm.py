"""consul-watch-rearm's own input: run outside systemd (no MAINPID) or with a broken REARM_WAIT,
it says which variable in one line and exits 2 without touching any process. What it does to a
real agent is tests/consul_agent/test_watch_rearm.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REARM = Path(__file__).resolve().parents[2] / "image/ansible/roles/consul/files/consul-watch-rearm"


def run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("CONSUL_", "REARM_")) and k != "MAINPID"}
    return subprocess.run([sys.executable, str(REARM)], capture_output=True, text=True,
                          timeout=30, env={**clean, **env})


@pytest.mark.parametrize(("env", "named"), [
    ({}, "MAINPID=''"),
    ({"MAINPID": "12x"}, "MAINPID='12x'"),
    ({"MAINPID": "0"}, "MAINPID='0'"),
    ({"MAINPID": "1", "REARM_WAIT": "soon"}, "REARM_WAIT='soon'"),
    ({"MAINPID": "1", "REARM_WAIT": "-5"}, "REARM_WAIT='-5'"),
])
def test_a_wrong_environment_is_one_line_and_exit_2(env: dict[str, str], named: str) -> None:
    done = run(**env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"consul-watch-rearm: {named} must be a whole number")
    assert "Traceback" not in done.stderr


def test_no_agent_answering_is_said_once_and_exits_0_without_a_signal() -> None:
    # MAINPID is this test process: a SIGHUP sent anyway would end the run, not pass quietly.
    done = run(MAINPID=str(os.getpid()), REARM_WAIT="1", CONSUL_HTTP_ADDR="http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1
    assert "no leader after 1s at http://127.0.0.1:9" in done.stderr
