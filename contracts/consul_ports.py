"""Consul's ports: what each carries, and which ones the fleet opens to the Consul cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsulPort:
    port: int
    purpose: str
    protocols: tuple[str, ...]


SERVER_RPC = ConsulPort(8300, "Consul RPC", ("tcp",))
SERF_LAN = ConsulPort(8301, "Consul gossip", ("tcp", "udp"))
SERF_WAN = ConsulPort(8302, "Consul WAN gossip", ("tcp", "udp"))
HTTP = ConsulPort(8500, "Consul HTTP API", ("tcp",))
HTTPS = ConsulPort(8501, "Consul HTTPS API", ("tcp",))
GRPC = ConsulPort(8502, "Consul gRPC", ("tcp",))
GRPC_TLS = ConsulPort(8503, "Consul gRPC (TLS)", ("tcp",))
DNS = ConsulPort(8600, "Consul DNS", ("tcp", "udp"))

ALL: tuple[ConsulPort, ...] = (SERVER_RPC, SERF_LAN, SERF_WAN, HTTP, HTTPS, GRPC, GRPC_TLS, DNS)
BY_NUMBER: Mapping[int, ConsulPort] = {p.port: p for p in ALL}
NUMBERS = frozenset(BY_NUMBER)

# A client agent is reached by the servers on RPC and by every agent on LAN gossip; nothing else
# needs to reach a node, and the HTTP/DNS ports stay on loopback.
FLEET_INBOUND_FROM_CLUSTER: tuple[ConsulPort, ...] = (SERVER_RPC, SERF_LAN)

# What a node's agent serves to local clients only (client_addr 127.0.0.1): consul-template, the
# deploy watch and release-pull use the HTTP API, dnsmasq forwards .consul to DNS. RPC to the
# servers is where TLS applies (same SERVER_RPC port, upgraded in-band by auto_encrypt).
NODE_LOOPBACK: tuple[ConsulPort, ...] = (HTTP, DNS)
# Off on the nodes' agents: nothing remote talks to them, and no mesh runs here.
NODE_DISABLED: tuple[ConsulPort, ...] = (HTTPS, GRPC)
