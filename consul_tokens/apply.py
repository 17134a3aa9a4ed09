"""Creates or updates one policy and its token in Consul; running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.consul_client import ConsulClient, ConsulError, ConsulHttpError
from consul_tokens.rules import TokenSpec


class ForeignToken(ConsulError):
    """A token carries the description this command gives its own, but other grants: reusing
    it would hand the stack more (or other) rights than its policy says."""


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


def _extra_grants(token: dict[str, Any], policy_id: str) -> list[str]:
    """What the token carries besides exactly this one policy (names, for the message)."""
    extra = [f"policy {p.get('Name') or p.get('ID')}" for p in token.get("Policies") or []
             if p.get("ID") != policy_id]
    if not any(p.get("ID") == policy_id for p in token.get("Policies") or []):
        extra.append("(and not its own policy)")
    extra += [f"role {r.get('Name') or r.get('ID')}" for r in token.get("Roles") or []]
    extra += [f"service identity {i.get('ServiceName')}"
              for i in token.get("ServiceIdentities") or []]
    extra += [f"node identity {i.get('NodeName')}" for i in token.get("NodeIdentities") or []]
    return extra


def ensure(api: ConsulClient, spec: TokenSpec) -> Ensured:
    policy_id, policy_state = _policy(api, spec)
    # Every token, not only those linked to the policy: one that lost its policy is found too.
    tokens = api.call_json("GET", "/v1/acl/tokens") or []
    mine = [t for t in tokens if t.get("Description") == spec.description]
    for found in mine:
        extra = _extra_grants(found, policy_id)
        if extra:
            accessor = found.get("AccessorID")
            raise ForeignToken(
                f"token {accessor} ({spec.description}) carries {', '.join(extra)} besides "
                f"policy {spec.policy_name}: not reusing it; remove the extra grants, or delete "
                f"it with `consul acl token delete -id {accessor}` and run again")
    if mine:
        token = api.call_json("GET", f"/v1/acl/token/{mine[0]['AccessorID']}")
        state = "found"
    else:
        token = api.call_json("PUT", "/v1/acl/token", {"Description": spec.description,
                                                       "Policies": [{"ID": policy_id}]})
        state = "created"
    return Ensured(spec, str(token["AccessorID"]), str(token["SecretID"]), policy_state, state)
