"""PreparedQueries: the stack's failover prepared queries, created in Consul by this program.

One dynamic resource per query. It talks to Consul through components/consul_api.py (a small
interface of its own, to move onto the shared client at merge). Create adopts a query of the same
name left by an earlier run, so a lost state never produces a "name already in use" failure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic

from components.consul_api import ConsulApi, ConsulApiError, ConsulEndpoint, endpoint_from
from components.prepared_query_payload import failover_query, query_name

QUERY_TYPE = "pulumi-python:dynamic/consul:PreparedQuery"
# Changing where the query lives is a new query there (and a delete of the old one).
REPLACE_ON = ("address", "datacenter")


class PreparedQueryError(Exception):
    """A prepared query could not be written; the message names the query and the cause."""


def _payload(props: dict[str, Any]) -> dict[str, Any]:
    return failover_query(str(props["service"]), [str(d) for d in props["failoverDatacenters"]])


def _endpoint(props: dict[str, Any]) -> ConsulEndpoint:
    return ConsulEndpoint(str(props["address"]), str(props.get("token") or ""),
                          str(props.get("caCert") or ""), str(props.get("datacenter") or ""))


def _find(api: ConsulApi, name: str) -> str | None:
    """The ID of the query named `name`, if one exists."""
    for query in api.call("GET", "/v1/query") or []:
        if query.get("Name") == name:
            return str(query["ID"])
    return None


def write_query(endpoint: ConsulEndpoint, payload: dict[str, Any], query_id: str | None) -> str:
    """Create or update one query; returns its ID."""
    name = payload["Name"]
    try:
        with ConsulApi(endpoint) as api:
            if query_id is None:
                query_id = _find(api, name)
            if query_id is not None:
                try:
                    api.call("PUT", f"/v1/query/{query_id}", {**payload, "ID": query_id})
                    return query_id
                except ConsulApiError as err:
                    if err.status != 404:
                        raise
            created = api.call("POST", "/v1/query", payload)
            return str(created["ID"])
    except ConsulApiError as err:
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
            with ConsulApi(_endpoint(props)) as api:
                api.call("DELETE", f"/v1/query/{id_}")
        except ConsulApiError as err:
            if err.status != 404:  # already gone is what delete wants
                raise PreparedQueryError(f"deleting prepared query {id_}: {err}") from None

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        try:
            with ConsulApi(_endpoint(props)) as api:
                found = api.call("GET", f"/v1/query/{id_}")
        except ConsulApiError as err:
            if err.status == 404:
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
        endpoint = endpoint_from(args.address, None, args.ca_pem, args.datacenter, os.environ)
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
