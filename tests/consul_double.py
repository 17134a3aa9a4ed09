"""An HTTP double of a Consul agent (KV, txn, event, status, catalog and health endpoints).

It follows Consul's documented HTTP API closely enough that py-consul and plain HTTP clients work
against it unchanged: ModifyIndex/CreateIndex bookkeeping, `cas`, `recurse`, `keys`, `raw`,
blocking queries with `index`/`wait`, the `X-Consul-Index` header, all-or-nothing `/v1/txn` with
409 and per-op `Errors`, the 64-operation limit (413), ACL tokens (403) and user events.
Tests drive faults through plain attributes (`deny_all`, `fail_txn_after`, `delay`), and faults
at a chosen write transaction through `faults` (tests/consul_double_faults.py).

    with ConsulDouble(token="s3cret") as consul:
        requests.put(f"{consul.address}/v1/kv/app/x", data=b"1",
                     headers={"X-Consul-Token": "s3cret"})
        assert consul.kv["app/x"].value == b"1"
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.consul_catalog import Catalog

# Consul's defaults (agent/txn_endpoint.go, agent config kv_max_value_size / txn_max_req_len).
TXN_MAX_OPS = 64
KV_MAX_VALUE_SIZE = 512 * 1024
TXN_MAX_REQ_LEN = 512 * 1024
# Serf's user event limit: name plus payload.
USER_EVENT_SIZE_LIMIT = 512
# A blocking query without `wait` is held for 5 minutes by Consul; the double caps every wait so
# a forgotten wait cannot hang a test run.
DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0

WRITE_VERBS = frozenset({"set", "cas", "lock", "unlock", "delete", "delete-cas", "delete-tree"})
KNOWN_VERBS = WRITE_VERBS | {"get", "get-or-empty", "get-tree", "check-index", "check-session",
                             "check-not-exists"}
_DURATION = re.compile(r"([\d.]+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass
class KvEntry:
    """One stored key, as Consul's DirEntry."""

    value: bytes | None
    flags: int = 0
    create_index: int = 0
    modify_index: int = 0
    lock_index: int = 0

    def as_json(self, key: str, with_value: bool = True) -> dict[str, Any]:
        value = None
        if with_value and self.value:
            value = base64.b64encode(self.value).decode()
        return {"LockIndex": self.lock_index, "Key": key, "Flags": self.flags, "Value": value,
                "CreateIndex": self.create_index, "ModifyIndex": self.modify_index}


@dataclass
class UserEvent:
    """One fired user event, as Consul's /v1/event/list returns it."""

    name: str
    payload: bytes | None
    id: str
    ltime: int
    node_filter: str = ""
    service_filter: str = ""
    tag_filter: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ID": self.id, "Name": self.name,
                "Payload": base64.b64encode(self.payload).decode() if self.payload else None,
                "NodeFilter": self.node_filter, "ServiceFilter": self.service_filter,
                "TagFilter": self.tag_filter, "Version": 1, "LTime": self.ltime}


