"""An in-memory stand-in for components.consul_client.ConsulClient, for unit tests only.

It offers the methods the deploy modules call (read_key, read_tree, put_key, delete_key,
fire_event, service_health) with Consul's semantics for them: ModifyIndex grows on each write,
cas=0 writes only an absent key, cas=N only a key still at index N. `fail[method] = error` makes
that method raise, as the real client raises ConsulError/ConsulHttpError. No HTTP, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FakeConsul:
    def __init__(self) -> None:
        self.kv: dict[str, tuple[bytes, int]] = {}
        self.index = 10
        self.events: list[tuple[str, str, str | None]] = []
        self.health: list[dict[str, Any]] = []
        self.fail: dict[str, Exception] = {}
        self.put_answer: bool | None = None
        """When set, put_key answers this without writing (a CAS Consul refused)."""

    def _check(self, method: str) -> None:
        if method in self.fail:
            raise self.fail[method]

    def set(self, key: str, value: str | bytes) -> int:
        self.index += 1
        self.kv[key] = (value.encode() if isinstance(value, str) else value, self.index)
        return self.index

    def read_key(self, key: str) -> dict[str, Any] | None:
        self._check("read_key")
        if key not in self.kv:
            return None
        value, index = self.kv[key]
        return {"Key": key, "Value": value, "ModifyIndex": index}

    def read_tree(self, prefix: str) -> list[dict[str, Any]]:
        self._check("read_tree")
        base = prefix.strip("/") + "/"
        return [{"Key": k, "Value": v, "ModifyIndex": i}
                for k, (v, i) in sorted(self.kv.items()) if k.startswith(base)]

    def put_key(self, key: str, value: str, cas: int | None = None) -> bool:
        self._check("put_key")
        if self.put_answer is not None:
            return self.put_answer
        current = self.kv.get(key)
        if cas is not None and (current[1] if current else 0) != cas:
            return False
        self.set(key, value)
        return True

    def delete_key(self, key: str, cas: int | None = None) -> bool:
        self._check("delete_key")
        current = self.kv.get(key)
        if cas is not None and (current is None or current[1] != cas):
            return False
        self.kv.pop(key, None)
        return True

    def fire_event(self, name: str, payload: str, node_filter: str | None = None
                   ) -> dict[str, Any]:
        self._check("fire_event")
        self.events.append((name, payload, node_filter))
        return {"ID": f"ev-{len(self.events)}"}

    def service_health(self, service: str, node_meta: Mapping[str, str] | None = None
                       ) -> list[dict[str, Any]]:
        # Consul's `node-meta` filter: only nodes whose Meta holds every key:value asked for.
        self._check("service_health")
        self.service_asked = service
        wanted = (node_meta or {}).items()
        return [e for e in self.health
                if all((e.get("Node", {}).get("Meta") or {}).get(k) == v for k, v in wanted)]
