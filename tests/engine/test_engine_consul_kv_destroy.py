"""`pulumi destroy` of ConsulKv under the REAL Pulumi engine removes only the keys the stack wrote.

Real: the Pulumi CLI and engine, the dynamic provider plugin process, py-consul over HTTP.
Double: Consul (tests/consul_double.py on loopback). Its own stack: destroy ends it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.kv_stack import PLAIN, PREFIX, SECRET_KEY, kv_stack

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_destroy_removes_only_the_keys_the_stack_wrote(tmp_path: Path) -> None:
    with kv_stack(tmp_path, "destroy") as kv:
        kv.consul.put(f"{PREFIX}/foreign/owner", "another tool")
        kv.consul.put("app/other-stack/service/port", "9000")
        assert set(kv.consul.kv) >= {f"{PREFIX}/{k}" for k in [*PLAIN, SECRET_KEY]}

        destroyed = kv.stack.destroy(on_output=kv.capture())

        assert destroyed.summary.resource_changes == {"delete": 3}
        assert sorted(kv.consul.kv) == [f"{PREFIX}/foreign/owner", "app/other-stack/service/port"]
