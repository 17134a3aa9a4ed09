"""webtier:consul parsed directly: every field, the TLS and WAN parts, and each exact refusal.

The CA bundle file is read from tmp_path; its contents never appear in a problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.settings.consul import (
    ConsulSettings,
    ConsulTls,
    ConsulWan,
    ServiceCheckSettings,
    parse_consul,
)
from components.settings.reader import ConfigObject, Problems
from contracts.aws_ids import JOIN_TAG

C = "webtier:consul"
ADDRESS = "https://consul.internal:8501"
SG = "sg-0123456789abcdef0"
CA = "-----BEGIN CERTIFICATE-----\nMIIBvTCCAWOgAwIBAgIUBUBg\n-----END CERTIFICATE-----"
BASE = {"address": ADDRESS, "clusterSecurityGroupId": SG}


def consul(raw: dict[str, Any], stack: str = "staging") -> tuple[ConsulSettings, list[str]]:
    problems = Problems()
    return parse_consul(ConfigObject(C, raw, problems), stack, "shop"), problems.items


def test_consul_defaults_name_the_stack() -> None:
    s, problems = consul(BASE)
    assert problems == []
    assert s == ConsulSettings(
        datacenter="staging", address=ADDRESS, ca_cert_path=None,
        join_tag_key="consul-cluster", join_tag_value="staging", cluster_security_group_id=SG,
        cluster_cidr=None, tls=ConsulTls(False, None), wan=ConsulWan((), "none", ()),
        service_check=ServiceCheckSettings(10, 5), ca_cert_pem=None)


def test_consul_reads_every_field(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(CA + "\n")
    s, problems = consul({
        "address": "http://10.0.0.5:8500", "clusterCidr": "10.1.0.0/16",
        "caCertPath": str(bundle), "joinTag": {"key": "role", "value": "consul-server"},
        "datacenter": "tokyo_1", "serviceCheck": {"interval": 300, "timeout": 300},
        "tls": {"enabled": True, "caCert": f"\n{CA}\n\n"},
        "wan": {"peers": ["osaka"], "advertiseAddrWan": "public-ipv4",
                "failoverServices": ["web", "api"]}})
    assert problems == []
    assert s == ConsulSettings(
        datacenter="tokyo_1", address="http://10.0.0.5:8500", ca_cert_path=str(bundle),
        join_tag_key="role", join_tag_value="consul-server", cluster_security_group_id=None,
        cluster_cidr="10.1.0.0/16", tls=ConsulTls(True, CA + "\n"),
        wan=ConsulWan(("osaka",), "public-ipv4", ("web", "api")),
        service_check=ServiceCheckSettings(300, 300), ca_cert_pem=CA + "\n")


def test_consul_needs_an_address_and_a_source_for_the_cluster() -> None:
    _, problems = consul({"address": None})
    assert problems == [
        "webtier:consul: give clusterSecurityGroupId or clusterCidr, the only sources allowed to "
        "reach the Consul ports",
        "webtier:consul.address is missing: give the Consul HTTP API this program writes KV "
        "through, e.g. https://consul.internal:8501"]


def test_consul_refusals_name_each_field() -> None:
    _, problems = consul({
        "address": "consul:8500", "clusterSecurityGroupId": "sg-1", "clusterCidr": "10.1.0.1/16",
        "joinTag": {"key": "", "value": "a\nb"}, "datacenter": "Tokyo",
        "serviceCheck": {"interval": 0, "timeout": 301}})
    assert problems == [
        'webtier:consul.address = "consul:8500": must be a URL like https://consul.internal:8501',
        'webtier:consul.clusterSecurityGroupId = "sg-1": must be a security group id like '
        "sg-0123…",
        'webtier:consul.clusterCidr = "10.1.0.1/16": must be a CIDR block',
        "webtier:consul: give clusterSecurityGroupId or clusterCidr, the only sources allowed to "
        "reach the Consul ports",
        'webtier:consul.datacenter = "Tokyo": lowercase letters, digits, - and _',
        "webtier:consul.serviceCheck.interval = 0: must be between 1 and 300",
        "webtier:consul.serviceCheck.timeout = 301: must be between 1 and 300",
        f'webtier:consul.joinTag.key = "": {JOIN_TAG.allowed}',
        f'webtier:consul.joinTag.value = "a\\nb": {JOIN_TAG.allowed}',
    ]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_consul_cluster_cidr_may_not_be_the_internet(cidr: str) -> None:
    _, problems = consul({"address": ADDRESS, "clusterCidr": cidr})
    assert problems == [f'webtier:consul.clusterCidr = "{cidr}": must not be the whole internet: '
                        "Consul RPC/gossip stay private"]


def test_consul_check_timeout_may_equal_the_interval_but_not_exceed_it() -> None:
    s, problems = consul({**BASE, "serviceCheck": {"interval": 1, "timeout": 1}})
    assert (problems, s.service_check) == ([], ServiceCheckSettings(1, 1))
    _, problems = consul({**BASE, "serviceCheck": {"interval": 5, "timeout": 6}})
    assert problems == [
        "webtier:consul.serviceCheck.timeout = 6: must not exceed serviceCheck.interval (5): a "
        "check would still run when the next one starts"]


def test_unknown_consul_fields_list_the_known_ones() -> None:
    _, problems = consul({**BASE, "port": 1, "joinTag": {"name": "x"},
                          "serviceCheck": {"path": "/"}, "tls": {"verify": True},
                          "wan": {"peer": "x"}})
    assert problems == [
        "webtier:consul.tls.verify is not a known setting (known: caCert, enabled); its value is "
        "not shown",
        "webtier:consul.wan.peer is not a known setting (known: advertiseAddrWan, "
        "failoverServices, peers); its value is not shown",
        "webtier:consul.joinTag.name is not a known setting (known: key, value); its value is not "
        "shown",
        "webtier:consul.serviceCheck.path is not a known setting (known: interval, timeout); its "
        "value is not shown",
        "webtier:consul.port is not a known setting (known: address, caCertPath, clusterCidr, "
        "clusterSecurityGroupId, datacenter, joinTag, restartConcurrency, serviceCheck, tls, wan); "
        "its value is not shown",
    ]


# --- tls ---------------------------------------------------------------------------------------

def test_tls_is_required_on_production() -> None:
    _, problems = consul({**BASE, "tls": {"enabled": False}}, stack="production")
    assert problems == ["webtier:consul.tls.enabled = false: must be true on production: its "
                        "agents must verify the servers"]


def test_tls_needs_a_ca_certificate() -> None:
    _, problems = consul({**BASE, "tls": {"enabled": True}})
    assert problems == ["webtier:consul.tls.caCert is missing: TLS needs the CA certificate that "
                        "signed the Consul servers' certificates"]


def test_a_private_key_as_the_ca_is_refused_unseen() -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----"
    s, problems = consul({**BASE, "tls": {"enabled": True, "caCert": key}})
    assert problems == [
        'webtier:consul.tls.caCert = "[redacted]": holds a private key: give only the CA '
        "certificate; the CA key stays with whoever signs server certs"]
    assert s.tls == ConsulTls(True, None)


@pytest.mark.parametrize(("given", "shown"), [
    ("x" * 40, "x" * 40), ("y" * 41, "y" * 40 + "..."),
])
def test_a_ca_that_is_no_pem_is_shown_cut_at_40_characters(given: str, shown: str) -> None:
    s, problems = consul({**BASE, "tls": {"caCert": given}})
    assert problems == [f'webtier:consul.tls.caCert = "{shown}": must be a PEM certificate '
                        "(-----BEGIN CERTIFICATE----- …)"]
    assert s.tls.ca_cert is None


# --- wan ---------------------------------------------------------------------------------------

def test_wan_peers_fail_the_app_over_unless_told_otherwise() -> None:
    s, problems = consul({**BASE, "wan": {"peers": ["osaka", "sapporo"]}})
    assert problems == []
    # The app's own service, named per stack.
    assert s.wan == ConsulWan(("osaka", "sapporo"), "none", ("shop-staging",))
    s, problems = consul({**BASE, "wan": {"peers": ["osaka"], "failoverServices": []}})
    assert (problems, s.wan.failover_services) == ([], ())


def test_wan_refusals() -> None:
    _, problems = consul({**BASE, "datacenter": "tokyo", "wan": {
        "peers": ["osaka", "Osaka", "osaka", 5, "tokyo"], "advertiseAddrWan": "public"}})
    assert problems == [
        'webtier:consul.wan.peers[1] = "Osaka": must be a datacenter name: lowercase letters, '
        "digits, - and _",
        'webtier:consul.wan.peers[2] = "osaka": is listed twice',
        "webtier:consul.wan.peers[3] = 5: must be a datacenter name: lowercase letters, digits, "
        "- and _",
        'webtier:consul.wan.peers = ["osaka", "tokyo"]: must not name this stack\'s own '
        "datacenter (tokyo)",
        'webtier:consul.wan.advertiseAddrWan = "public": must be one of none, public-ipv4',
    ]


def test_wan_failover_services_need_peers_and_valid_names() -> None:
    _, problems = consul({**BASE, "wan": {"failoverServices": ["web", "Web_1", "web"]}})
    assert problems == [
        'webtier:consul.wan.failoverServices[1] = "Web_1": must be a Consul service name: '
        "lowercase letters, digits and -",
        'webtier:consul.wan.failoverServices[2] = "web": is listed twice',
        'webtier:consul.wan.failoverServices = ["web"]: needs peers to fail over to: set peers '
        "or remove it",
    ]


# --- the CA bundle file ------------------------------------------------------------------------

def test_an_unreadable_ca_bundle_is_refused_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    _, problems = consul({**BASE, "caCertPath": str(missing)})
    assert problems == [
        f'webtier:consul.caCertPath = "{missing}": cannot be read (No such file or directory): '
        "give the path of the PEM CA bundle that signed the Consul servers' certificates"]


@pytest.mark.parametrize("content", [
    b"not a certificate",
    b"-----BEGIN CERTIFICATE-----\nMIIB\xff\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\nMIIBv\n-----END CERTIFICATE-----\n",  # bad base64 padding
])
def test_a_ca_bundle_that_is_no_pem_is_refused_unseen(tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    s, problems = consul({**BASE, "caCertPath": str(bundle)})
    assert problems == [
        f'webtier:consul.caCertPath = "{bundle}": is not a PEM CA certificate bundle (-----BEGIN '
        "CERTIFICATE----- ...); its contents are not shown"]
    assert s.ca_cert_pem is None


def test_a_ca_bundle_is_read_up_to_one_megabyte(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    cert = (CA + "\n").encode()
    bundle.write_bytes(cert + b"#" * (1_000_000 - len(cert)))
    s, problems = consul({**BASE, "caCertPath": str(bundle)})
    assert problems == []
    assert s.ca_cert_pem is not None
    assert len(s.ca_cert_pem) == 1_000_000
    bundle.write_bytes(cert + b"#" * (1_000_001 - len(cert)))
    s, problems = consul({**BASE, "caCertPath": str(bundle)})
    assert problems == [
        f'webtier:consul.caCertPath = "{bundle}": is not a PEM CA certificate bundle (-----BEGIN '
        "CERTIFICATE----- ...); its contents are not shown"]


def test_restart_concurrency_defaults_to_one_node_at_a_time_and_refuses_zero() -> None:
    s, problems = consul(BASE)
    assert (problems, s.restart_concurrency) == ([], 1)
    s, problems = consul({**BASE, "restartConcurrency": 2})
    assert (problems, s.restart_concurrency) == ([], 2)
    _, problems = consul({**BASE, "restartConcurrency": 0})
    assert problems == ["webtier:consul.restartConcurrency = 0: must be between 1 and 1000"]
