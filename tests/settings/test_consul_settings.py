"""webtier:consul.tls and webtier:consul.wan: what each stack may say, refused by key otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from components.settings import SettingsError, StackSettings, parse_settings
from tests.mocks import stack_config

CA = "-----BEGIN CERTIFICATE-----\nMIIBvTCCAWOgAwIBAgIUBUBg\n-----END CERTIFICATE-----\n"
TWO_DC = {"webtier:consul.wan": {"peers": ["idcf"], "advertiseAddrWan": "public-ipv4"}}


def parse(stack: str, overrides: Mapping[str, Any]) -> StackSettings:
    config, secrets = stack_config(stack, overrides=overrides)
    return parse_settings(stack, config, secrets)


def problems(stack: str, overrides: Mapping[str, Any]) -> str:
    with pytest.raises(SettingsError) as err:
        parse(stack, overrides)
    return str(err.value)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_committed_stacks_run_tls_with_a_ca_certificate(stack: str) -> None:
    tls = parse(stack, {}).consul.tls
    assert tls.enabled
    assert tls.ca_cert is not None
    assert tls.ca_cert.startswith("-----BEGIN CERTIFICATE-----")


def test_production_refuses_tls_off_naming_the_key() -> None:
    text = problems("production", {"webtier:consul.tls": {"enabled": False}})
    assert "webtier:consul.tls.enabled = false: must be true on production" in text


def test_staging_may_run_without_tls() -> None:
    assert not parse("staging", {"webtier:consul.tls": {"enabled": False}}).consul.tls.enabled


def test_tls_without_a_ca_certificate_is_refused() -> None:
    text = problems("staging", {"webtier:consul.tls": {"enabled": True}})
    assert "webtier:consul.tls.caCert is missing" in text


def test_a_private_key_given_as_the_ca_is_refused_without_echoing_it() -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBsecretsecret\n-----END EC PRIVATE KEY-----"
    text = problems("staging", {"webtier:consul.tls": {"enabled": True, "caCert": CA + key}})
    assert "webtier:consul.tls.caCert = \"[redacted]\": holds a private key" in text
    assert "secretsecret" not in text


def test_a_ca_that_is_no_certificate_is_refused() -> None:
    text = problems("staging", {"webtier:consul.tls": {"enabled": True, "caCert": "hello"}})
    assert "webtier:consul.tls.caCert = \"hello\": must be a PEM certificate" in text


def test_no_wan_peers_by_default() -> None:
    wan = parse("staging", {}).consul.wan
    assert (wan.peers, wan.advertise_addr_wan, wan.failover_services) == ((), "none", ())


def test_wan_peers_fail_the_app_over_by_default() -> None:
    wan = parse("staging", TWO_DC).consul.wan
    assert (wan.peers, wan.advertise_addr_wan, wan.failover_services) == \
        (("idcf",), "public-ipv4", ("webapp-staging",))


@pytest.mark.parametrize(("wan", "expected"), [
    ({"peers": ["staging"]}, "webtier:consul.wan.peers = [\"staging\"]: must not name this "
                             "stack's own datacenter"),
    ({"peers": ["Bad DC"]}, "webtier:consul.wan.peers[0] = \"Bad DC\": must be a datacenter"),
    ({"peers": ["idcf", "idcf"]}, "webtier:consul.wan.peers[1] = \"idcf\": is listed twice"),
    ({"peers": ["idcf"], "advertiseAddrWan": "elastic"},
     "webtier:consul.wan.advertiseAddrWan = \"elastic\": must be one of none, public-ipv4"),
    ({"failoverServices": ["web"]},
     "webtier:consul.wan.failoverServices = [\"web\"]: needs peers to fail over to"),
    ({"peers": ["idcf"], "failoverServices": ["Web_1"]},
     "webtier:consul.wan.failoverServices[0] = \"Web_1\": must be a Consul service name"),
    ({"peer": ["idcf"]}, "webtier:consul.wan.peer is not a known setting"),
])
def test_bad_wan_settings_are_refused_naming_the_key(wan: dict[str, Any], expected: str) -> None:
    assert expected in problems("staging", {"webtier:consul.wan": wan})
