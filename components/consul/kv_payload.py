"""Pure planning for syncing a stack's KV entries to Consul: diff, drift, txn ops and chunks.

Everything here is data in, data out; components/consul/kv.py does the HTTP. Keys are relative to
the stack's prefix ("database/master-user") except inside txn ops, which carry full Consul keys.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Consul refuses a /v1/txn with more operations than this: 128 (agent/txn_endpoint.go,
# maxTxnOps), what a real 1.14.11 agent answers 413 above (tests/consul_agent/).
TXN_MAX_OPS = 128
# Consul's default txn_max_req_len and kv_max_value_size: the whole request body, and one value.
TXN_MAX_BYTES = 512 * 1024
KV_MAX_VALUE_BYTES = 512 * 1024
# Left for the JSON framing of each op that the size estimate below does not count exactly.
_OP_OVERHEAD = 96

RELATIVE_KEY = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\Z")
PREFIX = RELATIVE_KEY

TxnOp = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class LiveEntry:
    """A key as Consul holds it now."""

    value: str
    modify_index: int
    flags: int = 0


@dataclass(frozen=True)
class Write:
    """Set `key` to `value` if its ModifyIndex is still `cas_index` (0: only if absent)."""

    key: str
    value: str
    cas_index: int


@dataclass(frozen=True)
class Delete:
    """Delete `key` if its ModifyIndex is still `cas_index`."""

    key: str
    cas_index: int


DriftKind = Literal["changed", "deleted", "foreign"]


@dataclass(frozen=True)
class Drift:
    """A key whose live state is not what this stack last wrote, or that it never wrote."""

    key: str
    kind: DriftKind
    recorded_index: int
    live_index: int | None

    def describe(self, prefix: str) -> str:
        full = full_key(prefix, self.key)
        if self.kind == "changed":
            return (f"{full} was changed outside Pulumi since the last up "
                    f"(ModifyIndex {self.live_index}, this stack wrote {self.recorded_index})")
        if self.kind == "deleted":
            return (f"{full} was deleted outside Pulumi since the last up "
                    f"(this stack wrote it at ModifyIndex {self.recorded_index})")
        return (f"{full} already exists in Consul (ModifyIndex {self.live_index}) "
                "and this stack did not write it")


@dataclass(frozen=True)
class SyncPlan:
    """What one sync does: the writes and deletes, and the drift that blocks them."""

    writes: tuple[Write, ...]
    deletes: tuple[Delete, ...]
    unchanged: tuple[str, ...]
    drift: tuple[Drift, ...]
    # ModifyIndex to record for keys left unchanged (live may have moved without a value change).
    unchanged_indexes: Mapping[str, int]

    @property
    def has_writes(self) -> bool:
        return bool(self.writes or self.deletes)


def full_key(prefix: str, key: str) -> str:
    return f"{prefix.strip('/')}/{key}"


def relative_key(prefix: str, full: str) -> str | None:
    """The key relative to `prefix`, or None if `full` is not under it."""
    head = prefix.strip("/") + "/"
    return full[len(head):] if full.startswith(head) and len(full) > len(head) else None


def entry_problems(prefix: str, entries: Mapping[str, str]) -> list[str]:
    """Why these entries cannot be written under `prefix`; empty when they can."""
    problems: list[str] = []
    if not PREFIX.fullmatch(prefix):
        problems.append(f"prefix {prefix!r} must be a KV path like app/staging "
                        "(letters, digits, '_', '.', '-', separated by single '/')")
    for key in sorted(entries):
        if not RELATIVE_KEY.fullmatch(key):
            problems.append(f"key {key!r} must be relative to the prefix, like "
                            "database/master-user (no leading or trailing '/', no empty segments)")
            continue
        if (problem := value_problem(prefix, key, entries[key])) is not None:
            problems.append(problem)
    return problems


def max_value_bytes(prefix: str, key: str) -> int:
    """The longest value (UTF-8 bytes) of ``key`` that one /v1/txn can carry: base64 makes 4
    bytes of 3, and the op's JSON around it counts against txn_max_req_len too."""
    room = TXN_MAX_BYTES - 2 - op_size(write_op(prefix, key, "", 0))
    return min(KV_MAX_VALUE_BYTES, room // 4 * 3)


def value_problem(prefix: str, key: str, value: str) -> str | None:
    """Why Consul would refuse ``value`` (413 from /v1/txn), never showing it; None if it fits."""
    size, limit = len(value.encode()), max_value_bytes(prefix, key)
    if size <= limit:
        return None
    return (f"value of key {key!r} is {size} bytes; written through Consul's /v1/txn (base64 in "
            f"JSON, at most {TXN_MAX_BYTES} bytes a request) a value may hold at most {limit}")


def live_under(prefix: str, raw_entries: Iterable[Mapping[str, Any]] | None
               ) -> dict[str, LiveEntry]:
    """Consul's recurse listing (py-consul decoded: Value as bytes) keyed by relative key."""
    live: dict[str, LiveEntry] = {}
    for raw in raw_entries or ():
        rel = relative_key(prefix, str(raw["Key"]))
        if rel is None:
            continue
        value = raw.get("Value")
        if isinstance(value, bytes):
            text = value.decode("utf-8", errors="replace")
        else:
            text = "" if value is None else str(value)
        live[rel] = LiveEntry(text, int(raw["ModifyIndex"]), int(raw.get("Flags") or 0))
    return live


def plan_sync(desired: Mapping[str, str], previous: Mapping[str, str],
              recorded: Mapping[str, int], live: Mapping[str, LiveEntry] | None) -> SyncPlan:
    """Compare what the stack wants with what it last wrote and, when read, what Consul holds.

    `previous` and `recorded` are the values and ModifyIndexes this resource wrote last time
    (its ownership); `live` is a fresh read of the prefix, or None when none was made, in which
    case CAS alone guards the writes. A key whose ModifyIndex moved while its value stayed what
    this stack wrote is not drift: its new index is adopted.
    """
    writes: list[Write] = []
    deletes: list[Delete] = []
    unchanged: list[str] = []
    drift: list[Drift] = []
    unchanged_indexes: dict[str, int] = {}

    def cas_index(key: str) -> int:
        # Only a key still holding what this stack wrote moves to its live index; a drifted key
        # keeps the recorded one, so its CAS fails even if a caller ignored the drift.
        entry = None if live is None else live.get(key)
        if entry is not None and entry.value == previous.get(key):
            return entry.modify_index
        return recorded[key]

    for key in sorted(recorded):
        if live is None:
            continue
        entry = live.get(key)
        if entry is None:
            drift.append(Drift(key, "deleted", recorded[key], None))
        elif entry.value != previous.get(key):
            drift.append(Drift(key, "changed", recorded[key], entry.modify_index))
    for key in sorted(desired):
        if key in recorded:
            if desired[key] != previous.get(key):
                writes.append(Write(key, desired[key], cas_index(key)))
            else:
                unchanged.append(key)
                unchanged_indexes[key] = cas_index(key)
        else:
            entry = None if live is None else live.get(key)
            if entry is not None:
                drift.append(Drift(key, "foreign", 0, entry.modify_index))
            writes.append(Write(key, desired[key], 0))
    for key in sorted(set(recorded) - set(desired)):
        deletes.append(Delete(key, cas_index(key)))
    return SyncPlan(tuple(writes), tuple(deletes), tuple(unchanged), tuple(drift),
                    unchanged_indexes)


def write_op(prefix: str, key: str, value: str, cas_index: int) -> TxnOp:
    return {"KV": {"Verb": "cas", "Key": full_key(prefix, key),
                   "Value": base64.b64encode(value.encode()).decode(), "Flags": 0,
                   "Index": cas_index}}


def delete_op(prefix: str, key: str, cas_index: int) -> TxnOp:
    return {"KV": {"Verb": "delete-cas", "Key": full_key(prefix, key), "Index": cas_index}}


def txn_ops(prefix: str, plan: SyncPlan) -> list[TxnOp]:
    """The plan's writes and deletes as Consul txn ops, in key order."""
    ops = [write_op(prefix, w.key, w.value, w.cas_index) for w in plan.writes]
    ops += [delete_op(prefix, d.key, d.cas_index) for d in plan.deletes]
    return sorted(ops, key=lambda op: str(op["KV"]["Key"]))


def op_size(op: TxnOp) -> int:
    return len(json.dumps(op)) + _OP_OVERHEAD


def chunk_ops(ops: Sequence[TxnOp], max_ops: int = TXN_MAX_OPS,
              max_bytes: int = TXN_MAX_BYTES) -> list[list[TxnOp]]:
    """Split ops into as few transactions as Consul's op-count and body-size limits allow."""
    if max_ops < 1:
        raise ValueError(f"max_ops must be at least 1, got {max_ops}")
    chunks: list[list[TxnOp]] = []
    current: list[TxnOp] = []
    size = 2
    for op in ops:
        cost = op_size(op)
        if current and (len(current) >= max_ops or size + cost > max_bytes):
            chunks.append(current)
            current, size = [], 2
        current.append(op)
        size += cost
    if current:
        chunks.append(current)
    return chunks


def undo_ops(applied: Sequence[TxnOp], new_indexes: Mapping[str, int],
             before: Mapping[str, LiveEntry | None]) -> list[TxnOp]:
    """Ops that put back what `applied` (already committed) replaced.

    `new_indexes` maps each full key written to the ModifyIndex the txn gave it; `before` maps
    full keys to what they held before (None: absent). Each undo is itself CAS-guarded, so a key
    someone touched in between is left alone rather than clobbered.
    """
    undo: list[TxnOp] = []
    for op in applied:
        kv = op["KV"]
        key = str(kv["Key"])
        old = before.get(key)
        if kv["Verb"] == "cas":
            index = new_indexes.get(key)
            if index is None:
                continue
            if old is None:
                undo.append({"KV": {"Verb": "delete-cas", "Key": key, "Index": index}})
            else:
                undo.append({"KV": {"Verb": "cas", "Key": key, "Flags": old.flags, "Index": index,
                                    "Value": base64.b64encode(old.value.encode()).decode()}})
        elif kv["Verb"] == "delete-cas" and old is not None:
            undo.append({"KV": {"Verb": "cas", "Key": key, "Flags": old.flags, "Index": 0,
                                "Value": base64.b64encode(old.value.encode()).decode()}})
    return undo


def result_indexes(results: Iterable[Mapping[str, Any]] | None) -> dict[str, int]:
    """Full key -> new ModifyIndex from a successful /v1/txn response's Results."""
    out: dict[str, int] = {}
    for result in results or ():
        kv = result.get("KV")
        if kv:
            out[str(kv["Key"])] = int(kv["ModifyIndex"])
    return out


def drift_message(prefix: str, drift: Sequence[Drift]) -> str:
    """The actionable part of an error for keys that changed under this stack."""
    lines = "\n".join(f"  - {d.describe(prefix)}" for d in drift)
    foreign = any(d.kind == "foreign" for d in drift)
    owned = any(d.kind != "foreign" for d in drift)
    advice = []
    if owned:
        advice.append("run `pulumi refresh` to take the live values into state and see the "
                      "drift, then `pulumi up` to restore the configured values (or copy the "
                      "change into the stack config)")
    if foreign:
        advice.append("delete keys this stack did not write, or choose another kv.prefix: "
                      "the stack never overwrites them")
    return f"{lines}\nNothing was written. To go on, {'; '.join(advice)}."
