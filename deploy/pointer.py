"""The deploy pointer in Consul KV, its history, and the stack's deploy event that wakes its
instances (`<app>-<stack>-deploy`: another stack's nodes on the same Consul never act on it).

Under the stack's KV prefix, for each app (the layout is contracts/release_layout.py):
  deploy/<app>/current   the manifest URL instances deploy (read raw at boot by release-pull)
  deploy/<app>/previous  the URL `current` held before its last change
  deploy/<app>/history   JSON list of pushed releases, newest first (what rollback walks)

All three change in one Consul transaction whose check-and-set on `current` (and on `history`)
fails if anyone else changed them since they were read, so two deploys never overwrite each other.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

from components.consul.client import (
    HTTP_TIMEOUT,
    ConsulClient,
    ConsulError,
    ConsulHttpError,
    Endpoint,
    normalize_address,
    read_ca,
)
from contracts import json_text
from contracts.consul_event import EVENT_SIZE_LIMIT, encoded_event_size
from contracts.release_layout import deploy_event, deploy_keys

HISTORY_LIMIT = 20


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


def connect(address: str, token: str | None, ca_cert: str | None = None,
            timeout: float = HTTP_TIMEOUT) -> ConsulClient:
    """A client for CONSUL_HTTP_ADDR-style addresses (host:port or http(s)://host:port), sending
    exactly `token` (the CLI has already looked at CONSUL_HTTP_TOKEN) and trusting `ca_cert`, a
    PEM file or PEM text, when given."""
    try:
        normalized = normalize_address(address)
    except ValueError as e:
        raise PointerError(f"{e} (CONSUL_HTTP_ADDR or --consul-addr)") from e
    try:
        ca_pem = read_ca(ca_cert or "", "--consul-ca")
    except ValueError as e:
        raise PointerError(f"{e} (CONSUL_CACERT or --consul-ca)") from e
    return ConsulClient(Endpoint(normalized, "", ca_pem, token or ""), timeout=timeout)


class PointerStore:
    def __init__(self, client: ConsulClient, kv_prefix: str, app: str, stack: str) -> None:
        self._client = client
        self.event = deploy_event(app, stack)
        keys = deploy_keys(kv_prefix, app)
        self.current_key, self.previous_key, self.history_key = \
            keys.current, keys.previous, keys.history
        self._where = client.endpoint.address

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
        """Fire the stack's deploy event carrying the manifest URL; returns the event's ID."""
        event = self.event
        check_event_fits(event, manifest)
        try:
            answer = self._client.fire_event(event, manifest)
        except ConsulError as e:
            if _denied(e):
                raise PointerError(f"Consul at {self._where} refused to fire event "
                                   f"'{event}': the token needs `event \"{event}\" "
                                   f"{{ policy = \"write\" }}` ({e.body})") from e
            raise PointerError(f"could not fire event '{event}' on Consul at "
                               f"{self._where}: {e}") from e
        return str(answer.get("ID", ""))

    def _get(self, key: str) -> tuple[str | None, int]:
        try:
            item = self._client.read_key(key)
        except ConsulError as e:
            if _denied(e):
                raise PointerError(f"Consul at {self._where} refused to read {key}: the token "
                                   f"needs read on that key ({e.body})") from e
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
            entries = json_text.loads(raw)
            if not isinstance(entries, list):
                raise TypeError(f"a JSON {type(entries).__name__}, not a list")
            history = tuple(Release(**entry) for entry in entries)
            if not all(isinstance(v, str) for r in history for v in asdict(r).values()):
                raise TypeError("an entry holds a value that is not a string")
            return history
        except (ValueError, TypeError) as e:
            raise PointerError(f"{self.history_key} does not hold a deploy history (a JSON list "
                               f"of {{release, manifest, at, by}}): {e}; delete the key to "
                               "start a new history") from e

    def _transact(self, ops: list[dict[str, Any]]) -> None:
        try:
            answer = self._client.txn(ops)
        except ConsulError as e:
            if _denied(e):
                raise PointerError(f"Consul at {self._where} refused the pointer write: the "
                                   f"token needs `key_prefix "
                                   f"\"{self.current_key.rsplit('/', 1)[0]}/\" "
                                   f"{{ policy = \"write\" }}` ({e.body})") from e
            if isinstance(e, ConsulHttpError):
                raise PointerError(f"Consul at {self._where} refused the pointer write: HTTP "
                                   f"{e.status}: {e.body}") from e
            raise PointerError(f"could not write the deploy pointer to Consul at "
                               f"{self._where}: {e}") from e
        if answer.status == 409:
            raise PointerConflict(
                f"{self.current_key} changed while this command ran (another deploy or rollback "
                f"got there first); it was left as the other change set it. Check `python -m "
                f"deploy status` and run again. Consul said: "
                f"{self._client.scrub(_errors(answer.body))}"
            )


def check_event_fits(event: str, manifest: str, node_filter: str = "") -> None:
    """PointerError unless ``event`` carrying `manifest` (to the nodes `node_filter` matches)
    fits Serf's 512 encoded bytes."""
    size = encoded_event_size(event, manifest.encode(), node_filter)
    if size > EVENT_SIZE_LIMIT:
        filtered = " with its node filter" if node_filter else ""
        raise PointerError(f"manifest URL {manifest} ({len(manifest.encode())} bytes) makes the "
                           f"encoded '{event}' event {size} bytes{filtered}; Consul allows "
                           f"{EVENT_SIZE_LIMIT}: use a shorter bucket name or --release-id")


def _denied(err: ConsulError) -> TypeGuard[ConsulHttpError]:
    return isinstance(err, ConsulHttpError) and err.status == 403


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
        errors = json_text.loads(str(body)).get("Errors") or []
        return "; ".join(str(e.get("What", e)) for e in errors) or str(body)
    except (ValueError, AttributeError):
        return str(body)[:300]
