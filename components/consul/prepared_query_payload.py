"""Prepared queries that fail a service over to WAN-federated datacenters: pure payload builders.

The app asks for ``<service>-failover.query.consul`` (DNS through dnsmasq) or executes the query
by name over HTTP; Consul answers with healthy instances in this datacenter and, when there are
none, with those of the peers, in the order the settings list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Short, so a failover is noticed quickly by resolvers that cache answers.
DNS_TTL = "10s"


def query_name(service: str) -> str:
    """The prepared query's name; the token command's `query` rule is on exactly this name."""
    return f"{service}-failover"


def failover_query(service: str, peers: Sequence[str]) -> dict[str, Any]:
    """The /v1/query body: healthy instances near the asking agent, then the peers in order."""
    return {
        "Name": query_name(service),
        "Service": {
            "Service": service,
            "OnlyPassing": True,
            "Near": "_agent",
            "Failover": {"Datacenters": list(peers)},
        },
        "DNS": {"TTL": DNS_TTL},
    }