@dataclass
class RecordedRequest:
    """Everything the double saw of one request, for tests that check what a client sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = field(repr=False)


class _Reply(Exception):
    """Raised inside a handler to answer with a status and body at once."""

    def __init__(self, status: int, body: bytes | str | Any, headers: dict[str, str] | None = None,
                 as_json: bool = False) -> None:
        super().__init__(status)
        self.status = status
        if as_json:
            self.body = json.dumps(body).encode()
        elif isinstance(body, str):
            self.body = body.encode()
        else:
            self.body = body
        self.headers = dict(headers or {})
        if as_json:
            self.headers.setdefault("Content-Type", "application/json")
        else:
            self.headers.setdefault("Content-Type", "text/plain; charset=utf-8")


Reply = _Reply
"""The answer an extension module returns (or raises) for a request."""
DROPPED = 0
"""A Reply status that closes the connection unanswered: a reset, or an answer lost in transit."""


def parse_duration(text: str) -> float:
    """A Go duration ("10s", "1m30s", "250ms"); a bare number counts as seconds like Consul."""
    if re.fullmatch(r"\d+", text):
        return float(text)
    parts = _DURATION.findall(text)
    if not parts:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def event_index(event_id: str) -> int:
    """The X-Consul-Index of /v1/event/list: the event UUID folded to 64 bits, as Consul does."""
    raw = uuid.UUID(event_id).bytes
    return int.from_bytes(raw[:8], "big") ^ int.from_bytes(raw[8:], "big")


class ConsulDouble:
    """A threaded HTTP double of one Consul agent on 127.0.0.1; use it as a context manager."""

    def __init__(self, token: str | None = None, datacenter: str = "dc1") -> None:
        self.token = token
        self.datacenter = datacenter
        self.kv: dict[str, KvEntry] = {}
        self.events: list[UserEvent] = []
        self.catalog = Catalog(datacenter)
        """Nodes with the app service and its real HTTP check (tests/consul_catalog.py)."""
        self.requests: list[tuple[str, str]] = []
        self.recorded: list[RecordedRequest] = []
        self.txn_max_ops = TXN_MAX_OPS
        self.kv_max_value_size = KV_MAX_VALUE_SIZE
        self.txn_max_req_len = TXN_MAX_REQ_LEN
        # Fault switches.
        self.deny_all = False
        """Every request is denied as if the token lacked permission (403, or 409 inside a txn)."""
        self.fail_txn_after: int | None = None
        """After this many write transactions succeed, later ones fail with 500 (no leader)."""
        self.no_leader = False
        """Every request fails with 500 "No cluster leader"."""
        self.delay = 0.0
        """Seconds added to every response, to model a remote agent in benchmarks."""
        self.txn_writes_applied = 0
        self.extensions: list[Callable[[RecordedRequest, bool], _Reply | None]] = []
        """More endpoints (tests/consul_double_catalog.py): each answers a request, given whether
        it is denied, or passes it on with None."""
        self.faults: Any = None
        """TxnFaults (tests/consul_double_faults.py): sees every request before and its answer
        after it is handled, and may answer instead, change KV first, or drop the answer."""
        self.acl: Any = None
        """An AclStore (tests/consul_double_acl.py): tokens it issued are held to their rules;
        the `token` above stays the management token."""
        self._raft_index = 1
        self._kv_index = 1
        self._touched: dict[str, int] = {}
        self._ltime = 0
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> ConsulDouble:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        double = self

        class Handler(_Handler):
            owner = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.catalog.stop()
        if self._server is not None:
            with self._changed:
                self._changed.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        assert self._server is not None, "the double is not started"
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- direct access for tests (an operator writing outside Pulumi) ---------------------------

    def put(self, key: str, value: bytes | str, flags: int = 0) -> KvEntry:
        """Write a key as another client would: bumps the index like a real write."""
        data = value.encode() if isinstance(value, str) else value
        with self._changed:
            idx = self._next_index()
            self._set(self.kv, key, data, flags, idx)
            self._commit([key], idx)
            return self.kv[key]

    def delete(self, key: str) -> None:
        """Delete a key as another client would."""
        with self._changed:
            idx = self._next_index()
            self.kv.pop(key, None)
            self._commit([key], idx)

    def value(self, key: str) -> str | None:
        """The stored value of a key as text, or None when absent."""
        entry = self.kv.get(key)
        return None if entry is None or entry.value is None else entry.value.decode()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched, e.g. count("PUT", "/v1/txn")."""
        return sum(1 for m, p in self.requests
                   if (method is None or m == method) and p.startswith(path_prefix))

    def reset_requests(self) -> None:
        self.requests.clear()
        self.recorded.clear()

    # -- state helpers (call with self._changed held) -------------------------------------------

    def _next_index(self) -> int:
        self._raft_index += 1
        return self._raft_index

    def _commit(self, keys: list[str], idx: int) -> None:
        """Record a KV write at `idx` and wake the blocking queries watching those keys."""
        self._kv_index = idx
        for key in keys:
            self._touched[key] = idx
        self._changed.notify_all()

    @staticmethod
    def _set(kv: dict[str, KvEntry], key: str, value: bytes | None, flags: int, idx: int) -> None:
        existing = kv.get(key)
        create = existing.create_index if existing else idx
        kv[key] = KvEntry(value=value or None, flags=flags, create_index=create, modify_index=idx)

    def _wait_for_change(self, min_index: int | None, wait: float,
                         current: Any) -> None:
        """Hold a blocking query until `current()` passes `min_index` or `wait` elapses."""
        if min_index is None:
            return
        deadline = time.monotonic() + min(wait, MAX_WAIT)
        with self._changed:
            while current() <= min_index and self._server is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(timeout=left)

    # -- request dispatch -----------------------------------------------------------------------

    def _authorize(self, req: RecordedRequest) -> str:
        """'ok', 'not-found' (unknown token) or 'denied' (anonymous or deny_all)."""
        sent = sent_token(req)
        if self.deny_all:
            return "denied"
        if self.token is None:
            return "ok"
        if not sent:
            # No token means the anonymous token, which a default-deny ACL policy refuses.
            return "denied"
        return "ok" if sent == self.token else "not-found"

    def handle(self, req: RecordedRequest) -> _Reply:
        """The answer to `req`; status DROPPED: close the connection without one."""
        self.requests.append((req.method, req.path))
        self.recorded.append(req)
        if self.delay:
            time.sleep(self.delay)
        if self.faults is None:
            return self._answer(req)
        return self.faults.around(req, self._answer)

    def _answer(self, req: RecordedRequest) -> _Reply:
        try:
            if self.no_leader:
                raise _Reply(500, "No cluster leader")
            dc = (req.query.get("dc") or [""])[0]
            if dc and dc != self.datacenter:
                raise _Reply(500, "No path to datacenter")
            auth = self._authorize(req)
            if auth == "not-found" and self.acl is not None:
                rules = self.acl.rules_for(sent_token(req))
                if rules is not None:
                    self.acl.enforce(req, rules)  # raises a _Reply when the rules deny
                    auth = "ok"
            if auth == "not-found":
                raise _Reply(403, "ACL not found")
            for extension in ([self.acl.handle] if self.acl is not None else []) \
                    + self.extensions:
                if (reply := extension(req, auth == "denied")) is not None:
                    return reply
            if req.path.startswith("/v1/kv/") or req.path == "/v1/kv":
                return self._kv(req, denied=auth == "denied")
            if req.path == "/v1/txn":
                return self._txn(req, denied=auth == "denied")
            if req.path.startswith("/v1/event/fire/"):
                if auth == "denied":
                    raise _Reply(403, "Permission denied")
                return self._fire(req)
            if req.path == "/v1/event/list":
                return self._list_events(req)
            if req.path.startswith(("/v1/health/", "/v1/catalog/")):
                status, body = self.catalog.handle(req.path, req.query)
                return _Reply(status, body, {"X-Consul-Index": str(self._raft_index)},
                              as_json=status == 200)
            if req.path == "/v1/status/leader":
                return _Reply(200, "127.0.0.1:8300", as_json=True)
            if req.path == "/v1/status/peers":
                return _Reply(200, ["127.0.0.1:8300"], as_json=True)
            raise _Reply(404, f"Invalid URL path: not a recognized HTTP API endpoint: {req.path}")
        except _Reply as reply:
            return reply

    def _common_headers(self, index: int) -> dict[str, str]:
        return {"X-Consul-Index": str(max(index, 1)), "X-Consul-Knownleader": "true",
                "X-Consul-Lastcontact": "0"}

    # -- /v1/kv ---------------------------------------------------------------------------------

    def _kv(self, req: RecordedRequest, denied: bool) -> _Reply:
        key = req.path[len("/v1/kv/"):] if req.path.startswith("/v1/kv/") else ""
        q = req.query
        if req.method == "GET":
            if denied:
                raise _Reply(403, "Permission denied")
            return self._kv_get(key, q)
        if req.method == "PUT":
            if denied:
                raise _Reply(403, "Permission denied")
            return self._kv_put(key, q, req.body)
        if req.method == "DELETE":
            if denied:
                raise _Reply(403, "Permission denied")
            return self._kv_delete(key, q)
        raise _Reply(405, f"method {req.method} not allowed")

    def _kv_get(self, key: str, q: dict[str, list[str]]) -> _Reply:
        recurse = "recurse" in q
        keys_only = "keys" in q
        min_index = int(q["index"][0]) if "index" in q else None
        wait = parse_duration(q["wait"][0]) if "wait" in q else DEFAULT_WAIT
        prefix_view = recurse or keys_only

        def current() -> int:
            # Consul wakes a blocked query on any write to the watched key or prefix, deletes
            # included (tombstones), and never on writes elsewhere.
            if prefix_view:
                return max((i for k, i in self._touched.items() if k.startswith(key)), default=0)
            return self._touched.get(key, 0)

        self._wait_for_change(min_index, wait, current)
        with self._changed:
            headers = self._common_headers(self._kv_index)
            if keys_only:
                sep = (q.get("separator") or [""])[0]
                found: list[str] = []
                for k in sorted(self.kv):
                    if not k.startswith(key):
                        continue
                    if sep:
                        cut = k.find(sep, len(key))
                        if cut != -1:
                            k = k[: cut + len(sep)]
                    if not found or found[-1] != k:
                        found.append(k)
                if not found:
                    raise _Reply(404, b"", headers)
                return _Reply(200, found, headers, as_json=True)
            if recurse:
                entries = [self.kv[k].as_json(k) for k in sorted(self.kv) if k.startswith(key)]
                if not entries:
                    raise _Reply(404, b"", headers)
                return _Reply(200, entries, headers, as_json=True)
            entry = self.kv.get(key)
            if entry is None:
                raise _Reply(404, b"", headers)
            if "raw" in q:
                headers["Content-Type"] = "text/plain; charset=utf-8"
                return _Reply(200, entry.value or b"", headers)
            return _Reply(200, [entry.as_json(key)], headers, as_json=True)

    def _kv_put(self, key: str, q: dict[str, list[str]], body: bytes) -> _Reply:
        if not key:
            raise _Reply(400, "Missing key name")
        if "acquire" in q or "release" in q:
            raise _Reply(400, "sessions are not supported by the Consul double")
        if len(body) > self.kv_max_value_size:
            raise _Reply(413, f"Request body(value) too large, max size: "
                              f"{self.kv_max_value_size} bytes")
        flags = int(q["flags"][0]) if "flags" in q else 0
        with self._changed:
            if "cas" in q:
                cas = int(q["cas"][0])
                existing = self.kv.get(key)
                ok = existing is None if cas == 0 else (
                    existing is not None and existing.modify_index == cas)
                if not ok:
                    return _Reply(200, False, as_json=True)
            idx = self._next_index()
            self._set(self.kv, key, body, flags, idx)
            self._commit([key], idx)
        return _Reply(200, True, as_json=True)

    def _kv_delete(self, key: str, q: dict[str, list[str]]) -> _Reply:
        with self._changed:
            if "cas" in q:
                cas = int(q["cas"][0])
                existing = self.kv.get(key)
                if existing is not None and existing.modify_index != cas:
                    return _Reply(200, False, as_json=True)
            idx = self._next_index()
            gone = [k for k in self.kv if k.startswith(key)] if "recurse" in q else [key]
            for k in gone:
                self.kv.pop(k, None)
            self._commit(gone, idx)
        return _Reply(200, True, as_json=True)

    # -- /v1/txn --------------------------------------------------------------------------------

    def _txn(self, req: RecordedRequest, denied: bool) -> _Reply:
        if req.method != "PUT":
            raise _Reply(405, f"method {req.method} not allowed")
        if len(req.body) > self.txn_max_req_len:
            raise _Reply(413, f"Request body too large, max size: {self.txn_max_req_len} bytes")
        try:
            raw_ops = json.loads(req.body or b"null")
            if not isinstance(raw_ops, list):
                raise ValueError("body is not a list of operations")
            ops = [self._decode_op(op) for op in raw_ops]
        except (ValueError, TypeError, binascii.Error) as err:
            raise _Reply(400, f"Failed to parse body: {err}") from None
        if len(ops) > self.txn_max_ops:
            raise _Reply(413, f"Transaction contains too many operations "
                              f"({len(ops)} > {self.txn_max_ops})")
        for op in ops:
            value = op.get("Value") or b""
            if len(value) > self.kv_max_value_size:
                raise _Reply(413, f"Value for key {_go_quote(op['Key'])} is too large "
                                  f"({len(value)} > {self.kv_max_value_size} bytes)")
        writes = any(op["Verb"] in WRITE_VERBS for op in ops)
        with self._changed:
            if writes and self.fail_txn_after is not None \
                    and self.txn_writes_applied >= self.fail_txn_after:
                raise _Reply(500, "rpc error making call: No cluster leader")
            if denied:
                # Consul's txn pre-check reports each op the token may not touch, as a conflict.
                errors = [{"OpIndex": i, "What": _denied(op)} for i, op in enumerate(ops)]
                raise _Reply(409, {"Results": None, "Errors": errors}, as_json=True)
            idx = self._next_index() if writes else self._raft_index
            work = copy.deepcopy(self.kv)
            results: list[dict[str, Any]] = []
            errors = []
            for i, op in enumerate(ops):
                try:
                    results.extend(self._apply(work, op, idx))
                except _TxnOpError as err:
                    errors.append({"OpIndex": i, "What": str(err)})
            if errors:
                raise _Reply(409, {"Results": None, "Errors": errors}, as_json=True)
            body: dict[str, Any] = {"Results": results, "Errors": None}
            if writes:
                self.kv = work
                self.txn_writes_applied += 1
                self._commit([op["Key"] for op in ops if op["Verb"] in WRITE_VERBS], idx)
            else:
                body.update(Index=self._kv_index, LastContact=0, KnownLeader=True)
        return _Reply(200, body, as_json=True)

    @staticmethod
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

    def _apply(self, kv: dict[str, KvEntry], op: dict[str, Any],
               idx: int) -> list[dict[str, Any]]:
        """One txn op on the working copy; results as Consul's txnKVS returns them."""
        verb, key = op["Verb"], op["Key"]
        existing = kv.get(key)
        if verb not in KNOWN_VERBS:
            raise _TxnOpError(f"unknown KV verb {verb!r}")
        if verb in ("lock", "unlock", "check-session"):
            raise _TxnOpError(f"sessions are not supported by the Consul double ({verb})")
        if verb == "set":
            self._set(kv, key, op["Value"], op["Flags"], idx)
            return [{"KV": kv[key].as_json(key, with_value=False)}]
        if verb == "cas":
            ok = existing is None if op["Index"] == 0 else (
                existing is not None and existing.modify_index == op["Index"])
            if not ok:
                raise _TxnOpError(f"failed to set key {_go_quote(key)}, index is stale")
            self._set(kv, key, op["Value"], op["Flags"], idx)
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
                raise _TxnOpError(f"key {_go_quote(key)} doesn't exist")
            if existing.modify_index != op["Index"]:
                raise _TxnOpError(f"current modify index {existing.modify_index} != {op['Index']}")
            return [{"KV": existing.as_json(key, with_value=False)}]
        # check-not-exists
        if existing is not None:
            raise _TxnOpError(f"key {_go_quote(key)} exists")
        return []

    # -- /v1/event ------------------------------------------------------------------------------

    def _fire(self, req: RecordedRequest) -> _Reply:
        if req.method != "PUT":
            raise _Reply(405, f"method {req.method} not allowed")
        name = req.path[len("/v1/event/fire/"):]
        if not name:
            raise _Reply(400, "Missing name")
        if len(name) + len(req.body) > USER_EVENT_SIZE_LIMIT:
            raise _Reply(500, f"user event exceeds limit of {USER_EVENT_SIZE_LIMIT} bytes")
        q = req.query
        with self._changed:
            self._ltime += 1
            event = UserEvent(name=name, payload=req.body or None, id=str(uuid.uuid4()),
                              ltime=self._ltime,
                              node_filter=(q.get("node") or [""])[0],
                              service_filter=(q.get("service") or [""])[0],
                              tag_filter=(q.get("tag") or [""])[0])
            self.events.append(event)
            self._changed.notify_all()
        # Like Consul, the fire response is the event before gossip assigns its Lamport time.
        body = event.as_json()
        body["LTime"] = 0
        return _Reply(200, body, as_json=True)

    def events_for(self, node: str, name: str = "") -> list[UserEvent]:
        """The user events node's agent would have received (its NodeFilter/ServiceFilter)."""
        with self._changed:
            return [e for e in self.events if (not name or e.name == name)
                    and self.catalog.delivers(e.node_filter, e.service_filter, node)]

    def _list_events(self, req: RecordedRequest) -> _Reply:
        q = req.query
        name = (q.get("name") or [""])[0]
        min_index = int(q["index"][0]) if "index" in q else None
        wait = parse_duration(q["wait"][0]) if "wait" in q else DEFAULT_WAIT

        def matching() -> list[UserEvent]:
            return [e for e in self.events if not name or e.name == name]

        def current() -> int:
            found = matching()
            return event_index(found[-1].id) if found else 0

        if min_index is not None:
            # Event indexes are hashes, not counters: a query blocks until the index differs.
            deadline = time.monotonic() + min(wait, MAX_WAIT)
            with self._changed:
                while current() == min_index and self._server is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(timeout=left)
        with self._changed:
            found = matching()
            index = event_index(found[-1].id) if found else 0
            headers = {"X-Consul-Index": str(index)}
            return _Reply(200, [e.as_json() for e in found], headers, as_json=True)


