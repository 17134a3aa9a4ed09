"""The deploy pointer in Consul KV, its history, and the `deploy` event that wakes the instances.

Under the stack's KV prefix, for each app:
  deploy/<app>/current   the manifest URL instances deploy (read raw at boot by release-pull)
  deploy/<app>/previous  the URL `current` held before its last change
  deploy/<app>/history   JSON list of pushed releases, newest first (what rollback walks)

All three change in one Consul transaction whose check-and-set on `current` (and on `history`)
fails if anyone else changed them since they were read, so two deploys never overwrite each other.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import asdict, dataclass
from typing import Any

import consul
import requests
from consul.exceptions import ACLPermissionDenied, ConsulException

EVENT_NAME = "deploy"
HISTORY_LIMIT = 20
# Consul refuses user events whose name and payload exceed 512 bytes.
MAX_EVENT_PAYLOAD = 480


class PointerError(Exception):
    """Consul could not be read or written; the message says what to check."""


class PointerConflict(PointerError):
    """The pointer changed between reading it and writing it: someone else deployed."""


@dataclass(frozen=True)
class Release:
    release: str
    manifest: str
    at: str
    by: str


@dataclass(frozen=True)
class PointerState:
    current: str | None
    current_index: int
    """Consul ModifyIndex of `current` when read (0 when absent): the check-and-set guard."""
    previous: str | None
    history: tuple[Release, ...]
    history_index: int


def connect(address: str, token: str | None, ca_cert: str | None = None) -> consul.Consul:
    """A client for CONSUL_HTTP_ADDR-style addresses: host:port or http(s)://host:port."""
    parsed = urllib.parse.urlsplit(address if "//" in address else f"http://{address}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PointerError(f"Consul address {address!r}: must be host:port or "
                           "http(s)://host:port (CONSUL_HTTP_ADDR or --consul-addr)")
    port = parsed.port or (8501 if parsed.scheme == "https" else 8500)
    verify: bool | str = ca_cert or True
    return consul.Consul(host=parsed.hostname, port=port, scheme=parsed.scheme, token=token,
                         verify=verify)


