"""Consul's 512-byte user event limit, measured on a real Consul 1.14.11 agent: the largest
payload it accepts, with and without node/service/tag filters, under the old shared name and a
stack's own (contracts/release_layout.py), is exactly what contracts/consul_event.py's model of
the encoded event predicts."""

from __future__ import annotations

import pytest

from contracts.consul_event import (
    EVENT_SIZE_LIMIT,
    encoded_event_size,
    worst_canary_filter,
)
from contracts.release_layout import LEGACY_DEPLOY_EVENT, deploy_event
from tests.real_consul import ConsulAgent

NAMES = (LEGACY_DEPLOY_EVENT, deploy_event("webapp", "production"))

FILTERS = {
    "no filter": {},
    "one-node canary": {"node": "^webapp-staging-i-0123456789abcdef0$"},
    "ten-node production canary": {"node": worst_canary_filter("webapp-production-", 10)},
    "service filter": {"service": "webapp"},
    "service and tag filters": {"service": "webapp", "tag": "^canary$"},
}


def _ltime(agent: ConsulAgent) -> int:
    """The Lamport time the next event fires at: one past the newest event's (one server)."""
    events = agent.api("GET", "/v1/event/list").json()
    return max((int(e["LTime"]) for e in events), default=0) + 1


def _fires(agent: ConsulAgent, size: int, filters: dict[str, str],
           name: str = LEGACY_DEPLOY_EVENT) -> bool:
    answer = agent.api("PUT", f"/v1/event/fire/{name}", data=b"x" * size, params=filters)
    assert answer.status_code in (200, 500), answer.text
    if answer.status_code == 500:
        assert "exceeds configured limit of 512 bytes" in answer.text, answer.text
    return answer.status_code == 200


def _largest(agent: ConsulAgent, filters: dict[str, str], name: str) -> int:
    low, high = 0, EVENT_SIZE_LIMIT  # fires at low, refused at high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _fires(agent, mid, filters, name) else (low, mid)
    return low


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", sorted(FILTERS))
def test_the_largest_payload_consul_accepts_is_what_the_model_predicts(
        consul_agent: ConsulAgent, case: str, name: str) -> None:
    filters = FILTERS[case]
    measured = _largest(consul_agent, filters, name)
    ltime = _ltime(consul_agent)

    def size(n: int) -> int:
        return encoded_event_size(name, b"x" * n, filters.get("node", ""),
                                  filters.get("service", ""), filters.get("tag", ""), ltime)

    predicted = max(n for n in range(EVENT_SIZE_LIMIT) if size(n) <= EVENT_SIZE_LIMIT)
    assert measured == predicted
    # And the worst case the deploy tools check against never admits what Consul refuses.
    worst = max(n for n in range(EVENT_SIZE_LIMIT) if encoded_event_size(
        name, b"x" * n, filters.get("node", ""), filters.get("service", ""),
        filters.get("tag", "")) <= EVENT_SIZE_LIMIT)
    assert measured - 8 <= worst <= measured


def test_without_filters_about_404_payload_bytes_fit_not_480(consul_agent: ConsulAgent) -> None:
    assert _fires(consul_agent, 400, {})
    assert not _fires(consul_agent, 480, {})
