"""`pulumi destroy` and `pulumi refresh` of ConsulKv under the REAL Pulumi engine, on a real
Consul 1.14.11 agent with default-deny ACLs.

Real: the Pulumi CLI and engine, the dynamic provider plugin process, the Consul client over HTTP,
Consul itself (tests/real_consul.py). Each test has its own stack: destroy ends it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.engine.kv_stack import ENTRIES_TYPE, PLAIN, SECRET_KEY, KvStack, kv_stack
from tests.engine.workspace import resource_outputs
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_destroy_removes_only_the_keys_the_stack_wrote(tmp_path: Path,
                                                       consul_agent: ConsulAgent) -> None:
    with kv_stack(tmp_path, "destroy", consul_agent) as kv:
        other = consul_agent.fresh_prefix()
        kv.consul.put(f"{kv.prefix}/foreign/owner", "another tool")
        kv.consul.put(f"{other}/service/port", "9000")
        owned = {f"{kv.prefix}/{k}" for k in [*PLAIN, SECRET_KEY]}
        assert set(kv.consul.keys(kv.prefix)) == owned | {f"{kv.prefix}/foreign/owner"}

        destroyed = kv.stack.destroy(on_output=kv.capture())

        assert destroyed.summary.resource_changes == {"delete": 3}
        assert kv.consul.keys(kv.prefix) == [f"{kv.prefix}/foreign/owner"]
        assert kv.consul.keys(other) == [f"{other}/service/port"]
        consul_agent.wipe(other)


def _revoke_read(kv: KvStack, agent: ConsulAgent) -> str:
    """Change the stack's token's policy so it may no longer read the prefix; returns its rules
    before. The token stays valid: Consul then filters the prefix out of every listing."""
    me = agent.api("GET", "/v1/acl/token/self", token=kv.consul.token).json()
    policy = agent.api("GET", f"/v1/acl/policy/{me['Policies'][0]['ID']}").json()
    agent.api("PUT", f"/v1/acl/policy/{policy['ID']}", json={
        **policy, "Rules": 'key_prefix "somewhere-else/" { policy = "write" }'})
    return str(policy["Rules"])


def _cause(failed: auto.CommandError) -> str:
    """The provider's one line (components/provider_errors.py cuts the host's traceback)."""
    assert "Traceback" not in str(failed), str(failed)
    marker = "error: components.consul.kv_sync.ConsulKvError:"
    causes = {line.split(marker, 1)[1].strip() for line in str(failed).splitlines()
              if marker in line}
    assert len(causes) == 1, str(failed)
    return causes.pop()


def test_refresh_and_destroy_with_a_token_that_lost_read_fail_and_change_nothing(
        tmp_path: Path, consul_agent: ConsulAgent) -> None:
    with kv_stack(tmp_path, "noread", consul_agent) as kv:
        owned = kv.consul.keys(kv.prefix)
        _revoke_read(kv, consul_agent)

        with pytest.raises(auto.CommandError) as refreshed:
            kv.stack.refresh(on_output=kv.capture())
        cause = _cause(refreshed.value)
        assert "may not read" in cause
        assert f'key_prefix "{kv.prefix}/" read' in cause
        assert resource_outputs(kv.stack, ENTRIES_TYPE)["values"] == PLAIN

        with pytest.raises(auto.CommandError) as destroyed:
            kv.stack.destroy(on_output=kv.capture())
        assert "may not read" in _cause(destroyed.value)
        assert kv.consul.keys(kv.prefix) == owned
        assert len(owned) == 3