class PointerStore:
    def __init__(self, client: consul.Consul, kv_prefix: str, app: str) -> None:
        self._client = client
        base = f"{kv_prefix.strip('/')}/deploy/{app}"
        self.current_key = f"{base}/current"
        self.previous_key = f"{base}/previous"
        self.history_key = f"{base}/history"
        self._where = f"{client.http.base_uri}"

    def read(self) -> PointerState:
        current, current_index = self._get(self.current_key)
        previous, _ = self._get(self.previous_key)
        raw_history, history_index = self._get(self.history_key)
        return PointerState(current, current_index, previous,
                            self._parse_history(raw_history), history_index)

    def publish(self, release: Release, expected: PointerState) -> None:
        """Point `current` at a new release, as long as nobody moved it since ``expected``."""
        history = (release, *(r for r in expected.history if r.manifest != release.manifest))
        ops = [_cas(self.current_key, release.manifest, expected.current_index),
               _cas(self.history_key,
                    json.dumps([asdict(r) for r in history[:HISTORY_LIMIT]], indent=1),
                    expected.history_index)]
        if expected.current is not None:
            ops.append(_set(self.previous_key, expected.current))
        self._transact(ops)

    def point_to(self, manifest: str, expected: PointerState) -> None:
        """Point `current` at a release already in the history (a rollback)."""
        ops = [_cas(self.current_key, manifest, expected.current_index),
               _check(self.history_key, expected.history_index)]
        if expected.current is not None:
            ops.append(_set(self.previous_key, expected.current))
        self._transact(ops)

    def announce(self, manifest: str) -> str:
        """Fire the `deploy` event carrying the manifest URL; returns the event's ID."""
        if len(manifest.encode()) > MAX_EVENT_PAYLOAD:
            raise PointerError(f"manifest URL is {len(manifest.encode())} bytes; a Consul event "
                               f"payload must stay under {MAX_EVENT_PAYLOAD}")
        try:
            answer = self._client.event.fire(EVENT_NAME, body=manifest)
        except ACLPermissionDenied as e:
            raise PointerError(f"Consul at {self._where} refused to fire event "
                               f"'{EVENT_NAME}': the token needs `event \"{EVENT_NAME}\" "
                               f"{{ policy = \"write\" }}` ({e})") from e
        except (ConsulException, requests.RequestException) as e:
            raise PointerError(f"could not fire event '{EVENT_NAME}' on Consul at "
                               f"{self._where}: {e}") from e
        return str(answer.get("ID", "")) if isinstance(answer, dict) else ""

    def _get(self, key: str) -> tuple[str | None, int]:
        try:
            _, item = self._client.kv.get(key)
        except ACLPermissionDenied as e:
            raise PointerError(f"Consul at {self._where} refused to read {key}: the token "
                               f"needs read on that key ({e})") from e
        except (ConsulException, requests.RequestException) as e:
            raise PointerError(f"could not read {key} from Consul at {self._where} "
                               f"(CONSUL_HTTP_ADDR / --consul-addr): {e}") from e
        if item is None:
            return None, 0
        value = item.get("Value")
        try:
            text = value.decode("utf-8") if value is not None else None
        except UnicodeDecodeError:
            raise PointerError(f"{key} in Consul at {self._where} is not UTF-8 text; point it "
                               "at a release again with `python -m deploy rollback --to ID`"
                               ) from None
        return text, int(item["ModifyIndex"])

    def _parse_history(self, raw: str | None) -> tuple[Release, ...]:
        if raw is None:
            return ()
        try:
            return tuple(Release(**entry) for entry in json.loads(raw))
        except (ValueError, TypeError) as e:
            raise PointerError(f"{self.history_key} does not hold a deploy history (a JSON list "
                               f"of {{release, manifest, at, by}}): {e}; delete the key to "
                               "start a new history") from e

    def _transact(self, ops: list[dict[str, Any]]) -> None:
        # py-consul's txn.put sends no ACL token, so the request is made here with the headers
        # the client would send.
        try:
            answer = self._client.http.put(
                lambda response: response, "/v1/txn", data=json.dumps(ops),
                headers=self._client.prepare_headers(),
            )
        except requests.RequestException as e:
            raise PointerError(f"could not write the deploy pointer to Consul at "
                               f"{self._where}: {e}") from e
        if answer.code == 200:
            return
        if answer.code == 409:
            raise PointerConflict(
                f"{self.current_key} changed while this command ran (another deploy or rollback "
                f"got there first); it was left as the other change set it. Check `python -m "
                f"deploy status` and run again. Consul said: {_errors(answer.body)}"
            )
        if answer.code == 403:
            raise PointerError(f"Consul at {self._where} refused the pointer write: the token "
                               f"needs `key_prefix \"{self.current_key.rsplit('/', 1)[0]}/\" "
                               f"{{ policy = \"write\" }}` ({answer.body.strip()})")
        raise PointerError(f"Consul at {self._where} refused the pointer write: HTTP "
                           f"{answer.code}: {str(answer.body).strip()[:300]}")


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _cas(key: str, value: str, index: int) -> dict[str, Any]:
    # Index 0 means "only if the key does not exist yet".
    return {"KV": {"Verb": "cas", "Key": key, "Value": _b64(value), "Index": index}}


def _set(key: str, value: str) -> dict[str, Any]:
    return {"KV": {"Verb": "set", "Key": key, "Value": _b64(value)}}


def _check(key: str, index: int) -> dict[str, Any]:
    if index == 0:
        return {"KV": {"Verb": "check-not-exists", "Key": key}}
    return {"KV": {"Verb": "check-index", "Key": key, "Index": index}}


def _errors(body: object) -> str:
    try:
        errors = json.loads(str(body)).get("Errors") or []
        return "; ".join(str(e.get("What", e)) for e in errors) or str(body)
    except (ValueError, AttributeError):
        return str(body)[:300]
