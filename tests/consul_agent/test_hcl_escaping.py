"""hcl_string against the real Consul agent (1.14, HCL 1): every adversarial string written with it
comes back from the agent's API as itself, and the boot script's node.hcl and app-service.hcl load
with the values the builder was given (tests/consul_agent/agent_in_netns.py runs the agent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.fleet.user_data import node_hcl, service_hcl
from contracts.escaping import hcl_string
from contracts.release_layout import service_name
from tests.adversarial_strings import ADVERSARIAL
from tests.consul_agent.agent_in_netns import run_in_agent, validate
from tests.fleet.test_user_data_escaping import BOOT

pytestmark = pytest.mark.consul_agent

# NUL is refused by hcl_string (tests/fleet/test_user_data_escaping.py); the rest must round-trip.
VALUES = [v for v in ADVERSARIAL if "\x00" not in v and v]

READ_BACK = """
    for _ in range(300):
        services = get("/v1/agent/services")
        if "probe" in services and "webapp" in services:
            break
        time.sleep(0.1)
    print(json.dumps({"self": get("/v1/agent/self"), "services": services,
                      "checks": get("/v1/agent/checks")}))
"""


def test_every_string_written_with_hcl_string_reads_back_from_the_agent(tmp_path: Path) -> None:
    probe = ("service {\n  name = \"probe\"\n  tags = [\n"
             + "".join(f"    {hcl_string(v)},\n" for v in VALUES) + "  ]\n}\n")
    assert BOOT.service is not None
    config = {"probe.hcl": probe, "node.hcl": node_hcl(BOOT),
              "app-service.hcl": service_hcl(BOOT.app, BOOT.environment, BOOT.service,
                                             hcl_string("2b7c2e6e-5d5e-4f7a-9d1c-6d8e0b1f3a42"))}
    (tmp_path / "v").mkdir()
    for name, text in config.items():
        (tmp_path / "v" / name).write_text(text)
    checked = validate(tmp_path / "v", tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    view = run_in_agent(config, READ_BACK, tmp_path)
    assert view["services"]["probe"]["Tags"] == VALUES
    me = view["self"]
    assert me["Config"]["Datacenter"] == BOOT.datacenter
    assert me["Meta"]["environment"] == BOOT.environment
    assert me["Meta"]["app"] == BOOT.app
    # The agent's debug view masks tag_key ("hidden"); the rest is the one string written.
    assert me["DebugConfig"]["RetryJoinLAN"] == [
        f"provider=aws tag_key=hidden tag_value={BOOT.join_tag_value}"]
    name = service_name(BOOT.app, BOOT.environment)
    (check,) = [c for c in view["checks"].values() if c["ServiceName"] == name]
    assert check["Type"] == "http"
    (service,) = [s for s in me["DebugConfig"]["Services"] if s["Name"] == name]
    assert [c["HTTP"] for c in service["Checks"]] == ["http://127.0.0.1:8080/health"]
