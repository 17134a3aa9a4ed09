"""The stack's Consul KV entries as a Pulumi resource: a dynamic provider over py-consul.

`ConsulKv` owns a set of keys under one prefix (app/<stack>/…). Writes go through /v1/txn in
chunks Consul accepts, each all-or-nothing and check-and-set on the ModifyIndex this stack last
wrote, so a value changed outside Pulumi stops the update instead of being overwritten; delete
removes only the keys the resource wrote. Secret values and the ACL token stay secret: they travel
as secret properties, and the pickled provider captures neither.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import consul
import pulumi
import pulumi.dynamic as dynamic
import requests

from components.kv_payload import (
    TXN_MAX_BYTES,
    TXN_MAX_OPS,
    Drift,
    LiveEntry,
    TxnOp,
    chunk_ops,
    drift_message,
    entry_problems,
    full_key,
    live_under,
    plan_sync,
    result_indexes,
    txn_ops,
    undo_ops,
)

# How long one HTTP call to Consul may take before the sync gives up on it.
HTTP_TIMEOUT = 10.0
# A diff's read of the prefix is reused by the update that follows it in the same provider process
# (that is what keeps a sync at one read); older than this, the update reads again.
SNAPSHOT_MAX_AGE = 120.0
ENTRIES_TYPE = "pulumi-python:dynamic/consul:KvEntries"
# Properties whose whole value is secret, in inputs, outputs and state.
SECRET_PROPERTIES = ("secretValues", "token")

_SNAPSHOTS: dict[tuple[str, str, str], tuple[float, dict[str, LiveEntry]]] = {}


# --- connection --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsulConnection:
    """How to reach Consul. Each unset field falls back to the standard CONSUL_* variable."""

    address: str | None = None
    """URL of a Consul agent's HTTP API, e.g. https://consul.internal:8501 (CONSUL_HTTP_ADDR)."""
    datacenter: str | None = None
    """Datacenter to write to; None: the agent's own."""
    ca_cert: str | None = None
    """PEM text of the CA that signed the agent's certificate, or a path to a PEM file
    (CONSUL_CACERT). A path is read when the program runs, so the PEM travels in state and a
    later refresh or destroy works from any machine."""
    token: pulumi.Input[str] | None = None
    """ACL token with key_prefix write on the prefix; kept secret. None: the provider reads
    CONSUL_HTTP_TOKEN when it runs, and the token is never stored."""


@dataclass(frozen=True)
class ResolvedConnection:
    address: str
    datacenter: str
    ca_pem: str


def normalize_address(address: str, use_ssl: bool = False) -> str:
    """`host:port` or a URL -> `scheme://host:port`; raises ValueError naming what is wrong."""
    text = address.strip().rstrip("/")
    if "://" not in text:
        text = f"{'https' if use_ssl else 'http'}://{text}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
        valid = False
    else:
        valid = True
    if (not valid or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path or parts.query):
        raise ValueError(f"Consul address {address!r} is not an HTTP API address: give "
                         "http(s)://host:port, e.g. https://consul.internal:8501")
    default = 8501 if parts.scheme == "https" else 8500
    return f"{parts.scheme}://{parts.hostname}:{port or default}"


def resolve_connection(conn: ConsulConnection, environ: Mapping[str, str]) -> ResolvedConnection:
    """Fill unset fields from CONSUL_HTTP_ADDR / CONSUL_CACERT (the token is left to run time)."""
    address = conn.address or environ.get("CONSUL_HTTP_ADDR")
    if not address:
        raise ValueError("no Consul address: set webtier:consul.address in the stack config "
                         "(e.g. https://consul.internal:8501) or export CONSUL_HTTP_ADDR")
    use_ssl = environ.get("CONSUL_HTTP_SSL", "").lower() == "true"
    ca = conn.ca_cert or environ.get("CONSUL_CACERT") or ""
    if ca and "-----BEGIN" not in ca:
        path = Path(ca).expanduser()
        if not path.is_file():
            where = "ca_cert" if conn.ca_cert else "CONSUL_CACERT"
            raise ValueError(f"Consul CA certificate {where}={ca!r} is neither PEM text nor a "
                             "readable file: give the PEM or the path to it")
        ca = path.read_text()
    return ResolvedConnection(normalize_address(address, use_ssl), conn.datacenter or "", ca)


