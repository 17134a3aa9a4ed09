"""The dynamic provider behind ConsulKv: create/diff/update/delete/read of one prefix's keys.

Pulumi pickles the provider into the stack's state and runs it in its dynamic provider host
(`python -m pulumi.dynamic`), which imports this module by name. Secret values and the ACL token
travel as secret properties; the pickled provider carries neither, nor anything it read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.consul.client import ConsulClient, Endpoint, run_time_token
from components.consul.kv_payload import (
    Drift,
    LiveEntry,
    SyncPlan,
    drift_message,
    entry_problems,
    full_key,
    plan_sync,
    txn_ops,
)
from components.consul.kv_sync import (
    CallFailed,
    ConsulKvError,
    SnapshotKey,
    Snapshots,
    adopt,
    apply_chunks,
    confirm_gone,
    read_live,
    read_prefix,
)
from components.provider_errors import one_line_failures

ENTRIES_TYPE = "pulumi-python:dynamic/consul:KvEntries"
# Properties whose whole value is secret, in inputs, outputs and state.
SECRET_PROPERTIES = ("secretValues", "token")


def _map(value: Any) -> dict[str, Any]:
    # A map still unknown during a preview arrives as a sentinel string: read it as empty.
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _values(props: Mapping[str, Any]) -> dict[str, str]:
    return {**_map(props.get("values")), **_map(props.get("secretValues"))}


def _token(props: Mapping[str, Any]) -> str:
    return run_time_token(props.get("token"), os.environ)


def _secrets(props: Mapping[str, Any]) -> list[str]:
    return [str(v) for v in _map(props.get("secretValues")).values()] + [_token(props)]


def _client(props: Mapping[str, Any], *also: Mapping[str, Any]) -> ConsulClient:
    """A client for the Consul `props` name, scrubbing their secrets (and those of `also`)."""
    endpoint = Endpoint(str(props["address"]), str(props.get("datacenter") or ""),
                        str(props.get("caCert") or ""), _token(props))
    return ConsulClient(endpoint, secrets=[s for p in (props, *also) for s in _secrets(p)])


def _recorded(props: Mapping[str, Any]) -> dict[str, int]:
    # State round-trips numbers as doubles (2.0); Consul wants an integer Index.
    return {str(k): int(v) for k, v in dict(props.get("indexes") or {}).items()}


def _outputs(props: Mapping[str, Any], indexes: Mapping[str, int]) -> dict[str, Any]:
    out = {k: props.get(k) for k in ("prefix", "address", "datacenter", "caCert", "token",
                                      "values", "secretValues")}
    out["indexes"] = dict(sorted(indexes.items()))
    return out


def _snapshot_key(props: Mapping[str, Any]) -> SnapshotKey:
    return (str(props["address"]), str(props.get("datacenter") or ""), str(props["prefix"]))


def _note(message: str) -> None:
    # The engine shows a dynamic provider's stderr to the user.
    print(f"consul-kv: {message}", file=sys.stderr)


def _adopted(prefix: str, desired: Mapping[str, str], previous: Mapping[str, str],
             recorded: Mapping[str, int], live: Mapping[str, LiveEntry]
             ) -> tuple[dict[str, str], dict[str, int]]:
    owned_values, owned_indexes, adopted = adopt(desired, previous, recorded, live)
    if adopted:
        _note(f"adopted {len(adopted)} keys under {prefix}/ that already held the configured "
              f"state (left by an earlier run cut short): {', '.join(adopted)}")
    return owned_values, owned_indexes


def _checked(client: ConsulClient, prefix: str, plan: SyncPlan) -> SyncPlan:
    """`plan`, unless keys changed under this stack: then nothing is written."""
    if plan.drift:
        raise ConsulKvError(client.scrub(
            f"Consul KV at {client.endpoint.where()}: not writing under {prefix}/, where keys "
            f"are not as this stack left them:\n{drift_message(prefix, plan.drift)}"))
    return plan


class ConsulKvProvider(dynamic.ResourceProvider):
    """CRUD for one prefix's keys.

    The reads a diff makes are kept on the provider object for the update that follows: the host
    keeps one provider object per pickled provider for the whole `pulumi up`.
    """

    def __getstate__(self) -> None:
        # Pickled as the bare class: what the provider read (secret values too) stays in memory.
        return None

    def configure(self, _req: dynamic.ConfigureRequest) -> None:
        one_line_failures()  # a Consul failure reads as one line in `up`, not a traceback

    def _snapshots(self) -> Snapshots:
        # Created on first use: unpickling skips __init__, and state written before the reads
        # were kept holds providers pickled without any attribute.
        kept = vars(self).get("snapshots")
        if not isinstance(kept, Snapshots):
            kept = self.snapshots = Snapshots()
        return kept

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
        desired = _values(props)
        with _client(props) as client:
            try:
                live = read_prefix(client, prefix)
            except CallFailed as err:
                first = full_key(prefix, min(desired)) if desired else prefix + "/"
                raise ConsulKvError(client.scrub(
                    f"Consul KV write to {client.endpoint.where()} failed at key {first}: "
                    f"reading {prefix}/ first: {err}. Nothing was written.")) from None
            # A create cut short earlier (its rollback too) left keys this one adopts.
            previous, recorded = _adopted(prefix, desired, {}, {}, live)
            plan = _checked(client, prefix, plan_sync(desired, previous, recorded, live))
            before = {full_key(prefix, k): live.get(k) for k in desired}
            written = apply_chunks(client, prefix, txn_ops(prefix, plan), before)
        indexes = dict(plan.unchanged_indexes)
        indexes.update({w.key: written[full_key(prefix, w.key)] for w in plan.writes})
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
        with _client(news) as client:
            try:
                live: dict[str, LiveEntry] | None = read_prefix(client, str(news["prefix"]))
            except CallFailed as err:
                _note(client.scrub(f"could not read {news['prefix']}/ to look for drift: {err}"))
                live = None
        if live is not None:
            self._snapshots().keep(_snapshot_key(news), live)
            owned = adopt(_values(news), _values(olds), _recorded(olds), live)
            drift = list(plan_sync(_values(news), owned[0], owned[1], live).drift)
            if drift:
                _note("drift under " + str(news["prefix"]) + "/:\n"
                      + drift_message(str(news["prefix"]), drift))
        return dynamic.DiffResult(changes=changed or bool(drift), replaces=[],
                                  delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        prefix = str(news["prefix"])
        previous = _values(olds)
        recorded = _recorded(olds)
        with _client(news, olds) as client:
            live = self._snapshots().take(_snapshot_key(news))
            if live is None:
                live = read_live(client, prefix)
            # An update cut short earlier (its rollback too) left keys this one adopts.
            previous, recorded = _adopted(prefix, _values(news), previous, recorded, live)
            plan = _checked(client, prefix, plan_sync(_values(news), previous, recorded, live))
            before = {full_key(prefix, k): live.get(k) for k in {*recorded, *_values(news)}}
            written = apply_chunks(client, prefix, txn_ops(prefix, plan), before)
        indexes = dict(plan.unchanged_indexes)
        indexes.update({w.key: written[full_key(prefix, w.key)] for w in plan.writes})
        return dynamic.UpdateResult(_outputs(news, indexes))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        prefix = str(props["prefix"])
        recorded = _recorded(props)
        if not recorded:
            return
        with _client(props) as client:
            live = read_live(client, prefix)
            # A token that may not read the prefix sees it empty: never report that as deleted.
            live.update(confirm_gone(client, prefix, [k for k in recorded if k not in live]))
            plan = plan_sync({}, _values(props), recorded, live)
            # A key already gone is what delete wants; a key changed under us is not ours to drop.
            changed = [d for d in plan.drift if d.kind == "changed"]
            if changed:
                raise ConsulKvError(client.scrub(
                    f"Consul KV at {client.endpoint.where()}: not deleting keys under {prefix}/ "
                    f"that changed since this stack wrote them:\n{drift_message(prefix, changed)}"))
            gone = {full_key(prefix, d.key) for d in plan.drift if d.kind == "deleted"}
            ops = [op for op in txn_ops(prefix, plan) if op["KV"]["Key"] not in gone]
            before = {full_key(prefix, k): live.get(k) for k in recorded}
            apply_chunks(client, prefix, ops, before)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        prefix = str(props["prefix"])
        recorded = _recorded(props)
        with _client(props) as client:
            live = read_live(client, prefix)
            # Refresh must not drop from state keys that a token without read merely cannot see.
            live.update(confirm_gone(client, prefix, [k for k in recorded if k not in live]))
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
