"""hcl_string against the real Consul agent (1.14, HCL 1): every adversarial string written with it
comes back from the agent's API as itself, and the boot script's node.hcl and app-service.hcl load
with the values the builder was given.

The agent runs in a network namespace of its own with only loopback up, so the node.hcl's
retry_join (provider=aws) reaches nothing: go-discover's calls fail inside the namespace.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from components.user_data import node_hcl, service_hcl
from contracts.escaping import hcl_string
from tests.adversarial_strings import ADVERSARIAL
from tests.fleet.test_user_data_escaping import BOOT
from tests.go_tools import tool

pytestmark = pytest.mark.consul_agent

# NUL is refused by hcl_string (tests/fleet/test_user_data_escaping.py); the rest must round-trip.
VALUES = [v for v in ADVERSARIAL if "\x00" not in v and v]

# Inside the namespace: loopback up, the agent started, its API read once it answers, then the
# agent stopped by its PID. Prints one JSON object with what the API said.
PROBE = textwrap.dedent("""
    set -euo pipefail
    ip link set lo up
    "$CONSUL" agent -dev -config-dir "$DIR" -log-level=error >"$DIR/../agent.log" 2>&1 &
    agent=$!
    trap 'kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null || true' EXIT
    exec python3 - <<'PY'
    import json, time, urllib.request
    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:18500" + path, timeout=2) as r:
            return json.load(r)
    for _ in range(300):
        try:
            services = get("/v1/agent/services")
            if "probe" in services and "webapp" in services:
                break
        except OSError:
            pass
        time.sleep(0.1)
    print(json.dumps({"self": get("/v1/agent/self"), "services": get("/v1/agent/services"),
                      "checks": get("/v1/agent/checks")}))
    PY
""")


def agent_view(config: dict[str, str], tmp: Path) -> dict[str, object]:
    conf = tmp / "conf"
    conf.mkdir()
    for name, text in config.items():
        (conf / name).write_text(text)
    # The dev agent's fixed ports are free in a namespace of its own; 18500 only to be explicit.
    (conf / "ports.hcl").write_text("ports {\n  http = 18500\n  dns = -1\n  grpc = -1\n}\n")
    # validate wants the data_dir a dev agent does without.
    (tmp / "data.hcl").write_text(f'data_dir = "{tmp}/data"\n')
    validate = subprocess.run([tool("consul"), "validate", str(conf), str(tmp / "data.hcl")],
                              capture_output=True, text=True, check=False)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    done = subprocess.run(["unshare", "-n", "bash", "-c", PROBE], capture_output=True, text=True,
                          check=False, timeout=120,
                          env={"PATH": "/usr/sbin:/usr/bin:/bin", "CONSUL": tool("consul"),
                               "DIR": str(conf)})
    assert done.returncode == 0, done.stderr + (tmp / "agent.log").read_text()
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_every_string_written_with_hcl_string_reads_back_from_the_agent(tmp_path: Path) -> None:
    probe = ("service {\n  name = \"probe\"\n  tags = [\n"
             + "".join(f"    {hcl_string(v)},\n" for v in VALUES) + "  ]\n}\n")
    assert BOOT.service is not None
    view = agent_view({"probe.hcl": probe, "node.hcl": node_hcl(BOOT),
                       "app-service.hcl": service_hcl(BOOT.app, BOOT.service)}, tmp_path)
    services = view["services"]
    assert isinstance(services, dict)
    assert services["probe"]["Tags"] == VALUES
    me = view["self"]
    assert isinstance(me, dict)
    assert me["Config"]["Datacenter"] == BOOT.datacenter
    assert me["Meta"] == {"environment": BOOT.environment, "app": BOOT.app,
                          "consul-network-segment": ""}
    assert me["DebugConfig"]["RetryJoinLAN"] == [
        f"provider=aws tag_key={BOOT.join_tag_key} tag_value={BOOT.join_tag_value}"]
    checks = view["checks"]
    assert isinstance(checks, dict)
    (check,) = [c for c in checks.values() if c["ServiceName"] == BOOT.app]
    assert check["Definition"]["HTTP"] == "http://127.0.0.1:8080/health"

