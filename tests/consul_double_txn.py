"""/v1/txn of the Consul double: all-or-nothing KV transactions, as Consul answers them.

The rules (agent/txn_endpoint.go, agent/consul/txn_endpoint.go, state/txn.go in Consul 1.14):
at most 128 operations (413), a body of at most txn_max_req_len (413), each value at most
kv_max_value_size (413); ops are applied to a copy and committed together at one index, or not at
all with 409 and each failed op's index and reason; a read-only txn answers with Index,
LastContact and KnownLeader; Flags and Index decode as uint64 (400 otherwise). The conformance
test (tests/consul_agent/test_conformance.py) holds these answers to a real agent.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from tests.consul_double import (
    KNOWN_VERBS,
    WRITE_VERBS,
    ConsulDouble,
    KvEntry,
    RecordedRequest,
    Reply,
)


def txn(double: ConsulDouble, req: RecordedRequest, denied: bool) -> Reply:
    if req.method != "PUT":
        raise Reply(405, f"method {req.method} not allowed")
    if len(req.body) > double.txn_max_req_len:
        raise Reply(413, f"Request body too large, max size: {double.txn_max_req_len} bytes")
    try:
        raw_ops = json.loads(req.body or b"null")
        if not isinstance(raw_ops, list):
            raise ValueError("body is not a list of operations")
        ops = [_decode_op(op) for op in raw_ops]
    except (ValueError, TypeError, binascii.Error) as err:
        raise Reply(400, f"Failed to parse body: {err}") from None
    if len(ops) > double.txn_max_ops:
        raise Reply(413, f"Transaction contains too many operations "
                          f"({len(ops)} > {double.txn_max_ops})")
    for op in ops:
        value = op.get("Value") or b""
        if len(value) > double.kv_max_value_size:
            raise Reply(413, f"Value for key {_go_quote(op['Key'])} is too large "
                              f"({len(value)} > {double.kv_max_value_size} bytes)")
    writes = any(op["Verb"] in WRITE_VERBS for op in ops)
    with double._changed:
        if writes and double.fail_txn_after is not None \
                and double.txn_writes_applied >= double.fail_txn_after:
            raise Reply(500, "rpc error making call: No cluster leader")
        if denied:
            # Consul's txn pre-check reports each op the token may not touch, as a conflict.
            errors = [{"OpIndex": i, "What": _denied(op)} for i, op in enumerate(ops)]
            raise Reply(409, {"Results": None, "Errors": errors}, as_json=True)
        idx = double._next_index() if writes else double._raft_index
        work = copy.deepcopy(double.kv)
        results: list[dict[str, Any]] = []
        errors = []
        for i, op in enumerate(ops):
            try:
                results.extend(_apply(work, op, idx))
            except _TxnOpError as err:
                errors.append({"OpIndex": i, "What": str(err)})
        if errors:
            raise Reply(409, {"Results": None, "Errors": errors}, as_json=True)
        body: dict[str, Any] = {"Results": results, "Errors": None}
        if writes:
            double.kv = work
            double.txn_writes_applied += 1
            double._commit([op["Key"] for op in ops if op["Verb"] in WRITE_VERBS], idx)
        else:
            body.update(Index=double._kv_index, LastContact=0, KnownLeader=True)
    return Reply(200, body, as_json=True)

def _decode_op(op: Any) -> dict[str, Any]:
    if not isinstance(op, dict) or "KV" not in op or not isinstance(op["KV"], dict):
        raise ValueError("the Consul double supports only KV operations")
    kv = op["KV"]
    value = kv.get("Value")
    for field_name in ("Flags", "Index"):
        number = kv.get(field_name, 0)
        # Go decodes these as uint64: 2.0, -1 or "2" are parse errors there too.
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"json: cannot unmarshal {json.dumps(number)} into Go struct "
                             f"field KVTxnOp.KV.{field_name} of type uint64")
    return {"Verb": kv.get("Verb", ""), "Key": kv.get("Key", ""),
            "Value": base64.b64decode(value, validate=True) if value is not None else None,
            "Flags": kv.get("Flags", 0), "Index": kv.get("Index", 0),
            "Session": kv.get("Session", "")}

def _apply(kv: dict[str, KvEntry], op: dict[str, Any], idx: int) -> list[dict[str, Any]]:
    """One txn op on the working copy; results as Consul's txnKVS returns them."""
    verb, key = op["Verb"], op["Key"]
    existing = kv.get(key)
    if verb not in KNOWN_VERBS:
        raise _TxnOpError(f"unknown KV verb {verb!r}")
    if verb in ("lock", "unlock", "check-session"):
        raise _TxnOpError(f"sessions are not supported by the Consul double ({verb})")
    if verb == "set":
        ConsulDouble._set(kv, key, op["Value"], op["Flags"], idx)
        return [{"KV": kv[key].as_json(key, with_value=False)}]
    if verb == "cas":
        ok = existing is None if op["Index"] == 0 else (
            existing is not None and existing.modify_index == op["Index"])
        if not ok:
            raise _TxnOpError(f"failed to set key {_go_quote(key)}, index is stale")
        ConsulDouble._set(kv, key, op["Value"], op["Flags"], idx)
        return [{"KV": kv[key].as_json(key, with_value=False)}]
    if verb == "delete":
        kv.pop(key, None)
        return []
    if verb == "delete-cas":
        # Consul treats a CAS delete of an absent key as success.
        if existing is not None and existing.modify_index != op["Index"]:
            raise _TxnOpError(f"failed to delete key {_go_quote(key)}, index is stale")
        kv.pop(key, None)
        return []
    if verb == "delete-tree":
        for k in [k for k in kv if k.startswith(key)]:
            del kv[k]
        return []
    if verb == "get":
        if existing is None:
            raise _TxnOpError(f"key {_go_quote(key)} doesn't exist")
        return [{"KV": existing.as_json(key)}]
    if verb == "get-or-empty":
        if existing is None:
            return [{"KV": KvEntry(None).as_json(key)}]
        return [{"KV": existing.as_json(key)}]
    if verb == "get-tree":
        return [{"KV": kv[k].as_json(k)} for k in sorted(kv) if k.startswith(key)]
    if verb == "check-index":
        if existing is None:
            raise _TxnOpError(f"failed to check index, key {_go_quote(key)} doesn't exist")
        if existing.modify_index != op["Index"]:
            raise _TxnOpError(f"failed index check for key {_go_quote(key)}, current modify "
                              f"index {existing.modify_index} != {op['Index']}")
        return [{"KV": existing.as_json(key, with_value=False)}]
    # check-not-exists
    if existing is not None:
        raise _TxnOpError(f"key {_go_quote(key)} exists")
    return []


def _go_quote(text: str) -> str:
    """Go's %q, which Consul's error messages use."""
    return json.dumps(text)


def _denied(op: dict[str, Any]) -> str:
    access = "write" if op["Verb"] in WRITE_VERBS else "read"
    return f"Permission denied: token lacks permission 'key:{access}' on {_go_quote(op['Key'])}"


class _TxnOpError(Exception):
    """One transaction operation failed; the whole transaction is rolled back."""
