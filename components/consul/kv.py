"""The stack's Consul KV entries as a Pulumi component: keys under one prefix, owned by the stack.

`ConsulKv` owns a set of keys under one prefix (app/<stack>/…) through one dynamic resource
(components/consul/kv_provider.py). Writes are all-or-nothing and check-and-set on the
ModifyIndex this stack last wrote (components/consul/kv_sync.py), so a value changed outside
Pulumi stops the update instead of being overwritten; delete removes only the keys the resource
wrote. Secret values and the ACL token stay secret end to end.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.consul.client import ConsulConnection, resolve_connection
from components.consul.kv_payload import entry_problems, full_key
from components.consul.kv_provider import SECRET_PROPERTIES, KvEntries

__all__ = ["ConsulConnection", "ConsulKv", "ConsulKvArgs", "split_entries"]


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
