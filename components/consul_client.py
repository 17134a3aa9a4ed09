"""The one client for Consul's HTTP API, shared by the KV provider, the prepared-query provider,
the token command and the deploy tools.

It owns what every call needs alike: the address rules and the CONSUL_* fallbacks, the ACL token
header, the CA to trust, the timeout, and scrubbing secrets (raw and base64, the form a /v1/txn
body carries them in) out of every error it raises. What an answer means is left to the caller.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from contracts import consul_ports

if TYPE_CHECKING:
    import pulumi

# How long one HTTP call to Consul may take before the caller gives up on it.
HTTP_TIMEOUT = 10.0
SCRUBBED = "[secret]"


# --- where Consul is ---------------------------------------------------------------------------

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
    default = consul_ports.HTTPS.port if parts.scheme == "https" else consul_ports.HTTP.port
    return f"{parts.scheme}://{parts.hostname}:{port or default}"


def read_ca(ca: str, where: str) -> str:
    """PEM text as given, or the PEM in the file `ca` names; ValueError naming `where` if not."""
    if not ca or "-----BEGIN" in ca:
        return ca
    path = Path(ca).expanduser()
    if not path.is_file():
        raise ValueError(f"Consul CA certificate {where}={ca!r} is neither PEM text nor a "
                         "readable file: give the PEM or the path to it")
    return path.read_text()


def resolve_connection(conn: ConsulConnection, environ: Mapping[str, str]) -> ResolvedConnection:
    """Fill unset fields from CONSUL_HTTP_ADDR / CONSUL_CACERT (the token is left to run time)."""
    address = conn.address or environ.get("CONSUL_HTTP_ADDR")
    if not address:
        raise ValueError("no Consul address: set webtier:consul.address in the stack config "
                         "(e.g. https://consul.internal:8501) or export CONSUL_HTTP_ADDR")
    use_ssl = environ.get("CONSUL_HTTP_SSL", "").lower() == "true"
    ca = read_ca(conn.ca_cert or environ.get("CONSUL_CACERT") or "",
                 "ca_cert" if conn.ca_cert else "CONSUL_CACERT")
    return ResolvedConnection(normalize_address(address, use_ssl), conn.datacenter or "", ca)


def run_time_token(configured: object, environ: Mapping[str, str]) -> str:
    """The configured token, else CONSUL_HTTP_TOKEN where a provider runs (so never in state)."""
    return str(configured or environ.get("CONSUL_HTTP_TOKEN") or "")


@dataclass(frozen=True)
class Endpoint:
    """A resolved connection plus its token; repr and str never show the token."""

    address: str
    """Normalised: scheme://host:port."""
    datacenter: str
    ca_pem: str
    token: str = field(repr=False)

    def where(self) -> str:
        return f"{self.address} (datacenter {self.datacenter or 'of the agent'})"


# --- errors ------------------------------------------------------------------------------------

def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, raw or base64-encoded, replaced by [secret].

    Consul's error bodies can echo a transaction back, and a txn carries values base64-encoded.
    """
    forms = {form for secret in secrets if secret
             for form in (secret, base64.b64encode(secret.encode()).decode())}
    if not forms:
        return text
    # One pass, longest first: a secret containing another is replaced whole, and the
    # replacement itself is never scanned again.
    pattern = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.sub(pattern, SCRUBBED, text)


class ConsulError(Exception):
    """A call to Consul failed. The message never holds the token or a secret the client knows."""


class ConsulUnreachable(ConsulError):
    """No answer: refused, timed out, name unknown, or a certificate the CA does not vouch for."""


class ConsulHttpError(ConsulError):
    """Consul answered with a status the caller did not expect."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Consul answered {status} {body}")
        self.status = status
        self.body = body
        """The start of the answer's body, scrubbed."""


def _short(err: BaseException) -> str:
    text = str(err)
    # requests buries the useful errno text deep in its message.
    for marker in ("[Errno", "timed out", "CERTIFICATE_VERIFY_FAILED", "Name or service"):
        at = text.find(marker)
        if at != -1:
            end = text.find("'", at)
            return text[at:end if end != -1 else None].rstrip(")\"")
    return text[:300]


