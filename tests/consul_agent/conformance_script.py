"""One script of Consul HTTP requests: every endpoint and every error the program uses
(components/consul/client.py, kv_sync.py, prepared_query.py, deploy/, consul_tokens/), each
observed as the program reads it: the status and the parts of the body it looks at.

tests/consul_agent/test_conformance.py runs it against a real Consul 1.14.11 agent and against
the HTTP double (tests/consul_double.py) and compares the two, step by step.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

Observed = tuple[int, Any]


@dataclass
class Target:
    """A Consul (agent or double) reached over HTTP with a management token."""

    address: str
    token: str = field(repr=False)
    verify: str | bool = True
    seen: dict[str, Observed] = field(default_factory=dict)

    def send(self, method: str, path: str, token: str | None = None, **kwargs: Any
             ) -> requests.Response:
        sent = self.token if token is None else token
        headers = {"X-Consul-Token": sent} if sent else {}
        return requests.request(method, self.address + path, headers=headers, timeout=10,
                                verify=self.verify, **kwargs)

    def note(self, step: str, response: requests.Response,
             read: Callable[[requests.Response], Any]) -> requests.Response:
        self.seen[step] = (response.status_code, read(response))
        return response

    def step(self, step: str, method: str, path: str,
             read: Callable[[requests.Response], Any], **kwargs: Any) -> requests.Response:
        return self.note(step, self.send(method, path, **kwargs), read)


# --- what the program reads of an answer ---------------------------------------------------------

def nothing(_: requests.Response) -> None:
    return None


def body_json(r: requests.Response) -> Any:
    return r.json() if r.text.strip() else None


def text(r: requests.Response) -> str:
    return r.text.strip()


def first_words(r: requests.Response) -> str:
    """The start of an error body: what a one-line error repeats and callers match on."""
    return " ".join(r.text.split()[:3])


def before_colon(r: requests.Response) -> str:
    """An error without the ID it ends with (what components/consul/prepared_query.py matches)."""
    return r.text.strip().rsplit(":", 1)[0]


def entries(r: requests.Response) -> Any:
    """A KV read as ConsulClient._entries keeps it: key, decoded value, flags, index present."""
    if r.status_code != 200:
        return text(r)
    return [(e["Key"], base64.b64decode(e["Value"]).decode() if e.get("Value") else None,
             e.get("Flags"), isinstance(e.get("ModifyIndex"), int)) for e in r.json()]


def txn_answer(r: requests.Response) -> Any:
    """kv_payload.result_indexes / kv_sync.apply_txn / pointer._errors read these."""
    if r.status_code not in (200, 409):
        return first_words(r)
    body = r.json()
    results = [(x["KV"]["Key"], isinstance(x["KV"].get("ModifyIndex"), int))
               for x in body.get("Results") or []]
    errors = [(e["OpIndex"], " ".join(e["What"].split()[:2])) for e in body.get("Errors") or []]
    return results, errors


def count_results(r: requests.Response) -> Any:
    return len(r.json()["Results"]) if r.status_code == 200 else first_words(r)


def event(r: requests.Response) -> Any:
    if r.status_code != 200:
        return first_words(r)
    e = r.json()
    return (e["Name"], base64.b64decode(e["Payload"]).decode() if e.get("Payload") else None,
            e.get("NodeFilter"), bool(e.get("ID")))


def query_list(r: requests.Response) -> Any:
    return [q.get("Name") for q in r.json()] if r.status_code == 200 else first_words(r)


def query_one(r: requests.Response) -> Any:
    if r.status_code != 200:
        return first_words(r)
    q = r.json()[0]
    service = q.get("Service") or {}
    return (q.get("Name"), service.get("Service"),
            (service.get("Failover") or {}).get("Datacenters"), service.get("OnlyPassing"))


def has_id(r: requests.Response) -> Any:
    return bool(r.json().get("ID")) if r.status_code == 200 else first_words(r)


def token_view(r: requests.Response) -> Any:
    if r.status_code != 200:
        return first_words(r)
    t = r.json()
    return (t.get("Description"), [p.get("Name") for p in t.get("Policies") or []],
            bool(t.get("AccessorID")), bool(t.get("SecretID")))


def policy_view(r: requests.Response) -> Any:
    if r.status_code != 200:
        return first_words(r)
    return r.json().get("Name"), r.json().get("Rules"), bool(r.json().get("ID"))


# --- the script ----------------------------------------------------------------------------------

def kv_script(c: Target, prefix: str) -> None:
    c.step("kv put", "PUT", f"/v1/kv/{prefix}/a", body_json, data=b"one")
    got = c.step("kv get", "GET", f"/v1/kv/{prefix}/a", entries)
    index = got.json()[0]["ModifyIndex"]
    c.step("kv get raw", "GET", f"/v1/kv/{prefix}/a", text, params={"raw": ""})
    c.step("kv get missing", "GET", f"/v1/kv/{prefix}/missing", text)
    c.step("kv recurse", "GET", f"/v1/kv/{prefix}/", entries, params={"recurse": "1"})
    c.step("kv recurse empty", "GET", f"/v1/kv/{prefix}-none/", entries,
           params={"recurse": "1"})
    c.step("kv cas stale", "PUT", f"/v1/kv/{prefix}/a", body_json, data=b"two",
           params={"cas": str(index - 1)})
    c.step("kv cas current", "PUT", f"/v1/kv/{prefix}/a", body_json, data=b"two",
           params={"cas": str(index)})
    c.step("kv cas 0 absent", "PUT", f"/v1/kv/{prefix}/lock", body_json, data=b"me",
           params={"cas": "0"})
    c.step("kv cas 0 present", "PUT", f"/v1/kv/{prefix}/lock", body_json, data=b"you",
           params={"cas": "0"})
    lock_index = c.send("GET", f"/v1/kv/{prefix}/lock").json()[0]["ModifyIndex"]
    c.step("kv delete cas stale", "DELETE", f"/v1/kv/{prefix}/lock", body_json,
           params={"cas": str(lock_index - 1)})
    c.step("kv delete cas", "DELETE", f"/v1/kv/{prefix}/lock", body_json,
           params={"cas": str(lock_index)})
    c.step("kv delete missing", "DELETE", f"/v1/kv/{prefix}/never", body_json)
    c.step("kv empty value", "PUT", f"/v1/kv/{prefix}/empty", body_json, data=b"")
    c.step("kv get empty value", "GET", f"/v1/kv/{prefix}/empty", entries)


def acl_script(c: Target, prefix: str, reader: str, stranger: str) -> None:
    c.step("kv put anonymous", "PUT", f"/v1/kv/{prefix}/a", first_words, token="", data=b"x")
    c.step("kv get anonymous", "GET", f"/v1/kv/{prefix}/a", first_words, token="")
    c.step("kv get unknown token", "GET", f"/v1/kv/{prefix}/a", first_words,
           token=str(uuid.uuid4()))
    c.step("kv get reader", "GET", f"/v1/kv/{prefix}/a", entries, token=reader)
    c.step("kv put reader", "PUT", f"/v1/kv/{prefix}/a", first_words, token=reader, data=b"x")
    c.step("kv recurse reader", "GET", f"/v1/kv/{prefix}/", entries, token=reader,
           params={"recurse": "1"})
    # A valid token without read on the prefix: the listing is filtered to an empty 404, a read
    # of one key is refused (what kv_sync.confirm_gone relies on).
    c.step("kv recurse stranger", "GET", f"/v1/kv/{prefix}/", entries, token=stranger,
           params={"recurse": "1"})
    c.step("kv get stranger", "GET", f"/v1/kv/{prefix}/a", first_words, token=stranger)
    c.step("kv get stranger missing", "GET", f"/v1/kv/{prefix}/missing", first_words,
           token=stranger)
    c.step("txn reader write", "PUT", "/v1/txn", txn_answer, token=reader, data=json.dumps(
        [{"KV": {"Verb": "set", "Key": f"{prefix}/t", "Value": _b64("x")}}]))
    c.step("event fire anonymous", "PUT", "/v1/event/fire/deploy", first_words, token="",
           data=b"x")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def txn_script(c: Target, prefix: str) -> None:
    def txn(step: str, ops: list[dict[str, Any]]) -> requests.Response:
        return c.step(step, "PUT", "/v1/txn", txn_answer, data=json.dumps(ops))

    done = txn("txn cas create", [
        {"KV": {"Verb": "cas", "Key": f"{prefix}/t1", "Value": _b64("1"), "Index": 0}},
        {"KV": {"Verb": "cas", "Key": f"{prefix}/t2", "Value": _b64("2"), "Index": 0}}])
    index = done.json()["Results"][0]["KV"]["ModifyIndex"]
    txn("txn cas stale", [
        {"KV": {"Verb": "cas", "Key": f"{prefix}/t1", "Value": _b64("3"), "Index": 0}},
        {"KV": {"Verb": "cas", "Key": f"{prefix}/t2", "Value": _b64("3"), "Index": 1}}])
    txn("txn check-index", [{"KV": {"Verb": "check-index", "Key": f"{prefix}/t1",
                                    "Index": index}}])
    txn("txn check-index stale", [{"KV": {"Verb": "check-index", "Key": f"{prefix}/t1",
                                          "Index": index + 1000}}])
    txn("txn check-not-exists", [{"KV": {"Verb": "check-not-exists", "Key": f"{prefix}/no"}}])
    txn("txn check-not-exists present", [{"KV": {"Verb": "check-not-exists",
                                                 "Key": f"{prefix}/t1"}}])
    txn("txn set", [{"KV": {"Verb": "set", "Key": f"{prefix}/t3", "Value": _b64("s")}}])
    txn("txn delete-cas stale", [{"KV": {"Verb": "delete-cas", "Key": f"{prefix}/t1",
                                         "Index": index + 1000}}])
    txn("txn delete-cas", [{"KV": {"Verb": "delete-cas", "Key": f"{prefix}/t1",
                                   "Index": index}}])
    txn("txn delete-cas absent", [{"KV": {"Verb": "delete-cas", "Key": f"{prefix}/gone",
                                          "Index": 5}}])
    c.step("txn 128 ops", "PUT", "/v1/txn", count_results, data=json.dumps(
        [{"KV": {"Verb": "set", "Key": f"{prefix}/n{i}", "Value": _b64("v")}}
         for i in range(128)]))
    txn("txn 129 ops", [{"KV": {"Verb": "set", "Key": f"{prefix}/n{i}", "Value": _b64("v")}}
                        for i in range(129)])
    txn("txn not a list", {"KV": {}})  # type: ignore[arg-type]


def event_script(c: Target) -> None:
    fired = [c.step("event fire", "PUT", "/v1/event/fire/deploy", event,
                    data=b"s3://b/r1/manifest.yml").json()["ID"],
             c.step("event fire node filter", "PUT", "/v1/event/fire/deploy", event,
                    data=b"s3://b/r2/manifest.yml",
                    params={"node": "^webapp-staging-i-1$"}).json()["ID"]]
    c.step("event fire too large", "PUT", "/v1/event/fire/deploy", first_words, data=b"x" * 500)
    # The agent lists an event once gossip delivered it (and only where its filter matches).
    deadline = time.monotonic() + 10
    while True:
        listed = c.send("GET", "/v1/event/list", params={"name": "deploy"})
        mine = [e for e in listed.json() if e["ID"] in fired]
        if len(mine) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    c.note("event list", listed, lambda r: sorted(
        (e["Name"], base64.b64decode(e["Payload"]).decode(), e["NodeFilter"]) for e in mine))


def health_script(c: Target) -> None:
    c.step("health service none", "GET", "/v1/health/service/conformance-nothing", body_json)


def query_script(c: Target) -> None:
    body = {"Name": "conformance-failover",
            "Service": {"Service": "webapp", "OnlyPassing": True,
                        "Failover": {"Datacenters": ["idcf"]}}}
    made = c.step("query create", "POST", "/v1/query", has_id, json=body)
    query_id = made.json()["ID"]
    c.step("query create same name", "POST", "/v1/query", first_words, json=body)
    c.step("query list", "GET", "/v1/query", query_list)
    c.step("query get", "GET", f"/v1/query/{query_id}", query_one)
    update = {**body, "ID": query_id, "Service": {**body["Service"],
                                                  "Failover": {"Datacenters": ["idcf", "nara"]}}}
    c.step("query update", "PUT", f"/v1/query/{query_id}", text, json=update)
    c.step("query get updated", "GET", f"/v1/query/{query_id}", query_one)
    # What the app calls: no instance anywhere, and failover datacenters the agent does not know
    # (no test WAN-joins `idcf` or `nara`; `osaka` is joined by tests sharing the session agent).
    c.step("query execute", "GET", f"/v1/query/{query_id}/execute", lambda r: (
        r.json()["Service"], r.json()["Nodes"], r.json()["Failovers"])
        if r.status_code == 200 else first_words(r))
    c.step("query delete", "DELETE", f"/v1/query/{query_id}", text)
    c.step("query get missing", "GET", f"/v1/query/{query_id}", first_words)
    c.step("query update missing", "PUT", f"/v1/query/{query_id}", before_colon, json=update)
    c.step("query delete missing", "DELETE", f"/v1/query/{query_id}", before_colon)


def token_script(c: Target, prefix: str) -> None:
    name = f"conformance-{prefix.rsplit('-', 1)[-1]}"
    rules = 'key_prefix "conformance/" { policy = "read" }'
    c.step("policy by name missing", "GET", f"/v1/acl/policy/name/{name}", first_words)
    made = c.step("policy create", "PUT", "/v1/acl/policy", policy_view,
                  json={"Name": name, "Rules": rules})
    policy_id = made.json()["ID"]
    c.step("policy create same name", "PUT", "/v1/acl/policy", first_words,
           json={"Name": name, "Rules": rules})
    c.step("policy by name", "GET", f"/v1/acl/policy/name/{name}", policy_view)
    c.step("policy update", "PUT", f"/v1/acl/policy/{policy_id}", policy_view,
           json={"ID": policy_id, "Name": name, "Rules": rules.replace("read", "write")})
    c.step("policy bad rules", "PUT", "/v1/acl/policy", lambda r: r.status_code >= 400,
           json={"Name": name + "-bad", "Rules": "key_prefix {"})
    token = c.step("token create", "PUT", "/v1/acl/token", token_view,
                   json={"Description": name, "Policies": [{"ID": policy_id}]})
    accessor = token.json()["AccessorID"]
    c.step("tokens by policy", "GET", "/v1/acl/tokens",
           lambda r: [(t["Description"], "SecretID" in t and bool(t["SecretID"]))
                      for t in r.json()], params={"policy": policy_id})
    c.step("token read", "GET", f"/v1/acl/token/{accessor}", token_view)
    c.step("token read missing", "GET", f"/v1/acl/token/{uuid.uuid4()}", first_words)
    c.step("token self", "GET", "/v1/acl/token/self", lambda r: r.status_code,
           token=token.json()["SecretID"])


def run(c: Target, prefix: str, reader: str, stranger: str) -> dict[str, Observed]:
    """Every step, in order; `reader` may read `prefix`/, `stranger` only another prefix."""
    kv_script(c, prefix)
    acl_script(c, prefix, reader, stranger)
    txn_script(c, prefix)
    event_script(c)
    health_script(c)
    query_script(c)
    token_script(c, prefix)
    return c.seen
