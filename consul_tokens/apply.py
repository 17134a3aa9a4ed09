"""Creates or updates one policy and its token in Consul; running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.consul.client import ConsulClient, ConsulError, ConsulHttpError
from consul_tokens.rules import TokenSpec


@dataclass(frozen=True)
class Ensured:
    spec: TokenSpec
    accessor_id: str
    secret_id: str = field(repr=False)
    policy: str
    """created, updated or unchanged"""
    token: str
    """created or found"""


def _missing(err: ConsulError) -> bool:
    # Consul answers an unknown policy name with 403 "ACL not found" (404 on some versions).
    return isinstance(err, ConsulHttpError) and (
        err.status == 404 or (err.status == 403 and "ACL not found" in err.body))


def _policy(api: ConsulClient, spec: TokenSpec) -> tuple[str, str]:
    body = {"Name": spec.policy_name, "Description": spec.description, "Rules": spec.rules}
    try:
        found: dict[str, Any] | None = api.call_json(
            "GET", f"/v1/acl/policy/name/{spec.policy_name}")
    except ConsulError as err:
        if not _missing(err):
            raise
        found = None
    if found is None:
        return str(api.call_json("PUT", "/v1/acl/policy", body)["ID"]), "created"
    if found.get("Rules") == spec.rules:
        return str(found["ID"]), "unchanged"
    api.call_json("PUT", f"/v1/acl/policy/{found['ID']}", body)
    return str(found["ID"]), "updated"


def ensure(api: ConsulClient, spec: TokenSpec) -> Ensured:
    policy_id, policy_state = _policy(api, spec)
    tokens = api.call_json("GET", "/v1/acl/tokens", params=[("policy", policy_id)]) or []
    mine = [t for t in tokens if t.get("Description") == spec.description]
    if mine:
        token = api.call_json("GET", f"/v1/acl/token/{mine[0]['AccessorID']}")
        state = "found"
    else:
        token = api.call_json("PUT", "/v1/acl/token", {"Description": spec.description,
                                                       "Policies": [{"ID": policy_id}]})
        state = "created"
    return Ensured(spec, str(token["AccessorID"]), str(token["SecretID"]), policy_state, state)
