"""Refresh and destroy tell "no permission" from "gone" on a real Consul 1.14.11 agent.

Consul filters a recursive KV read by the token's ACL, so a valid token without read on the
prefix sees an empty 404, exactly what a deleted prefix looks like. Refresh must not drop the keys
from state then, and destroy must not report success while every key stays in Consul.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.consul.kv_provider import ConsulKvProvider
from components.consul.kv_sync import ConsulKvError
from tests.real_consul import ConsulAgent

SECRET = "kv-permission-secret-41c7"
VALUES = {"app/log-level": "debug", "feature/new-checkout": "on"}


def _props(agent: ConsulAgent, prefix: str, token: str) -> dict[str, Any]:
    return {"prefix": prefix, "address": agent.address, "datacenter": "", "caCert": "",
            "token": token, "values": dict(VALUES),
            "secretValues": {"database/master-password": SECRET}}


def _created(agent: ConsulAgent, prefix: str) -> dict[str, Any]:
    writer = agent.make_token(f'key_prefix "{prefix}/" {{ policy = "write" }}')
    props = _props(agent, prefix, writer)
    return {**props, **ConsulKvProvider().create(props).outs}


def _stranger(agent: ConsulAgent) -> str:
    """A valid token that may write elsewhere but not read this prefix."""
    return agent.make_token('key_prefix "somewhere-else/" { policy = "write" }')


def _keys(agent: ConsulAgent, prefix: str) -> list[str]:
    answer = agent.api("GET", f"/v1/kv/{prefix}/", params={"keys": ""})
    return [] if answer.status_code == 404 else sorted(answer.json())


def _assert_loud(err: ConsulKvError, prefix: str, stranger: str) -> None:
    message = str(err)
    assert "\n" not in message
    assert "may not read" in message
    assert "403" in message
    assert f'key_prefix "{prefix}/" read' in message
    assert stranger not in message
    assert SECRET not in message


def test_a_token_without_read_sees_the_prefix_as_an_empty_404(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    # The trap itself, as Consul sets it: filtered, not refused.
    _created(consul_agent, kv_prefix)
    listing = consul_agent.api("GET", f"/v1/kv/{kv_prefix}/", token=_stranger(consul_agent),
                               params={"recurse": ""})
    assert (listing.status_code, listing.text) == (404, "")


def test_refresh_with_a_token_that_may_not_read_fails_instead_of_emptying_state(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    state = _created(consul_agent, kv_prefix)
    stranger = _stranger(consul_agent)
    with pytest.raises(ConsulKvError) as err:
        ConsulKvProvider().read(kv_prefix, {**state, "token": stranger})
    _assert_loud(err.value, kv_prefix, stranger)


def test_destroy_with_a_token_that_may_not_read_fails_and_every_key_stays(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    state = _created(consul_agent, kv_prefix)
    before = _keys(consul_agent, kv_prefix)
    stranger = _stranger(consul_agent)
    with pytest.raises(ConsulKvError) as err:
        ConsulKvProvider().delete(kv_prefix, {**state, "token": stranger})
    _assert_loud(err.value, kv_prefix, stranger)
    assert _keys(consul_agent, kv_prefix) == before
    assert len(before) == 3


def test_refresh_still_drops_a_key_that_is_really_gone(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    state = _created(consul_agent, kv_prefix)
    consul_agent.api("DELETE", f"/v1/kv/{kv_prefix}/app/log-level")
    read = ConsulKvProvider().read(kv_prefix, state)
    assert read.outs["values"] == {"feature/new-checkout": "on"}
    assert set(read.outs["indexes"]) == {"feature/new-checkout", "database/master-password"}


def test_destroy_of_a_prefix_deleted_by_hand_succeeds(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    state = _created(consul_agent, kv_prefix)
    consul_agent.wipe(kv_prefix)
    ConsulKvProvider().delete(kv_prefix, state)
    assert _keys(consul_agent, kv_prefix) == []


def test_destroy_with_the_writer_token_removes_every_key(
        consul_agent: ConsulAgent, kv_prefix: str) -> None:
    state = _created(consul_agent, kv_prefix)
    ConsulKvProvider().delete(kv_prefix, state)
    assert _keys(consul_agent, kv_prefix) == []
