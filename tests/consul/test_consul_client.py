"""The one Consul client (components/consul/client.py): the token header, the CA it trusts (a
real Consul 1.14.11 agent behind TLS, tests/real_consul.py), its timeout, and that no secret, raw
or base64, leaves in an error. The tests that inspect the requests sent, or need a slow answer,
use the Consul double (tests/consul_double.py), which records every request and can stall one.

The KV provider and the deploy pointer both talk to Consul through it; their own tests cover
what they do with the answers.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests

from components.consul.client import (
    HTTP_TIMEOUT,
    SCRUBBED,
    ConsulClient,
    ConsulHttpError,
    ConsulUnreachable,
    Endpoint,
    scrub,
)
from deploy.pointer import PointerState, PointerStore, Release, connect
from tests.consul_double import ConsulDouble
from tests.real_consul import ConsulAgent

TOKEN = "client-test-token-3e9a1f"
SECRET = "s3cret-value-8c1d27"
TOKEN_B64 = base64.b64encode(TOKEN.encode()).decode()
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def double() -> Iterator[ConsulDouble]:
    with ConsulDouble(token=TOKEN) as d:
        yield d


def client_for(double: ConsulDouble, token: str = TOKEN, timeout: float = HTTP_TIMEOUT,
               secrets: Sequence[str] = ()) -> ConsulClient:
    return ConsulClient(Endpoint(double.address, "", "", token), timeout, secrets)


# --- scrubbing ---------------------------------------------------------------------------------

def test_scrub_replaces_a_secret_and_its_base64_form() -> None:
    text = f'key "{SECRET}" and {{"Value": "{SECRET_B64}"}}'
    assert scrub(text, [SECRET]) == f'key "{SCRUBBED}" and {{"Value": "{SCRUBBED}"}}'


def test_scrub_replaces_a_secret_containing_another_whole() -> None:
    assert scrub("abc-secret-xyz", ["secret", "abc-secret-xyz"]) == SCRUBBED


def test_scrub_ignores_empty_secrets() -> None:
    assert scrub("nothing to hide", ["", ""]) == "nothing to hide"


@pytest.mark.integration
def test_an_error_echoing_a_txn_holds_neither_the_raw_nor_the_base64_secret_against_consul_double(
        double: ConsulDouble) -> None:
    # Consul's txn errors quote the op's key; these keys are the secrets, raw and base64.
    ops = [{"KV": {"Verb": "check-index", "Key": key, "Index": 7}}
           for key in (SECRET, SECRET_B64, TOKEN, TOKEN_B64)]
    echoed = requests.put(f"{double.address}/v1/txn", json=ops, timeout=5,
                          headers={"X-Consul-Token": TOKEN}).text
    assert all(form in echoed for form in (SECRET, SECRET_B64, TOKEN, TOKEN_B64)), echoed
    with client_for(double, secrets=[SECRET]) as client, \
            pytest.raises(ConsulHttpError) as err:
        client.call("PUT", "/v1/txn", data=json.dumps(ops))
    message = str(err.value)
    assert err.value.status == 409
    assert SCRUBBED in message
    for form in (SECRET, SECRET_B64, TOKEN, TOKEN_B64):
        assert form not in message
        assert form not in err.value.body


@pytest.mark.integration
def test_an_error_cut_short_holds_no_part_of_a_secret_against_consul_double(
        double: ConsulDouble) -> None:
    # The body is cut to 300 characters: scrubbed first, so no secret is left half-cut.
    long_secret = "x" * 250 + "-tail-of-the-secret"
    ops = [{"KV": {"Verb": "check-index", "Key": long_secret, "Index": 7}}]
    with client_for(double, secrets=[long_secret]) as client, \
            pytest.raises(ConsulHttpError) as err:
        client.call("PUT", "/v1/txn", data=json.dumps(ops))
    assert "x" * 100 not in str(err.value)


# --- the token ---------------------------------------------------------------------------------

@pytest.mark.integration
def test_every_call_sends_the_token_header_against_consul_double(double: ConsulDouble) -> None:
    double.put("app/a", "1")
    with client_for(double) as client:
        client.read_key("app/a")
        client.read_tree("app")
        client.txn([{"KV": {"Verb": "set", "Key": "app/b", "Value": b64("2")}}])
        client.fire_event("deploy", "x")
    assert [r.path for r in double.recorded] == [
        "/v1/kv/app/a", "/v1/kv/app/", "/v1/txn", "/v1/event/fire/deploy"]
    assert {r.headers.get("x-consul-token") for r in double.recorded} == {TOKEN}
    assert all("token" not in r.query for r in double.recorded)


def _agent_client(agent: ConsulAgent, token: str) -> ConsulClient:
    return ConsulClient(Endpoint(agent.address, "", "", token))


def test_the_given_token_wins_over_consul_http_token_on_a_real_agent(
        consul_agent: ConsulAgent, kv_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "00000000-0000-0000-0000-000000000001")  # unknown
    token = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "write" }}')
    with _agent_client(consul_agent, token) as client:
        answer = client.txn([{"KV": {"Verb": "set", "Key": f"{kv_prefix}/a", "Value": b64("1")}}])
    assert answer.status == 200


def test_without_a_token_consul_sees_the_anonymous_token_and_denies(
        consul_agent: ConsulAgent, kv_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither a header nor CONSUL_HTTP_TOKEN: "Permission denied", not "ACL not found".
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "00000000-0000-0000-0000-000000000001")
    with _agent_client(consul_agent, "") as client, pytest.raises(ConsulHttpError) as err:
        client.put_key(f"{kv_prefix}/a", "1")
    assert err.value.status == 403
    assert err.value.body.startswith("Permission denied")


def test_the_deploy_pointer_sends_the_token_on_txn_and_event_on_a_real_agent(
        consul_agent: ConsulAgent, kv_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # py-consul sent no token on a txn and let CONSUL_HTTP_TOKEN override the one given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "00000000-0000-0000-0000-000000000001")
    token = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "write" }}\n'
                                    'event "web-staging-deploy" { policy = "write" }')
    store = PointerStore(connect(consul_agent.address, token), kv_prefix, "web", "staging")
    store.publish(Release("r1", "s3://b/m.yml", "now", "me"), PointerState(None, 0, None, (), 0))
    assert store.announce("s3://b/m.yml")
    current = consul_agent.api("GET", f"/v1/kv/{kv_prefix}/deploy/web/current",
                               params={"raw": ""})
    assert current.text == "s3://b/m.yml"


def test_endpoint_repr_hides_the_token() -> None:
    assert TOKEN not in repr(Endpoint("http://127.0.0.1:8500", "", "", TOKEN))


# --- timeouts ----------------------------------------------------------------------------------

@pytest.mark.integration
def test_a_call_slower_than_the_timeout_fails_as_unreachable_against_consul_double(
        double: ConsulDouble) -> None:
    double.delay = 2.0
    started = time.monotonic()
    with client_for(double, timeout=0.2) as client, pytest.raises(ConsulUnreachable) as err:
        client.read_key("app/a")
    assert time.monotonic() - started < 1.5
    assert "timed out" in str(err.value)


def test_every_client_has_a_timeout_by_default() -> None:
    with ConsulClient(Endpoint("http://127.0.0.1:8500", "", "", "")) as client, \
            connect("127.0.0.1:8500", None) as deploy_client:
        assert client.timeout == deploy_client.timeout == HTTP_TIMEOUT


# --- TLS ---------------------------------------------------------------------------------------

def test_the_configured_ca_is_trusted_by_a_real_tls_agent(
        consul_agent_tls: ConsulAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    # A CA bundle in the environment must not replace the CA the connection names.
    agent = consul_agent_tls
    # The public CAs requests ships (certifi): they do not vouch for the agent's certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    key = f"{agent.fresh_prefix()}/a"
    agent.api("PUT", f"/v1/kv/{key}", data=b"1")
    endpoint = Endpoint(agent.address, "", Path(agent.ca_file).read_text(),
                        agent.management_token)
    with ConsulClient(endpoint) as client:
        entry = client.read_key(key)
    assert entry is not None
    assert entry["Value"] == b"1"


def test_without_the_ca_a_real_tls_agents_certificate_is_refused(
        consul_agent_tls: ConsulAgent) -> None:
    endpoint = Endpoint(consul_agent_tls.address, "", "", consul_agent_tls.management_token)
    with ConsulClient(endpoint) as client, pytest.raises(ConsulUnreachable) as err:
        client.read_key("app/a")
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


def test_the_deploy_tools_trust_a_ca_file_of_a_real_tls_agent(
        consul_agent_tls: ConsulAgent) -> None:
    agent = consul_agent_tls
    prefix = agent.fresh_prefix()
    agent.api("PUT", f"/v1/kv/{prefix}/deploy/web/current", data=b"s3://b/m.yml")
    with connect(agent.address, agent.management_token, agent.ca_file) as client:
        assert PointerStore(client, prefix, "web", "staging").read().current == "s3://b/m.yml"


def test_the_ca_pem_is_written_to_a_file_removed_on_close() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    client = ConsulClient(Endpoint("http://127.0.0.1:8500", "", pem, TOKEN))
    try:
        verify = client.verify
        assert isinstance(verify, str)
        assert Path(verify).read_text() == pem
    finally:
        client.close()
    assert not Path(verify).exists()
