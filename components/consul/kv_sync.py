"""Syncing one prefix's keys over a Consul client: the read, the chunked CAS transactions, and
recovery from a fault partway through. The plans themselves come from kv_payload.

A fault at any point is recoverable: what the run wrote is rolled back (CAS on the indexes it
wrote), an answer lost in transit is settled by reading back, and the next run adopts keys that
already hold exactly what it means to write, so even a failed rollback only needs `pulumi up`.
Every error is a ConsulKvError naming the address, the key and the cause, scrubbed by the client
of the token and the secret values it was given.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence

from components.consul.client import ConsulClient, ConsulError, ConsulHttpError, ConsulUnreachable
from components.consul.kv_payload import (
    TXN_MAX_BYTES,
    TXN_MAX_OPS,
    LiveEntry,
    TxnOp,
    chunk_ops,
    full_key,
    live_under,
    relative_key,
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

    def __init__(self, message: str, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous
        """No definite answer (a lost response, a 5xx): a write may have landed all the same."""


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
    # Consul applies a txn through Raft: a timeout or a dropped answer can follow a commit.
    ambiguous = isinstance(err, ConsulUnreachable) or (
        isinstance(err, ConsulHttpError) and err.status >= 500)
    return CallFailed(str(err), ambiguous)


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


def confirm_gone(client: ConsulClient, prefix: str, keys: Sequence[str]
                 ) -> dict[str, LiveEntry]:
    """Of `keys` (relative) that a read of the prefix lacked, those that exist after all.

    Consul filters a recursive read by the token's ACL: a key the token may not read is left out,
    and an all-filtered answer is an empty 404, exactly as if the keys were deleted. A read of one
    key is not filtered: it answers 403 when the token may not read it, 404 only when it is gone.
    So each missing key is asked for alone, and a 403 stops everything with one line.
    """
    found: dict[str, LiveEntry] = {}
    for key in sorted(keys):
        full = full_key(prefix, key)
        try:
            entry = client.read_key(full)
        except ConsulHttpError as err:
            if err.status == 403:
                raise ConsulKvError(client.scrub(
                    f"Consul KV at {client.endpoint.where()}: the ACL token may not read {full} "
                    f"(403 {err.body}), so Consul hides the keys under {prefix}/ as if they were "
                    f"deleted; nothing was changed. Give the token key_prefix \"{prefix}/\" "
                    "read and write (python -m consul_tokens)")) from None
            raise ConsulKvError(client.scrub(f"Consul KV read of {full} at "
                                             f"{client.endpoint.where()} failed: {err}")) from None
        except ConsulError as err:
            raise ConsulKvError(client.scrub(f"Consul KV read of {full} at "
                                             f"{client.endpoint.where()} failed: {err}")) from None
        if entry is not None:
            found.update(live_under(prefix, [entry]))
    return found


ADOPT_HINT = ("Run `pulumi up` again once Consul answers: it adopts keys that already hold "
              "exactly the configured values and writes the rest.")


def adopt(desired: Mapping[str, str], previous: Mapping[str, str], recorded: Mapping[str, int],
          live: Mapping[str, LiveEntry]) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """Ownership (`previous`, `recorded`) widened to what a run cut short left in place.

    A key holding exactly the desired value (flags 0, as this stack writes it) is this stack's at
    its live index, whoever wrote it; a recorded key no longer desired and already gone is
    dropped. Returns the new previous and recorded, and the keys adopted.
    """
    owned_values, owned_indexes = dict(previous), dict(recorded)
    adopted = []
    for key, value in sorted(desired.items()):
        entry = live.get(key)
        held = key in recorded and previous.get(key) == value
        if entry is not None and entry.value == value and entry.flags == 0 and not held:
            owned_values[key], owned_indexes[key] = value, entry.modify_index
            adopted.append(key)
    for key in sorted(set(recorded) - set(desired) - set(live)):
        owned_values.pop(key, None)
        owned_indexes.pop(key)
        adopted.append(key)
    return owned_values, owned_indexes, adopted


def apply_chunks(client: ConsulClient, prefix: str, ops: Sequence[TxnOp],
                 before: Mapping[str, LiveEntry | None],
                 max_ops: int = TXN_MAX_OPS, max_bytes: int = TXN_MAX_BYTES) -> dict[str, int]:
    """Apply `ops` (full keys under `prefix`) in transactions Consul accepts.

    Each chunk is atomic in Consul. When one fails, what earlier chunks wrote is rolled back, and
    the error says what is left, read back from Consul whenever it is not certain.
    """
    written: dict[str, int] = {}
    applied: list[list[TxnOp]] = []
    for chunk in chunk_ops(ops, max_ops, max_bytes):
        try:
            written.update(apply_txn(client, chunk))
        except (CallFailed, _TxnConflict) as err:
            cause, key = _describe_failure(err, chunk, before)
            outcome = _recover(client, prefix, applied, chunk, err, written, before)
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


def _recover(client: ConsulClient, prefix: str, applied: Sequence[Sequence[TxnOp]],
             failed: Sequence[TxnOp], err: Exception, written: Mapping[str, int],
             before: Mapping[str, LiveEntry | None]) -> str:
    """Settle a lost answer, roll back what this run wrote, and say what is left."""
    unknown: list[TxnOp] = []
    note = ""
    if isinstance(err, CallFailed) and err.ambiguous:
        # The failed chunk may have committed: only Consul can say, and with which indexes.
        try:
            landed = _landed(prefix, failed, read_prefix(client, prefix))
        except CallFailed:
            unknown = list(failed)
        else:
            note = "Read back, that transaction did not land. "
            if landed is not None:
                note = "Read back, that transaction had landed all the same. "
                written = {**written, **landed}
                applied = [*applied, failed]
    left, reason = _roll_back(client, applied, written, before)
    count = sum(len(chunk) for chunk in applied)
    if not left and not unknown:
        if not applied:
            return note + "Nothing was written."
        return note + f"Rolled back the {count} keys this run had written: nothing changed."
    undo = f"Rolling back failed ({reason}); " if left else ""
    try:
        live = read_prefix(client, prefix)
    except CallFailed as read_err:
        maybe = sorted(str(op["KV"]["Key"]) for op in [*left, *unknown])
        tail = (f"Consul could not be read back ({read_err}), so {len(maybe)} keys may hold "
                f"what this run wrote: {', '.join(maybe)}. {ADOPT_HINT}")
    else:
        still = _still_changed(prefix, [*left, *unknown], live, before)
        tail = (f"read back from Consul, {len(still)} keys hold what this run wrote: "
                f"{', '.join(still)}. {ADOPT_HINT}" if still
                else "read back from Consul, nothing this run wrote is left.")
    return note + (undo + tail if undo else tail[0].upper() + tail[1:])


def _landed(prefix: str, chunk: Sequence[TxnOp], live: Mapping[str, LiveEntry]
            ) -> dict[str, int] | None:
    """The indexes `chunk` gave its keys if Consul holds its effect, else None (it did not land)."""
    indexes: dict[str, int] = {}
    for op in chunk:
        key = str(op["KV"]["Key"])
        entry = live.get(relative_key(prefix, key) or key)
        if op["KV"]["Verb"] == "delete-cas":
            if entry is not None:
                return None
        elif entry is None or entry.value != _text(op):
            return None
        else:
            indexes[key] = entry.modify_index
    return indexes


def _still_changed(prefix: str, ops: Sequence[TxnOp], live: Mapping[str, LiveEntry],
                   before: Mapping[str, LiveEntry | None]) -> list[str]:
    """The keys among `ops` whose live state is what the op made of them."""
    still = []
    for op in ops:
        key = str(op["KV"]["Key"])
        entry = live.get(relative_key(prefix, key) or key)
        if op["KV"]["Verb"] == "delete-cas":
            if entry is None and before.get(key) is not None:
                still.append(f"{key} (deleted)")
        elif entry is not None and entry.value == _text(op) and before.get(key) != entry:
            still.append(key)
    return sorted(still)


def _text(op: TxnOp) -> str:
    return base64.b64decode(str(op["KV"].get("Value") or "")).decode("utf-8", errors="replace")


def _roll_back(client: ConsulClient, applied: Sequence[Sequence[TxnOp]],
               written: Mapping[str, int], before: Mapping[str, LiveEntry | None]
               ) -> tuple[list[TxnOp], str]:
    """Undo `applied`, last chunk first; returns the ops not undone and why."""
    pending = list(reversed(applied))
    for at, chunk in enumerate(pending):
        try:
            for part in chunk_ops(undo_ops(chunk, written, before)):
                apply_txn(client, part)
        except (CallFailed, _TxnConflict) as err:
            reason = str(err) if isinstance(err, CallFailed) else "a key changed meanwhile"
            return [op for rest in pending[at:] for op in rest], reason
    return [], ""
