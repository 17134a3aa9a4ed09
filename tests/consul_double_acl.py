"""ACLs for the Consul double: policies and tokens over /v1/acl/*, and the rules of the tokens it
issues enforced on KV, txn, events, health, catalog and prepared queries.

Rules are Consul's HCL form, the subset a policy written as `<resource>[_prefix] "<segment>"
{ policy = "read|write|deny" }` uses. Matching is Consul's: an exact rule wins over prefix rules,
the longest prefix wins among those, anything unmatched is denied (default_policy = "deny"),
and write implies read.

    with ConsulDouble(token=MANAGEMENT) as consul:
        consul.acl = AclStore()
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from tests.consul_double import WRITE_VERBS, RecordedRequest, Reply, sent_token

RULE = re.compile(r'(\w+?)(_prefix)?\s+"([^"]*)"\s*\{\s*policy\s*=\s*"(read|write|deny)"\s*\}')
ORDER = {"deny": 0, "read": 1, "write": 2}
# The ID of Consul's built-in management policy.
GLOBAL_MANAGEMENT = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True)
class Rule:
    resource: str
    segment: str
    prefix: bool
    policy: str


def parse_rules(text: str) -> list[Rule]:
    """The rules of one policy; anything outside the supported form is an error, as in Consul."""
    rules = [Rule(m[1], m[3], bool(m[2]), m[4]) for m in RULE.finditer(text)]
    leftover = RULE.sub("", text).strip()
    if leftover:
        raise ValueError(f"Failed to parse ACL rules: unexpected {leftover[:40]!r}")
    return rules


class Rules:
    """What one token may do: the union of its policies' rules."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def allows(self, resource: str, name: str, access: str) -> bool:
        exact = [r for r in self.rules if r.resource == resource and not r.prefix
                 and r.segment == name]
        prefixed = sorted((r for r in self.rules if r.resource == resource and r.prefix
                           and name.startswith(r.segment)), key=lambda r: -len(r.segment))
        chosen = exact or prefixed[:1]
        if not chosen:
            return False
        granted = max(ORDER[r.policy] for r in chosen) if not any(
            r.policy == "deny" for r in chosen) else 0
        return granted >= ORDER[access]


def _denied(resource: str, access: str, name: str) -> Reply:
    return Reply(403, f"Permission denied: token lacks permission '{resource}:{access}' on "
                      f"{json.dumps(name)}")