@dataclass(frozen=True)
class Endpoint:
    """A connection as the provider uses it; repr and str never show the token."""

    address: str
    datacenter: str
    ca_pem: str
    token: str = field(repr=False)

    @staticmethod
    def from_props(props: Mapping[str, Any]) -> Endpoint:
        token = props.get("token") or os.environ.get("CONSUL_HTTP_TOKEN") or ""
        return Endpoint(str(props["address"]), str(props.get("datacenter") or ""),
                        str(props.get("caCert") or ""), str(token))

    def where(self) -> str:
        return f"{self.address} (datacenter {self.datacenter or 'of the agent'})"


# --- errors ------------------------------------------------------------------------------------

class ConsulKvError(Exception):
    """A sync failed; the message names the address, the key and the cause, never a value."""


class _CallFailed(Exception):
    """One HTTP call failed (unreachable, denied, server error); the caller adds the key."""


class _TxnConflict(Exception):
    def __init__(self, errors: Sequence[tuple[int, str]]) -> None:
        super().__init__(errors)
        self.errors = list(errors)


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """Defence in depth: no secret value or token survives into an error message."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return text


def _short(err: BaseException) -> str:
    text = str(err)
    # requests buries the useful errno text deep in its message.
    for marker in ("[Errno", "timed out", "CERTIFICATE_VERIFY_FAILED", "Name or service"):
        at = text.find(marker)
        if at != -1:
            end = text.find("'", at)
            return text[at:end if end != -1 else None].rstrip(")\"")
    return text[:300]


# --- HTTP --------------------------------------------------------------------------------------

class KvClient:
    """The two calls a sync needs: read a prefix, apply one transaction."""

    def __init__(self, endpoint: Endpoint, timeout: float = HTTP_TIMEOUT) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint.address)
        self._ca_file: str | None = None
        if endpoint.ca_pem:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(endpoint.ca_pem)
                self._ca_file = handle.name
        self._consul = consul.Consul(
            host=parts.hostname, port=parts.port, scheme=parts.scheme,
            dc=endpoint.datacenter or None, verify=self._ca_file or True,
            connections_timeout=timeout,
        )

    def close(self) -> None:
        self._consul.http.session.close()
        if self._ca_file:
            Path(self._ca_file).unlink(missing_ok=True)

    def __enter__(self) -> KvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        # py-consul lets CONSUL_HTTP_TOKEN override a token given to its constructor, and its
        # txn.put sends no token at all: the header is always set here, from the endpoint.
        return {"X-Consul-Token": self.endpoint.token} if self.endpoint.token else {}

    def _params(self) -> list[tuple[str, str]]:
        return [("dc", self.endpoint.datacenter)] if self.endpoint.datacenter else []

    def read(self, prefix: str) -> dict[str, LiveEntry]:
        """Every key under `prefix`/, in one GET ?recurse."""
        path = f"/v1/kv/{prefix.strip('/')}/"
        response = self._call("GET", path, [*self._params(), ("recurse", "1")])
        if response.code == 404:
            return {}
        self._check(response)
        entries = json.loads(response.body)
        for entry in entries:
            if entry.get("Value") is not None:
                entry["Value"] = base64.b64decode(entry["Value"])
        return live_under(prefix, entries)

    def apply(self, ops: Sequence[TxnOp]) -> dict[str, int]:
        """One all-or-nothing transaction; returns the new ModifyIndex of each key written."""
        response = self._call("PUT", "/v1/txn", self._params(), json.dumps(list(ops)))
        if response.code == 409:
            body = json.loads(response.body or "{}")
            errors = [(int(e.get("OpIndex", 0)), str(e.get("What", "")))
                      for e in body.get("Errors") or []]
            if errors and all(what.startswith("Permission denied") for _, what in errors):
                raise _CallFailed(f"the ACL token was denied (409 {errors[0][1]}): it needs "
                                  "key_prefix write on the prefix")
            raise _TxnConflict(errors)
        self._check(response)
        return result_indexes(json.loads(response.body).get("Results"))

    def _call(self, method: str, path: str, params: list[tuple[str, str]],
              data: str = "") -> Any:
        http = self._consul.http
        try:
            if method == "GET":
                return http.get(lambda r: r, path, params=params, headers=self._headers())
            return http.put(lambda r: r, path, params=params, data=data, headers=self._headers())
        except requests.exceptions.RequestException as err:
            raise _CallFailed(f"Consul is unreachable ({_short(err)})") from None

    @staticmethod
    def _check(response: Any) -> None:
        body = str(response.body or "").strip()[:300]
        if response.code == 403:
            raise _CallFailed(f"the ACL token was denied (403 {body}): it needs key_prefix "
                              "read and write on the prefix")
        if response.code == 413:
            raise _CallFailed(f"Consul refused the request as too large (413 {body})")
        if response.code >= 400:
            raise _CallFailed(f"Consul answered {response.code} {body}")


# --- the sync ----------------------------------------------------------------------------------

def read_live(client: KvClient, prefix: str, secrets: Sequence[str]) -> dict[str, LiveEntry]:
    try:
        return client.read(prefix)
    except _CallFailed as err:
        raise ConsulKvError(_scrub(f"Consul KV read of {prefix}/ at {client.endpoint.where()} "
                                   f"failed: {err}", secrets)) from None


def apply_chunks(client: KvClient, ops: Sequence[TxnOp],
                 before: Mapping[str, LiveEntry | None], secrets: Sequence[str],
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
            written.update(client.apply(chunk))
        except (_CallFailed, _TxnConflict) as err:
            cause, key = _describe_failure(err, chunk, before)
            outcome = _roll_back(client, applied, written, before)
            raise ConsulKvError(_scrub(
                f"Consul KV write to {client.endpoint.where()} failed at key {key}: {cause}. "
                f"{outcome}", secrets)) from None
        applied.append(chunk)
    return written


def _describe_failure(err: Exception, chunk: Sequence[TxnOp],
                      before: Mapping[str, LiveEntry | None]) -> tuple[str, str]:
    if isinstance(err, _CallFailed):
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


def _roll_back(client: KvClient, applied: Sequence[Sequence[TxnOp]], written: Mapping[str, int],
               before: Mapping[str, LiveEntry | None]) -> str:
    if not applied:
        return "Nothing was written."
    keys = [str(op["KV"]["Key"]) for chunk in applied for op in chunk]
    pending = list(reversed(applied))
    for at, chunk in enumerate(pending):
        undo = undo_ops(chunk, written, before)
        try:
            for part in chunk_ops(undo):
                client.apply(part)
        except (_CallFailed, _TxnConflict) as err:
            left = sorted(str(op["KV"]["Key"]) for rest in pending[at:] for op in rest)
            reason = str(err) if isinstance(err, _CallFailed) else "a key changed meanwhile"
            return (f"Earlier transactions had written {len(keys)} keys and rolling them back "
                    f"failed ({reason}); still changed: {', '.join(left)}. State keeps the "
                    "previous values: run `pulumi refresh`, then `pulumi up`.")
    return f"Rolled back the {len(keys)} keys earlier transactions had written: nothing changed."


# --- the dynamic provider ----------------------------------------------------------------------

def _map(value: Any) -> dict[str, Any]:
    # A map still unknown during a preview arrives as a sentinel string: read it as empty.
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _values(props: Mapping[str, Any]) -> dict[str, str]:
    return {**_map(props.get("values")), **_map(props.get("secretValues"))}


def _secrets(props: Mapping[str, Any]) -> list[str]:
    return [str(v) for v in _map(props.get("secretValues")).values()] + [
        str(props.get("token") or os.environ.get("CONSUL_HTTP_TOKEN") or "")]


def _recorded(props: Mapping[str, Any]) -> dict[str, int]:
    # State round-trips numbers as doubles (2.0); Consul wants an integer Index.
    return {str(k): int(v) for k, v in dict(props.get("indexes") or {}).items()}


def _outputs(props: Mapping[str, Any], indexes: Mapping[str, int]) -> dict[str, Any]:
    out = {k: props.get(k) for k in ("prefix", "address", "datacenter", "caCert", "token",
                                      "values", "secretValues")}
    out["indexes"] = dict(sorted(indexes.items()))
    return out


def _snapshot_key(props: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(props["address"]), str(props.get("datacenter") or ""), str(props["prefix"]))


def _note(message: str) -> None:
    # The engine shows a dynamic provider's stderr to the user.
    print(f"consul-kv: {message}", file=sys.stderr)


class ConsulKvProvider(dynamic.ResourceProvider):
    """CRUD for one prefix's keys. Holds no state: it is pickled into the stack's state."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        values = {k: v for k, v in _values(news).items() if isinstance(v, str)}
        failures = [dynamic.CheckFailure("values", p)
                    for p in entry_problems(str(news.get("prefix", "")), values)]
        overlap = set(_map(news.get("values"))) & set(_map(news.get("secretValues")))
        failures += [dynamic.CheckFailure("secretValues", f"key {k!r} is both plain and secret")
                     for k in sorted(overlap)]
        return dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        prefix = str(props["prefix"])
        plan = plan_sync(_values(props), {}, {}, None)
        ops = txn_ops(prefix, plan)
        with KvClient(Endpoint.from_props(props)) as client:
            written = apply_chunks(client, ops, {}, _secrets(props))
        indexes = {w.key: written[full_key(prefix, w.key)] for w in plan.writes}
        return dynamic.CreateResult(prefix, _outputs(props, indexes))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [k for k in ("prefix", "address", "datacenter")
                    if (olds.get(k) or "") != (news.get(k) or "")]
        if replaces:
            return dynamic.DiffResult(changes=True, replaces=replaces,
                                      delete_before_replace=False)
        changed = any(olds.get(k) != news.get(k)
                      for k in ("values", "secretValues", "token", "caCert"))
        drift: list[Drift] = []
        # Drift is looked for on every diff, so a preview shows it; a preview that cannot reach
        # Consul (a CI runner outside the network) still diffs against state.
        try:
            with KvClient(Endpoint.from_props(news)) as client:
                live = client.read(str(news["prefix"]))
        except _CallFailed as err:
            _note(_scrub(f"could not read {news['prefix']}/ to look for drift: {err}",
                         _secrets(news)))
        else:
            _SNAPSHOTS[_snapshot_key(news)] = (time.monotonic(), live)
            drift = list(plan_sync(_values(news), _values(olds), _recorded(olds), live).drift)
            if drift:
                _note("drift under " + str(news["prefix"]) + "/:\n"
                      + drift_message(str(news["prefix"]), drift))
        return dynamic.DiffResult(changes=changed or bool(drift), replaces=[],
                                  delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        prefix = str(news["prefix"])
        secrets = _secrets(news) + _secrets(olds)
        previous = _values(olds)
        recorded = _recorded(olds)
        with KvClient(Endpoint.from_props(news)) as client:
            taken = _SNAPSHOTS.pop(_snapshot_key(news), None)
            if taken is not None and time.monotonic() - taken[0] <= SNAPSHOT_MAX_AGE:
                live = taken[1]
            else:
                live = read_live(client, prefix, secrets)
            plan = plan_sync(_values(news), previous, recorded, live)
            if plan.drift:
                raise ConsulKvError(_scrub(
                    f"Consul KV at {client.endpoint.where()}: keys under {prefix}/ changed under "
                    f"this stack:\n{drift_message(prefix, plan.drift)}", secrets))
            before = {full_key(prefix, k): live.get(k) for k in {*recorded, *_values(news)}}
            written = apply_chunks(client, txn_ops(prefix, plan), before, secrets)
        indexes = dict(plan.unchanged_indexes)
        indexes.update({w.key: written[full_key(prefix, w.key)] for w in plan.writes})
        return dynamic.UpdateResult(_outputs(news, indexes))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        prefix = str(props["prefix"])
        secrets = _secrets(props)
        recorded = _recorded(props)
        if not recorded:
            return
        with KvClient(Endpoint.from_props(props)) as client:
            live = read_live(client, prefix, secrets)
            plan = plan_sync({}, _values(props), recorded, live)
            # A key already gone is what delete wants; a key changed under us is not ours to drop.
            changed = [d for d in plan.drift if d.kind == "changed"]
            if changed:
                raise ConsulKvError(_scrub(
                    f"Consul KV at {client.endpoint.where()}: not deleting keys under {prefix}/ "
                    f"that changed since this stack wrote them:\n{drift_message(prefix, changed)}",
                    secrets))
            gone = {full_key(prefix, d.key) for d in plan.drift if d.kind == "deleted"}
            ops = [op for op in txn_ops(prefix, plan) if op["KV"]["Key"] not in gone]
            before = {full_key(prefix, k): live.get(k) for k in recorded}
            apply_chunks(client, ops, before, secrets)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        prefix = str(props["prefix"])
        recorded = _recorded(props)
        with KvClient(Endpoint.from_props(props)) as client:
            live = read_live(client, prefix, _secrets(props))
        plain = _map(props.get("values"))
        secret = _map(props.get("secretValues"))
        indexes: dict[str, int] = {}
        for key in recorded:
            entry = live.get(key)
            target = secret if key in secret else plain
            if entry is None:
                # Deleted outside Pulumi: no longer owned; the next up writes it afresh.
                target.pop(key, None)
                continue
            target[key] = entry.value
            indexes[key] = entry.modify_index
        outs = _outputs({**props, "values": plain, "secretValues": secret}, indexes)
        return dynamic.ReadResult(id_, outs)


class KvEntries(dynamic.Resource, module="consul", name="KvEntries"):
    """The keys one ConsulKv owns, as one resource in state."""

    indexes: pulumi.Output[dict[str, int]]
    """ModifyIndex of each key (relative) as this stack last wrote or refreshed it."""
    values: pulumi.Output[dict[str, str]]
    """The plain entries, as written."""
    # camelCase: dynamic resources expose each property under its name in state.
    secretValues: pulumi.Output[dict[str, str]]
    """The secret entries, as written; secret."""

    def __init__(self, name: str, props: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ConsulKvProvider(), name, {**props, "indexes": None}, opts)


# --- the component -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsulKvArgs:
    prefix: str
    """Stack prefix the keys live under, e.g. app/staging (templates read it as KV_PREFIX)."""
    entries: Mapping[str, pulumi.Input[str]]
    """Relative key -> value. A secret Output stays secret end to end."""
    connection: ConsulConnection = field(default_factory=ConsulConnection)
    secret_keys: frozenset[str] = frozenset()
    """Keys treated as secret even when their value arrives as a plain string."""


def split_entries(entries: Mapping[str, pulumi.Input[str]], secret_keys: frozenset[str]
                  ) -> tuple[pulumi.Output[dict[str, str]], pulumi.Output[dict[str, str]]]:
    """(plain values, secret values): a value goes to the secret side if its Output is secret
    or its key is listed in `secret_keys`."""
    outputs = {k: pulumi.Output.from_input(v) for k, v in entries.items()}
    flags: dict[str, pulumi.Input[bool]] = {
        k: True if k in secret_keys else pulumi.Output.from_input(o.is_secret())
        for k, o in outputs.items()
    }
    # Unsecreted only to be sorted: each value lands in exactly one side, and the secret side
    # is wrapped as a secret again below.
    values = pulumi.Output.all(*[pulumi.Output.unsecret(o) for o in outputs.values()])
    secret_flags = pulumi.Output.all(*flags.values())
    keys = list(outputs)

    def pick(secret: bool) -> pulumi.Output[dict[str, str]]:
        return pulumi.Output.all(values, secret_flags).apply(
            lambda vf: {k: str(v) for k, v, s in zip(keys, vf[0], vf[1], strict=True)
                        if bool(s) == secret})

    return pick(False), pulumi.Output.secret(pick(True))


class ConsulKv(pulumi.ComponentResource):
    """The stack's KV entries under one prefix, written to Consul and owned by this stack."""

    keys: pulumi.Output[list[str]]
    """Full Consul keys this component owns, e.g. app/staging/database/master-user."""
    indexes: pulumi.Output[dict[str, int]]
    """ModifyIndex of each key (relative to the prefix) after the last sync."""
    entries: KvEntries
    """The resource holding the keys in state."""

    def __init__(self, name: str, args: ConsulKvArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        problems = entry_problems(args.prefix, {k: "" for k in args.entries})
        problems += [f"secret_keys lists {k!r}, which is not an entry"
                     for k in sorted(args.secret_keys - set(args.entries))]
        if problems:
            raise ValueError(f"ConsulKv {name!r}: " + "; ".join(problems))
        resolved = resolve_connection(args.connection, os.environ)
        super().__init__("webtier:consul_kv:ConsulKv", name, None, opts)
        plain, secret = split_entries(args.entries, args.secret_keys)
        token = args.connection.token
        entries = KvEntries(f"{name}-entries", {
            "prefix": args.prefix.strip("/"),
            "address": resolved.address,
            "datacenter": resolved.datacenter,
            "caCert": resolved.ca_pem,
            "token": pulumi.Output.secret(token) if token is not None else None,
            "values": plain,
            "secretValues": secret,
        }, opts=pulumi.ResourceOptions(
            parent=self,
            # The engine marks outputs secret only where an input of the same name was; listing
            # them also covers refresh, whose outputs come from Consul, not from inputs.
            additional_secret_outputs=list(SECRET_PROPERTIES),
        ))
        self.keys = pulumi.Output.from_input(
            sorted(full_key(args.prefix, k) for k in args.entries))
        self.indexes = entries.indexes
        self.entries = entries
        self.register_outputs({"keys": self.keys, "indexes": self.indexes})
