"""The KV value limit the settings enforce (components/kv_payload.max_value_bytes) measured on the
real agent: a value at the limit is written by one /v1/txn; 512 KiB, which kv_max_value_size
alone would allow, is refused with 413 by txn_max_req_len, and the settings refuse it first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.consul.kv_payload import max_value_bytes, value_problem, write_op
from tests.consul_agent.agent_in_netns import run_in_agent

pytestmark = pytest.mark.consul_agent
PREFIX, KEY = "webapp/staging", "big/blob"


def test_the_txn_limit_is_what_the_agent_enforces(tmp_path: Path) -> None:
    limit = max_value_bytes(PREFIX, KEY)
    bodies = {name: json.dumps([write_op(PREFIX, KEY, "x" * size, 0)])
              for name, size in (("at_limit", limit), ("kv_max", 512 * 1024))}
    (tmp_path / "bodies.json").write_text(json.dumps(bodies))
    snippet = f"""
        bodies = json.load(open({str(tmp_path / 'bodies.json')!r}))
        print(json.dumps({{name: call("PUT", "/v1/txn", body.encode())[0]
                          for name, body in bodies.items()}}))
    """
    statuses = run_in_agent({}, snippet, tmp_path)
    assert statuses["at_limit"] == 200
    # Consul answers 413 and closes before reading the body, so the client may see the closed
    # connection instead of the status; its log names the refusal either way.
    assert statuses["kv_max"] in (413, 0)
    assert "too large, max size: 524288 bytes" in (tmp_path / "agent.log").read_text()
    assert value_problem(PREFIX, KEY, "x" * limit) is None
    assert value_problem(PREFIX, KEY, "x" * 512 * 1024) is not None