# --- the client --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ConsulClient:
    """A keep-alive session to one Consul agent: close it, or use it as a context manager."""

    def __init__(self, endpoint: Endpoint, timeout: float = HTTP_TIMEOUT,
                 secrets: Iterable[str] = ()) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._secrets = [endpoint.token, *secrets]
        self._session = requests.Session()
        # The token travels as a header on every call, never in a URL that errors and logs show.
        if endpoint.token:
            self._session.headers["X-Consul-Token"] = endpoint.token
        self._ca_file: str | None = None
        if endpoint.ca_pem:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(endpoint.ca_pem)
                self._ca_file = handle.name
        # Passed on every call: a session-wide verify loses to REQUESTS_CA_BUNDLE in requests.
        self.verify: str | bool = self._ca_file or True

    def close(self) -> None:
        self._session.close()
        if self._ca_file:
            Path(self._ca_file).unlink(missing_ok=True)

    def __enter__(self) -> ConsulClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        """`text` without the token or any secret this client was given."""
        return scrub(text, self._secrets)

    def call(self, method: str, path: str, params: Sequence[tuple[str, str]] = (),
             data: str | bytes | None = None, ok: Collection[int] = (200,)) -> Reply:
        """One request; raises ConsulUnreachable, or ConsulHttpError for a status not in `ok`."""
        query = [("dc", self.endpoint.datacenter)] if self.endpoint.datacenter else []
        try:
            response = self._session.request(
                method, self.endpoint.address + quote(path, safe="/:"),
                params=[*query, *params], data=data, timeout=self.timeout, verify=self.verify)
        except requests.RequestException as err:
            raise ConsulUnreachable(self.scrub(f"Consul is unreachable ({_short(err)})")
                                    ) from None
        response.encoding = "utf-8"
        reply = Reply(response.status_code, response.text)
        if reply.status not in ok:
            # Scrubbed before it is cut, so no secret survives half-cut at the end.
            raise ConsulHttpError(reply.status, self.scrub(reply.body).strip()[:300])
        return reply

    def call_json(self, method: str, path: str, body: Any = None,
                  params: Sequence[tuple[str, str]] = ()) -> Any:
        """`body` sent as JSON; the decoded JSON answer (None when empty). Raises as `call`."""
        data = None if body is None else json.dumps(body)
        return self.call(method, path, params, data).json()

    def read_key(self, key: str) -> dict[str, Any] | None:
        """One key's entry (Value decoded to bytes), or None when it does not exist."""
        entries = self._entries(self.call("GET", f"/v1/kv/{key}", ok=(200, 404)))
        return entries[0] if entries else None

    def read_tree(self, prefix: str) -> list[dict[str, Any]]:
        """Every entry under `prefix`/ (Values decoded to bytes), in one GET ?recurse."""
        return self._entries(self.call("GET", f"/v1/kv/{prefix.strip('/')}/",
                                       [("recurse", "1")], ok=(200, 404)))

    def txn(self, ops: Sequence[Mapping[str, Any]]) -> Reply:
        """One all-or-nothing /v1/txn; a 409 (an op failed, nothing applied) is the caller's."""
        return self.call("PUT", "/v1/txn", data=json.dumps(list(ops)), ok=(200, 409))

    def fire_event(self, name: str, payload: str, node_filter: str | None = None
                   ) -> dict[str, Any]:
        """Fire a user event (to the nodes matching `node_filter`, a regexp, if given); returns
        Consul's answer (its ID among others)."""
        params = [("node", node_filter)] if node_filter else []
        answer = self.call("PUT", f"/v1/event/fire/{name}", params,
                           data=payload.encode()).json()
        return answer if isinstance(answer, dict) else {}

    def put_key(self, key: str, value: str, cas: int | None = None) -> bool:
        """Write one key (only if its ModifyIndex is still `cas`, 0: only if absent)."""
        params = [("cas", str(cas))] if cas is not None else []
        return bool(self.call("PUT", f"/v1/kv/{key}", params, data=value.encode()).json())

    def delete_key(self, key: str, cas: int | None = None) -> bool:
        """Delete one key (only if its ModifyIndex is still `cas`, if given)."""
        params = [("cas", str(cas))] if cas is not None else []
        return bool(self.call("DELETE", f"/v1/kv/{key}", params).json())

    def service_health(self, service: str, node_meta: Mapping[str, str] | None = None
                       ) -> list[dict[str, Any]]:
        """Every instance of `service` with its node and checks (/v1/health/service), only on
        nodes carrying every ``node_meta`` key:value (Consul's repeatable `node-meta` filter)."""
        params = [("node-meta", f"{k}:{v}") for k, v in (node_meta or {}).items()]
        entries = self.call("GET", f"/v1/health/service/{service}", params).json()
        return entries if isinstance(entries, list) else []

    @staticmethod
    def _entries(reply: Reply) -> list[dict[str, Any]]:
        if reply.status == 404:
            return []
        entries: list[dict[str, Any]] = reply.json() or []
        for entry in entries:
            if entry.get("Value") is not None:
                entry["Value"] = base64.b64decode(entry["Value"])
        return entries
