"""A real Consul dev agent (1.14, .tools/bin/consul) in a network namespace of its own with only
loopback up: whatever its config asks (retry_join provider=aws, ...) reaches nothing outside.
A Python snippet runs in the same namespace once the agent answers, and prints JSON back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.go_tools import tool

HTTP_PORT = 18500

_RUNNER = textwrap.dedent("""
    set -euo pipefail
    ip link set lo up
    "$CONSUL" agent -dev -config-dir "$DIR" -log-level=error >"$LOG" 2>&1 &
    agent=$!
    trap 'kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null || true' EXIT
    "$PYTHON" "$SNIPPET"
""")

_PRELUDE = textwrap.dedent(f"""
    import json, time, urllib.error, urllib.request
    BASE = "http://127.0.0.1:{HTTP_PORT}"
    def call(method, path, body=None):
        request = urllib.request.Request(BASE + path, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except urllib.error.URLError as e:  # the agent may answer 413 and close mid-upload
            return 0, str(e.reason)
    def get(path):
        return json.loads(call("GET", path)[1])
    for _ in range(300):  # until the dev server has elected itself
        status, leader = call("GET", "/v1/status/leader")
        if status == 200 and leader.strip() not in ('', '""'):
            break
        time.sleep(0.1)
""")


def run_in_agent(config: dict[str, str], snippet: str, tmp: Path) -> Any:
    """Start the agent with ``config`` files, run ``snippet`` (which prints one JSON value).
    The agent's log is left at ``tmp``/agent.log."""
    conf = tmp / "conf"
    conf.mkdir()
    for name, text in config.items():
        (conf / name).write_text(text)
    (conf / "ports.hcl").write_text(f"ports {{\n  http = {HTTP_PORT}\n  dns = -1\n"
                                    "  grpc = -1\n}\n")
    (tmp / "snippet.py").write_text(_PRELUDE + textwrap.dedent(snippet))
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", _RUNNER], capture_output=True, text=True, check=False,
        timeout=180, env={"PATH": "/usr/sbin:/usr/bin:/bin", "CONSUL": tool("consul"),
                          "DIR": str(conf), "LOG": str(tmp / "agent.log"),
                          "PYTHON": sys.executable, "SNIPPET": str(tmp / "snippet.py")})
    log = (tmp / "agent.log").read_text() if (tmp / "agent.log").exists() else ""
    assert done.returncode == 0, done.stderr + log
    return json.loads(done.stdout)


def validate(conf: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`consul validate` on ``conf`` (with the data_dir a dev agent does without)."""
    (tmp / "data.hcl").write_text(f'data_dir = "{tmp}/data"\n')
    return subprocess.run([tool("consul"), "validate", str(conf), str(tmp / "data.hcl")],
                          capture_output=True, text=True, check=False)
