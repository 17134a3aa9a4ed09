"""PreparedQueries: the stack's failover prepared queries, created in Consul by this program.

One dynamic resource per query, talking to Consul through the shared client
(components/consul/client.py). Create adopts a query of the same name left by an earlier run, so a
lost state never produces a "name already in use" failure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic

from components.consul.client import (
    ConsulClient,
    ConsulConnection,
    ConsulError,
    ConsulHttpError,
    Endpoint,
    resolve_connection,
    run_time_token,
)
from components.consul.prepared_query_payload import failover_query, query_name

QUERY_TYPE = "pulumi-python:dynamic/consul:PreparedQuery"
# Changing where the query lives is a new query there (and a delete of the old one).
REPLACE_ON = ("address", "datacenter")


class PreparedQueryError(Exception):
    """A prepared query could not be written; the message names the query and the cause."""


def _payload(props: dict[str, Any]) -> dict[str, Any]:
    return failover_query(str(props["service"]), [str(d) for d in props["failoverDatacenters"]])


def _endpoint(props: dict[str, Any]) -> Endpoint:
    return Endpoint(str(props["address"]), str(props.get("datacenter") or ""),
                    str(props.get("caCert") or ""), run_time_token(props.get("token"), os.environ))


# Consul reads a missing query as 404, but refuses to update or delete one with a 500 whose body
# says so (agent/consul/prepared_query_endpoint.go; measured on 1.14.11 in
# tests/consul_agent/test_prepared_query_agent.py).
_GONE = "Cannot modify non-existent prepared query"


def _missing(err: ConsulError) -> bool:
    """Whether Consul said the query does not exist (any other error is a real failure)."""
    return isinstance(err, ConsulHttpError) and (
        err.status == 404 or (err.status == 500 and _GONE in err.body))


def _find(client: ConsulClient, name: str) -> str | None:
    """The ID of the query named `name`, if one exists."""
    for query in client.call_json("GET", "/v1/query") or []:
        if query.get("Name") == name:
            return str(query["ID"])
    return None


def write_query(endpoint: Endpoint, payload: dict[str, Any], query_id: str | None) -> str:
    """Create or update one query; returns its ID."""
    name = payload["Name"]
    try:
        with ConsulClient(endpoint) as client:
            if query_id is None:
                query_id = _find(client, name)
            if query_id is not None:
                try:
                    client.call_json("PUT", f"/v1/query/{query_id}", {**payload, "ID": query_id})
                    return query_id
                except ConsulError as err:
                    if not _missing(err):
                        raise
            created = client.call_json("POST", "/v1/query", payload)
            return str(created["ID"])
    except ConsulError as err:
        raise PreparedQueryError(f"prepared query {name!r} at {endpoint.address}: {err}. "
                                 "The token needs `query` write on this name and `service` "
                                 "read on its service (python -m consul_tokens)") from None


class PreparedQueryProvider(dynamic.ResourceProvider):
    """CRUD of one prepared query over the HTTP API."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        query_id = write_query(_endpoint(props), _payload(props), None)
        return dynamic.CreateResult(query_id, {**props, "queryId": query_id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in ("name", "service", "failoverDatacenters", *REPLACE_ON, "token",
                               "caCert")
                   if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed),
                                  replaces=[k for k in changed if k in REPLACE_ON],
                                  delete_before_replace=False)

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]
               ) -> dynamic.UpdateResult:
        query_id = write_query(_endpoint(news), _payload(news), id_)
        return dynamic.UpdateResult({**news, "queryId": query_id})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            with ConsulClient(_endpoint(props)) as client:
                client.call_json("DELETE", f"/v1/query/{id_}")
        except ConsulError as err:
            if not _missing(err):  # already gone is what delete wants
                raise PreparedQueryError(f"deleting prepared query {id_}: {err}") from None

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        try:
            with ConsulClient(_endpoint(props)) as client:
                found = client.call_json("GET", f"/v1/query/{id_}")
        except ConsulError as err:
            if _missing(err):
                return dynamic.ReadResult("", {})  # deleted out of band: recreate on next up
            raise PreparedQueryError(f"reading prepared query {id_}: {err}") from None
        live = found[0]
        service = live.get("Service") or {}
        return dynamic.ReadResult(id_, {
            **props, "name": live.get("Name", ""), "service": service.get("Service", ""),
            "failoverDatacenters": (service.get("Failover") or {}).get("Datacenters") or []})


class PreparedQuery(dynamic.Resource, module="consul", name="PreparedQuery"):
    """One prepared query in Consul."""

    # camelCase: dynamic resources expose each property under its name in state.
    queryId: pulumi.Output[str]
    """The query's ID in Consul."""

    def __init__(self, name: str, props: dict[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PreparedQueryProvider(), name, {**props, "queryId": None}, opts)


@dataclass(frozen=True)
class PreparedQueriesArgs:
    services: Sequence[str]
    """Services that fail over, one query each."""
    peers: Sequence[str]
    """Datacenters to fail over to, in order."""
    datacenter: str
    address: str | None
    """Consul HTTP API the program writes through (else CONSUL_HTTP_ADDR)."""
    token: pulumi.Input[str] | None
    ca_pem: str | None


class PreparedQueries(pulumi.ComponentResource):
    query_ids: pulumi.Output[dict[str, str]]
    """Query name -> ID in Consul."""

    def __init__(self, name: str, args: PreparedQueriesArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:prepared_query:PreparedQueries", name, None, opts)
        endpoint = resolve_connection(ConsulConnection(
            address=args.address, datacenter=args.datacenter, ca_cert=args.ca_pem), os.environ)
        ids: dict[str, pulumi.Output[str]] = {}
        for service in args.services:
            query = PreparedQuery(f"{name}-{service}", {
                # Flat, so the plan shows what the query does; the provider builds the payload.
                "name": query_name(service),
                "service": service,
                "failoverDatacenters": list(args.peers),
                "address": endpoint.address,
                "datacenter": endpoint.datacenter,
                "caCert": endpoint.ca_pem,
                "token": pulumi.Output.secret(args.token) if args.token is not None else None,
            }, opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["token"]))
            ids[query_name(service)] = query.queryId
        self.query_ids = pulumi.Output.all(**ids).apply(dict) if ids else \
            pulumi.Output.from_input({})
        self.register_outputs({"queryIds": self.query_ids})
