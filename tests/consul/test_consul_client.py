"""The one Consul client (components/consul/client.py) against the Consul double: the token
header, the CA it trusts, its timeout, and that no secret, raw or base64, leaves in an error.

The KV provider and the deploy pointer both talk to Consul through it; their own tests cover
what they do with the answers.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
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


@pytest.mark.integration
def test_the_given_token_wins_over_consul_http_token_against_consul_double(
        double: ConsulDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "stale-env-token")
    with client_for(double) as client:
        client.txn([{"KV": {"Verb": "set", "Key": "app/a", "Value": b64("1")}}])
    assert double.recorded[0].headers.get("x-consul-token") == TOKEN
    assert double.value("app/a") == "1"


@pytest.mark.integration
def test_without_a_token_no_header_is_sent_and_consul_denies_against_consul_double(
        double: ConsulDouble) -> None:
    with client_for(double, token="") as client, pytest.raises(ConsulHttpError) as err:
        client.read_key("app/a")
    assert err.value.status == 403
    assert "x-consul-token" not in double.recorded[0].headers


@pytest.mark.integration
def test_the_deploy_pointer_sends_the_token_on_txn_and_event_against_consul_double(
        double: ConsulDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    # py-consul sent no token on a txn and let CONSUL_HTTP_TOKEN override the one given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "stale-env-token")
    store = PointerStore(connect(double.address, TOKEN), "app/staging", "web")
    store.publish(Release("r1", "s3://b/m.yml", "now", "me"), PointerState(None, 0, None, (), 0))
    store.announce("s3://b/m.yml")
    sent = {r.path: r.headers.get("x-consul-token") for r in double.recorded}
    assert sent == {"/v1/txn": TOKEN, "/v1/event/fire/deploy": TOKEN}
    assert double.value("app/staging/deploy/web/current") == "s3://b/m.yml"


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

class TlsConsulDouble(ConsulDouble):
    """The double behind TLS, with a certificate for 127.0.0.1 signed by `ca_pem`."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(token=TOKEN)
        self.ca_pem, cert_pem, key_pem = _certificates()
        (tmp / "server.pem").write_text(cert_pem + key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(tmp / "server.pem")

    def start(self) -> None:
        super().start()
        assert self._server is not None
        self._server.socket = self._context.wrap_socket(self._server.socket, server_side=True)

    @property
    def address(self) -> str:
        return f"https://{self.host}:{self.port}"


def _certificates() -> tuple[str, str, str]:
    """(CA PEM, server certificate PEM for 127.0.0.1, server key PEM)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
              signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), critical=True)
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signer.public_key()), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("test consul CA", ca_key, "test consul CA", ca_key, ca=True)
    server = build("127.0.0.1", server_key, "test consul CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    return ca.public_bytes(pem).decode(), server.public_bytes(pem).decode(), key_pem


@pytest.fixture
def tls_double(tmp_path: Path) -> Iterator[TlsConsulDouble]:
    with TlsConsulDouble(tmp_path) as d:
        yield d


@pytest.mark.integration
def test_the_configured_ca_is_trusted_against_tls_consul_double(
        tls_double: TlsConsulDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A CA bundle in the environment must not replace the CA the connection names.
    (tmp_path / "other-bundle.pem").write_text(_certificates()[0])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other-bundle.pem"))
    tls_double.put("app/a", "1")
    endpoint = Endpoint(tls_double.address, "", tls_double.ca_pem, TOKEN)
    with ConsulClient(endpoint) as client:
        entry = client.read_key("app/a")
    assert entry is not None
    assert entry["Value"] == b"1"


@pytest.mark.integration
def test_without_the_ca_the_agent_certificate_is_refused_against_tls_consul_double(
        tls_double: TlsConsulDouble) -> None:
    endpoint = Endpoint(tls_double.address, "", "", TOKEN)
    with ConsulClient(endpoint) as client, pytest.raises(ConsulUnreachable) as err:
        client.read_key("app/a")
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


@pytest.mark.integration
def test_the_deploy_tools_trust_a_ca_file_against_tls_consul_double(
        tls_double: TlsConsulDouble, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text(tls_double.ca_pem)
    tls_double.put("app/staging/deploy/web/current", "s3://b/m.yml")
    with connect(tls_double.address, TOKEN, str(tmp_path / "ca.pem")) as client:
        assert PointerStore(client, "app/staging", "web").read().current == "s3://b/m.yml"


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