class AclStore:
    """Policies and tokens, as Consul's ACL endpoints keep them."""

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}

    # -- what an issued token may do -------------------------------------------------------------

    def rules_for(self, secret: str) -> Rules | None:
        for token in self.tokens.values():
            if token["SecretID"] == secret:
                rules: list[Rule] = []
                for link in token["Policies"]:
                    rules += parse_rules(self.policies[link["ID"]]["Rules"])
                return Rules(rules)
        return None

    def enforce(self, req: RecordedRequest, rules: Rules) -> None:
        """Raise the answer Consul gives when `rules` do not cover the request."""
        path, method = req.path, req.method
        if path.startswith("/v1/kv/"):
            key = path[len("/v1/kv/"):]
            access = "read" if method == "GET" else "write"
            if method == "GET" and "recurse" in req.query and not rules.allows("key", key, access):
                # Consul filters a listing by the token's ACL (per key; here: per prefix), and
                # an all-filtered listing is an empty 404, not a 403.
                raise Reply(404, b"")
            if not rules.allows("key", key, access):
                raise _denied("key", access, key)
        elif path == "/v1/txn":
            errors = []
            for i, op in enumerate(json.loads(req.body or b"[]")):
                kv = op.get("KV") or {}
                access = "write" if kv.get("Verb") in WRITE_VERBS else "read"
                if not rules.allows("key", kv.get("Key", ""), access):
                    errors.append({"OpIndex": i, "What": f"Permission denied: token lacks "
                                   f"permission 'key:{access}' on {json.dumps(kv.get('Key'))}"})
            if errors:
                raise Reply(409, {"Results": None, "Errors": errors}, as_json=True)
        elif path.startswith("/v1/event/fire/"):
            name = path[len("/v1/event/fire/"):]
            if not rules.allows("event", name, "write"):
                raise _denied("event", "write", name)
        elif path.startswith("/v1/health/node/"):
            node = path[len("/v1/health/node/"):]
            if not rules.allows("node", node, "read"):
                raise _denied("node", "read", node)
        elif path.startswith("/v1/health/service/"):
            service = path[len("/v1/health/service/"):]
            if not rules.allows("service", service, "read"):
                raise _denied("service", "read", service)
        elif path == "/v1/catalog/register":
            body = json.loads(req.body or b"{}")
            if not rules.allows("node", body.get("Node", ""), "write"):
                raise _denied("node", "write", body.get("Node", ""))
            service = (body.get("Service") or {}).get("Service")
            if service is not None and not rules.allows("service", service, "write"):
                raise _denied("service", "write", service)
        elif path.startswith("/v1/query") and method in ("POST", "PUT"):
            body = json.loads(req.body or b"{}")
            name = body.get("Name", "")
            if not rules.allows("query", name, "write"):
                raise _denied("query", "write", name)
            service = (body.get("Service") or {}).get("Service", "")
            if not rules.allows("service", service, "read"):
                raise _denied("service", "read", service)
        elif path.startswith("/v1/acl/") and path != "/v1/acl/token/self":
            # Any valid token may read itself; everything else under /v1/acl needs acl rules.
            raise _denied("acl", "read" if method == "GET" else "write", "")

    # -- /v1/acl/* (management token only) -------------------------------------------------------

    def handle(self, req: RecordedRequest, denied: bool) -> Reply | None:
        if not req.path.startswith("/v1/acl/"):
            return None
        if denied:
            raise Reply(403, "Permission denied: anonymous token lacks permission 'acl:read'")
        if req.path == "/v1/acl/token/self":
            secret = sent_token(req)
            mine = [t for t in self.tokens.values() if t["SecretID"] == secret]
            return Reply(200, mine[0] if mine else {"SecretID": secret, "Policies": [
                {"ID": GLOBAL_MANAGEMENT, "Name": "global-management"}]}, as_json=True)
        parts = req.path[len("/v1/acl/"):].split("/")
        body = json.loads(req.body or b"{}") if req.method == "PUT" else {}
        if parts[0] == "policy":
            return self._policy(req.method, parts[1:], body)
        if parts == ["policies"]:
            return Reply(200, list(self.policies.values()), as_json=True)
        if parts[0] == "token":
            return self._token(req.method, parts[1:], body)
        if parts == ["tokens"]:
            wanted = (req.query.get("policy") or [""])[0]
            found = [dict(t) for t in self.tokens.values()
                     if not wanted or any(p["ID"] == wanted for p in t["Policies"])]
            return Reply(200, found, as_json=True)
        raise Reply(404, f"Invalid URL path: not a recognized HTTP API endpoint: {req.path}")

    def _policy(self, method: str, rest: list[str], body: dict[str, Any]) -> Reply:
        if rest[:1] == ["name"] and method == "GET":
            for policy in self.policies.values():
                if policy["Name"] == rest[1]:
                    return Reply(200, policy, as_json=True)
            raise Reply(403, "ACL not found")  # what Consul answers for an unknown policy name
        if method == "GET" and rest:
            if rest[0] not in self.policies:
                raise Reply(403, "ACL not found")
            return Reply(200, self.policies[rest[0]], as_json=True)
        if method != "PUT":
            raise Reply(405, f"method {method} not allowed")
        try:
            parse_rules(body.get("Rules", ""))
        except ValueError as err:
            raise Reply(500, str(err)) from None
        policy_id = rest[0] if rest else str(uuid.uuid4())
        clash = [p for p in self.policies.values()
                 if p["Name"] == body.get("Name") and p["ID"] != policy_id]
        if clash:
            raise Reply(500, f"Invalid Policy: A Policy with Name {body.get('Name')!r} "
                             "already exists")
        if rest and policy_id not in self.policies:
            raise Reply(403, "ACL not found")
        self.policies[policy_id] = {"ID": policy_id, "Name": body["Name"],
                                    "Description": body.get("Description", ""),
                                    "Rules": body.get("Rules", "")}
        return Reply(200, self.policies[policy_id], as_json=True)

    def _token(self, method: str, rest: list[str], body: dict[str, Any]) -> Reply:
        if method == "GET":
            if not rest or rest[0] not in self.tokens:
                raise Reply(403, "ACL not found")
            return Reply(200, self.tokens[rest[0]], as_json=True)
        if method != "PUT":
            raise Reply(405, f"method {method} not allowed")
        links = []
        for link in body.get("Policies") or []:
            found = [p for p in self.policies.values()
                     if p["ID"] == link.get("ID") or p["Name"] == link.get("Name")]
            if not found:
                raise Reply(400, f"cannot find policy {link}")
            links.append({"ID": found[0]["ID"], "Name": found[0]["Name"]})
        accessor = rest[0] if rest else str(uuid.uuid4())
        old = self.tokens.get(accessor)
        if rest and old is None:
            raise Reply(403, "ACL not found")
        self.tokens[accessor] = {
            "AccessorID": accessor,
            "SecretID": old["SecretID"] if old else str(uuid.uuid4()),
            "Description": body.get("Description", ""),
            "Policies": links,
            "Local": bool(body.get("Local", False)),
        }
        return Reply(200, self.tokens[accessor], as_json=True)
