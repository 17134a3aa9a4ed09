"""How big a Consul user event is once encoded, against the 512 bytes Serf allows.

Serf (`Serf.UserEvent`, serf 0.10) refuses an event whose *encoded* message exceeds its
`UserEventSizeLimit` (512 by default, which Consul keeps). That message is a type byte plus the
MessagePack of {LTime, Name: "consul:event:<name>", Payload, CC}, and its Payload is itself
Consul's MessagePack of the event: {ID (a UUID), n (name), p (payload), nf, sf, tf (the node,
service and tag filters, left out when empty), v}. So the manifest URL shares the 512 bytes with
the name, a UUID, every filter and the framing of both layers: for `deploy` without filters about
404 bytes of payload remain, and each byte of a canary's node filter takes one of them.

The model below counts those bytes; tests/consul_agent/test_event_size.py holds it to a real
Consul 1.14.11 agent byte for byte (the largest payload it accepts, with and without filters).
"""

from __future__ import annotations

from collections.abc import Sequence

# Serf's default UserEventSizeLimit, which Consul does not change.
EVENT_SIZE_LIMIT = 512
# The Lamport time of the outer message grows with every event in the cluster; a uint64 takes
# at most 9 bytes in MessagePack, so sizes are counted at that worst case.
_LTIME_MAX_BYTES = 9
_UUID_LEN = 36
# Characters Go's regexp syntax treats as special outside a character class.
_REGEXP_SPECIAL = frozenset("\\.+*?()|[]{}^$")
# An EC2 instance id: "i-" and 17 hex digits (8 for instances launched before 2016).
INSTANCE_ID_MAX_LEN = 19


def _str_new(n: int) -> int:
    """MessagePack str/bin header + body, current spec (Consul's handle: str8/bin8 exist)."""
    return n + (1 if n < 32 else 2 if n < 256 else 3 if n < 65536 else 5)


def _bin_new(n: int) -> int:
    return n + (2 if n < 256 else 3 if n < 65536 else 5)


def _raw_old(n: int) -> int:
    """MessagePack raw header + body, old spec (Serf's default handle: no str8/bin)."""
    return n + (1 if n < 32 else 3 if n < 65536 else 5)


def _uint(n: int) -> int:
    """MessagePack bytes of an unsigned integer."""
    return 1 if n < 128 else 2 if n < 256 else 3 if n < 65536 else 5 if n < 2**32 else 9


def encoded_event_size(name: str, payload: bytes, node_filter: str = "",
                       service_filter: str = "", tag_filter: str = "",
                       ltime: int | None = None) -> int:
    """Bytes of the Serf message Consul broadcasts for this event; `ltime` is the cluster's
    Lamport time when it fires (None: the worst case, what the deploy tools check against)."""
    inner = 1 + _str_new(2) + _str_new(_UUID_LEN) + _str_new(1) + _str_new(len(name.encode()))
    if payload:
        inner += _str_new(1) + _bin_new(len(payload))
    for value in (node_filter, service_filter, tag_filter):
        if value:
            inner += _str_new(2) + _str_new(len(value.encode()))
    inner += _str_new(1) + 1  # "v": 1
    ltime_bytes = _LTIME_MAX_BYTES if ltime is None else _uint(ltime)
    outer = 1 + _raw_old(5) + ltime_bytes + _raw_old(4) \
        + _raw_old(len(f"consul:event:{name}".encode())) + _raw_old(7) + _raw_old(inner) \
        + _raw_old(2) + 1  # "CC": false
    return 1 + outer


def fits(name: str, payload: bytes, node_filter: str = "") -> bool:
    return encoded_event_size(name, payload, node_filter) <= EVENT_SIZE_LIMIT


def _escape(text: str) -> str:
    """`text` as a Go regexp literal, escaping only what Go's syntax needs (saves bytes)."""
    return "".join("\\" + c if c in _REGEXP_SPECIAL else c for c in text)


def node_filter(nodes: Sequence[str]) -> str:
    """A NodeFilter matching exactly `nodes`; their common prefix is written once."""
    if not nodes:
        raise ValueError("a node filter needs at least one node")
    common = nodes[0]
    for node in nodes[1:]:
        while not node.startswith(common):
            common = common[:-1]
    tails = [n[len(common):] for n in nodes]
    if len(set(tails)) < len(tails):
        raise ValueError("node names repeat")
    if len(tails) == 1:
        return f"^{_escape(common)}$"
    return f"^{_escape(common)}({'|'.join(_escape(t) for t in tails)})$"


def worst_canary_filter(node_prefix: str, count: int) -> str:
    """A filter as long as the longest one `node_filter` can build for `count` nodes named
    <node_prefix><instance id>: every id starts "i-", so at worst 17 hex digits differ."""
    tail = INSTANCE_ID_MAX_LEN - 2
    return f"^{_escape(node_prefix)}i-({'|'.join(['0' * tail] * count)})$"
