"""An HTTP double of a Consul agent, for what a real agent cannot be made to do on cue: fail.

Every test of Consul's behaviour runs against a real Consul 1.14.11 agent (tests/real_consul.py).
This double serves the KV, txn, event, status and (empty) health endpoints the fault tests need,
and answers them as the agent does wherever the program looks: the conformance test
(tests/consul_agent/test_conformance.py) runs one script against both and lists every allowed
difference. What it adds is faults: plain attributes (`deny_all`, `fail_txn_after`, `no_leader`,
`delay`), faults at a chosen write transaction through `faults` (tests/consul_double_faults.py),
and a record of every request (`requests`, `recorded`) for tests of what a client sends.

    with ConsulDouble(token="s3cret") as consul:
        requests.put(f"{consul.address}/v1/kv/app/x", data=b"1",
                     headers={"X-Consul-Token": "s3cret"})
        assert consul.kv["app/x"].value == b"1"
"""

from __future__ import annotations

import base64
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

from contracts.consul_event import EVENT_SIZE_LIMIT, encoded_event_size

# Consul's defaults (agent/txn_endpoint.go, agent config kv_max_value_size / txn_max_req_len).
TXN_MAX_OPS = 128
KV_MAX_VALUE_SIZE = 512 * 1024
TXN_MAX_REQ_LEN = 512 * 1024
# Consul's anonymous token, which a request without a token acts as.
ANONYMOUS = "00000000-0000-0000-0000-000000000002"

WRITE_VERBS = frozenset({"set", "cas", "lock", "unlock", "delete", "delete-cas", "delete-tree"})
KNOWN_VERBS = WRITE_VERBS | {"get", "get-or-empty", "get-tree", "check-index", "check-session",
                             "check-not-exists"}


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


class ConsulDouble:
    """A threaded HTTP double of one Consul agent on 127.0.0.1; use it as a context manager."""

    def __init__(self, token: str | None = None, datacenter: str = "dc1") -> None:
        self.token = token
        self.datacenter = datacenter
        self.node_name = "consul-double"
        """The node this double's agent runs on (what its event list is filtered for)."""
        self.kv: dict[str, KvEntry] = {}
        self.events: list[UserEvent] = []
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
        """Record a KV write at `idx` (what X-Consul-Index shows)."""
        self._kv_index = idx
        self._changed.notify_all()

    @staticmethod
    def _set(kv: dict[str, KvEntry], key: str, value: bytes | None, flags: int, idx: int) -> None:
        existing = kv.get(key)
        create = existing.create_index if existing else idx
        kv[key] = KvEntry(value=value or None, flags=flags, create_index=create, modify_index=idx)

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
            if req.path.startswith(("/v1/health/service/", "/v1/health/node/",
                                     "/v1/catalog/nodes")):
                # No node runs the app here: fleets are real client agents
                # (tests/deploy/canary_fleet.py).
                return _Reply(200, [], {"X-Consul-Index": str(self._raft_index)}, as_json=True)
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
        if denied and req.method == "GET" and "recurse" in q:
            # Consul filters a listing by the token's ACL: all filtered is an empty 404.
            raise _Reply(404, b"", self._common_headers(self._kv_index))
        if denied:
            access = "read" if req.method == "GET" else "write"
            raise _Reply(403, f"Permission denied: token with AccessorID '{ANONYMOUS}' lacks "
                              f"permission 'key:{access}' on {json.dumps(key)}")
        if req.method == "GET":
            return self._kv_get(key, q)
        if req.method == "PUT":
            return self._kv_put(key, q, req.body)
        if req.method == "DELETE":
            return self._kv_delete(key, q)
        raise _Reply(405, f"method {req.method} not allowed")

    def _kv_get(self, key: str, q: dict[str, list[str]]) -> _Reply:
        with self._changed:
            headers = self._common_headers(self._kv_index)
            if "recurse" in q:
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

    # -- /v1/txn (tests/consul_double_txn.py) -------------------------------------------------

    def _txn(self, req: RecordedRequest, denied: bool) -> _Reply:
        from tests.consul_double_txn import txn

        return txn(self, req, denied)

    # -- /v1/event ------------------------------------------------------------------------------

    def _fire(self, req: RecordedRequest) -> _Reply:
        if req.method != "PUT":
            raise _Reply(405, f"method {req.method} not allowed")
        name = req.path[len("/v1/event/fire/"):]
        if not name:
            raise _Reply(400, "Missing name")
        q = req.query
        # Serf's limit is on the encoded event (contracts/consul_event.py, measured on the agent
        # in tests/consul_agent/test_event_size.py); Serf words it "before" or "after encoding".
        size = encoded_event_size(name, req.body, *((q.get(f) or [""])[0]
                                                    for f in ("node", "service", "tag")),
                                  ltime=self._ltime + 1)
        if size > EVENT_SIZE_LIMIT:
            raise _Reply(500, "error broadcasting event: user event exceeds configured limit of "
                              f"{EVENT_SIZE_LIMIT} bytes before encoding")
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

    def _list_events(self, req: RecordedRequest) -> _Reply:
        # An agent lists the events gossip delivered to it: those whose filters match its node.
        name = (req.query.get("name") or [""])[0]
        with self._changed:
            # Serf matches the filters as regexps, unanchored; this node runs no service.
            found = [e.as_json() for e in self.events if (not name or e.name == name)
                     and (not e.node_filter or re.search(e.node_filter, self.node_name))
                     and not e.service_filter]
            return _Reply(200, found, as_json=True)


def sent_token(req: RecordedRequest) -> str:
    """The token a request carries, from any of the places Consul reads one."""
    return (req.headers.get("x-consul-token")
            or (req.query.get("token") or [""])[0]
            or req.headers.get("authorization", "").removeprefix("Bearer ").strip())


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