def sent_token(req: RecordedRequest) -> str:
    """The token a request carries, from any of the places Consul reads one."""
    return (req.headers.get("x-consul-token")
            or (req.query.get("token") or [""])[0]
            or req.headers.get("authorization", "").removeprefix("Bearer ").strip())


def _go_quote(text: str) -> str:
    """Go's %q, which Consul's error messages use."""
    return json.dumps(text)


def _denied(op: dict[str, Any]) -> str:
    access = "write" if op["Verb"] in WRITE_VERBS else "read"
    return f"Permission denied: token lacks permission 'key:{access}' on {_go_quote(op['Key'])}"


class _TxnOpError(Exception):
    """One transaction operation failed; the whole transaction is rolled back."""


class _Handler(BaseHTTPRequestHandler):
    owner: ConsulDouble
    # HTTP/1.1 keep-alive, as a Consul agent serves, so clients reuse connections.
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle on, a keep-alive client's delayed
    # ACK would stall every response by ~40 ms and swamp any timing made against the double.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = RecordedRequest(
            method=self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.owner.handle(req)
        if reply.status == DROPPED:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_POST = _serve


def iter_txn_sizes(requests: list[RecordedRequest]) -> Iterator[int]:
    """Operation counts of the recorded /v1/txn requests, in order."""
    for r in requests:
        if r.path == "/v1/txn":
            yield len(json.loads(r.body))
