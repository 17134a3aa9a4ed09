"""Syncing one prefix's keys over a Consul client: the read, the chunked CAS transactions, and the
rollback of earlier chunks when a later one fails. The plans themselves come from kv_payload.

Every error is a ConsulKvError naming the address, the key and the cause, scrubbed by the client
of the token and the secret values it was given.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from components.consul_client import ConsulClient, ConsulError, ConsulHttpError
from components.kv_payload import (
    TXN_MAX_BYTES,
    TXN_MAX_OPS,
    LiveEntry,
    TxnOp,
    chunk_ops,
    live_under,
    result_indexes,
    undo_ops,
)

# A diff's read of the prefix is reused by the update that follows it in the same provider process
# (that is what keeps a sync at one read); older than this, the update reads again.
SNAPSHOT_MAX_AGE = 120.0

SnapshotKey = tuple[str, str, str]
"""(address, datacenter, prefix): what a read was of."""


class ConsulKvError(Exception):
    """A sync failed; the message names the address, the key and the cause, never a value."""


class CallFailed(Exception):
    """One HTTP call failed (unreachable, denied, server error); the caller adds the key."""


class _TxnConflict(Exception):
    def __init__(self, errors: Sequence[tuple[int, str]]) -> None:
        super().__init__(errors)
        self.errors = list(errors)


class Snapshots:
    """Reads of a prefix made by a diff, kept for the update that follows it.

    Owned by one provider object, which the provider host keeps for the whole `pulumi up`. Never
    pickled: the reads hold secret values, and a provider is pickled into the stack's state.
    """

    def __init__(self, max_age: float = SNAPSHOT_MAX_AGE) -> None:
        self.max_age = max_age
        self._reads: dict[SnapshotKey, tuple[float, dict[str, LiveEntry]]] = {}

    def keep(self, key: SnapshotKey, live: dict[str, LiveEntry]) -> None:
        self._reads[key] = (time.monotonic(), live)

    def take(self, key: SnapshotKey) -> dict[str, LiveEntry] | None:
        """The read kept for `key` if it is recent enough; either way it is used up."""
        taken = self._reads.pop(key, None)
        if taken is None or time.monotonic() - taken[0] > self.max_age:
            return None
        return taken[1]


# --- the two calls a sync makes ----------------------------------------------------------------

def _failed(err: ConsulError) -> CallFailed:
    if isinstance(err, ConsulHttpError) and err.status == 403:
        return CallFailed(f"the ACL token was denied (403 {err.body}): it needs key_prefix "
                           "read and write on the prefix")
    if isinstance(err, ConsulHttpError) and err.status == 413:
        return CallFailed(f"Consul refused the request as too large (413 {err.body})")
    return CallFailed(str(err))


def read_prefix(client: ConsulClient, prefix: str) -> dict[str, LiveEntry]:
    """Every key under `prefix`/, keyed by relative key; raises CallFailed."""
    try:
        return live_under(prefix, client.read_tree(prefix))
    except ConsulError as err:
        raise _failed(err) from None


def apply_txn(client: ConsulClient, ops: Sequence[TxnOp]) -> dict[str, int]:
    """One all-or-nothing transaction; returns the new ModifyIndex of each key written."""
    try:
        reply = client.txn(ops)
    except ConsulError as err:
        raise _failed(err) from None
    body = reply.json() or {}
    if reply.status == 409:
        errors = [(int(e.get("OpIndex", 0)), str(e.get("What", "")))
                  for e in body.get("Errors") or []]
        if errors and all(what.startswith("Permission denied") for _, what in errors):
            raise CallFailed(f"the ACL token was denied (409 {errors[0][1]}): it needs "
                              "key_prefix write on the prefix")
        raise _TxnConflict(errors)
    return result_indexes(body.get("Results"))


# --- the sync ----------------------------------------------------------------------------------

def read_live(client: ConsulClient, prefix: str) -> dict[str, LiveEntry]:
    try:
        return read_prefix(client, prefix)
    except CallFailed as err:
        raise ConsulKvError(client.scrub(f"Consul KV read of {prefix}/ at "
                                         f"{client.endpoint.where()} failed: {err}")) from None


def apply_chunks(client: ConsulClient, ops: Sequence[TxnOp],
                 before: Mapping[str, LiveEntry | None],
                 max_ops: int = TXN_MAX_OPS, max_bytes: int = TXN_MAX_BYTES) -> dict[str, int]:
    """Apply `ops` in transactions Consul accepts; undo earlier chunks if a later one fails.

    Each chunk is atomic in Consul. Across chunks, a failure rolls back what earlier chunks wrote
    (CAS-guarded), so the sync as a whole leaves nothing half-written unless Consul itself
    becomes unreachable mid-way, which the error then says, key by key.
    """
    written: dict[str, int] = {}
    applied: list[list[TxnOp]] = []
    for chunk in chunk_ops(ops, max_ops, max_bytes):
        try:
            written.update(apply_txn(client, chunk))
        except (CallFailed, _TxnConflict) as err:
            cause, key = _describe_failure(err, chunk, before)
            outcome = _roll_back(client, applied, written, before)
            raise ConsulKvError(client.scrub(
                f"Consul KV write to {client.endpoint.where()} failed at key {key}: {cause}. "
                f"{outcome}")) from None
        applied.append(chunk)
    return written


def _describe_failure(err: Exception, chunk: Sequence[TxnOp],
                      before: Mapping[str, LiveEntry | None]) -> tuple[str, str]:
    if isinstance(err, CallFailed):
        return str(err), str(chunk[0]["KV"]["Key"])
    assert isinstance(err, _TxnConflict)
    causes = []
    for index, what in err.errors:
        op = chunk[index]["KV"] if 0 <= index < len(chunk) else {"Key": "?", "Index": 0}
        if "index is stale" in what and op.get("Index") == 0 and before.get(str(op["Key"])) is None:
            causes.append(f"{op['Key']} already exists in Consul and this stack did not write "
                          "it (delete it, or choose another kv.prefix)")
        elif "index is stale" in what:
            causes.append(f"{op['Key']} was changed outside Pulumi since the last up (run "
                          "`pulumi refresh`, then `pulumi up` to restore the configured value)")
        else:
            causes.append(f"{op['Key']}: {what}")
    first = chunk[err.errors[0][0]]["KV"]["Key"] if err.errors else chunk[0]["KV"]["Key"]
    return "the transaction was rolled back (409): " + "; ".join(causes), str(first)


def _roll_back(client: ConsulClient, applied: Sequence[Sequence[TxnOp]],
               written: Mapping[str, int], before: Mapping[str, LiveEntry | None]) -> str:
    if not applied:
        return "Nothing was written."
    keys = [str(op["KV"]["Key"]) for chunk in applied for op in chunk]
    pending = list(reversed(applied))
    for at, chunk in enumerate(pending):
        undo = undo_ops(chunk, written, before)
        try:
            for part in chunk_ops(undo):
                apply_txn(client, part)
        except (CallFailed, _TxnConflict) as err:
            left = sorted(str(op["KV"]["Key"]) for rest in pending[at:] for op in rest)
            reason = str(err) if isinstance(err, CallFailed) else "a key changed meanwhile"
            return (f"Earlier transactions had written {len(keys)} keys and rolling them back "
                    f"failed ({reason}); still changed: {', '.join(left)}. State keeps the "
                    "previous values: run `pulumi refresh`, then `pulumi up`.")
    return f"Rolled back the {len(keys)} keys earlier transactions had written: nothing changed."
