"""webtier:consul: the cluster the nodes join, and the address this program writes KV through."""

from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from components.settings.reader import ConfigObject
from contracts.aws_ids import JOIN_TAG, SECURITY_GROUP_ID
from contracts.consul_agent import TLS_REQUIRED_STACKS
from contracts.release_layout import service_name

CONSUL_ADDRESS = re.compile(r"^https?://[^\s/]+(?::\d+)?/?\Z")
DATACENTER = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*"
                      r"-----END CERTIFICATE-----")
MAX_CA_BYTES = 1_000_000
SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")

AdvertiseWan = Literal["none", "public-ipv4"]
"""What a node advertises to other datacenters: nothing extra (its private address serves, e.g.
over a VPN), or its public IPv4 from the instance metadata (servers there translate to it)."""


@dataclass(frozen=True)
class ConsulTls:
    """TLS towards the servers: auto_encrypt client certificates, verified server names."""

    enabled: bool
    ca_cert: str | None
    """PEM of the CA that signed the servers' certificates (public; never its key)."""


@dataclass(frozen=True)
class ConsulWan:
    """The WAN-federated datacenters this stack's apps may fail over to."""

    peers: tuple[str, ...]
    advertise_addr_wan: AdvertiseWan
    failover_services: tuple[str, ...]
    """Services that get a prepared query failing over to the peers, in peer order."""


@dataclass(frozen=True)
class ConsulSettings:
    datacenter: str
    address: str | None
    ca_cert_path: str | None
    join_tag_key: str
    join_tag_value: str
    cluster_security_group_id: str | None
    cluster_cidr: str | None
    tls: ConsulTls
    wan: ConsulWan
    service_check: ServiceCheckSettings
    restart_concurrency: int = 1
    """How many nodes restart the app at once after a KV change (each waits for the previous to
    pass health): the semaphore limit of image/.../app-config-restart."""
    ca_cert_pem: str | None = field(default=None, repr=False)
    """The CA bundle caCertPath names, read once here: components never read the file."""


def read_ca_cert(obj: ConfigObject, path_text: str) -> str | None:
    """The PEM bundle at ``path_text``; a problem (never showing the contents) if it is not one."""
    key = f"{obj.key}.caCertPath"
    try:
        data = Path(path_text).expanduser().read_bytes()[:MAX_CA_BYTES + 1]
    except OSError as e:
        obj.problems.add(key, path_text, f"cannot be read ({e.strerror}): give the path of the "
                         "PEM CA bundle that signed the Consul servers' certificates")
        return None
    text = data.decode("ascii", errors="replace")
    blocks = PEM_CERT.findall(text) if len(data) <= MAX_CA_BYTES else []
    try:
        for block in blocks:
            binascii.a2b_base64(re.sub(r"\s", "", block).encode())
    except binascii.Error:
        blocks = []
    if not blocks or "\ufffd" in text:
        obj.problems.add(key, path_text, "is not a PEM CA certificate bundle (-----BEGIN "
                         "CERTIFICATE----- ...); its contents are not shown")
        return None
    return text


@dataclass(frozen=True)
class ServiceCheckSettings:
    """The HTTP check each node's agent runs on the app. Its path is loadBalancer.healthCheckPath:
    one endpoint answers the load balancer and Consul, so they never disagree on healthy."""

    interval: int
    timeout: int


def parse_tls(obj: ConfigObject, stack: str) -> ConsulTls:
    enabled = obj.flag("enabled", False)
    ca_cert = obj.opt_text("caCert")
    key = f"{obj.key}.caCert"
    if ca_cert is not None:
        if "PRIVATE KEY" in ca_cert:
            # Never echo it: a private key in config is already a leak.
            obj.problems.add(key, "[redacted]", "holds a private key: give only the CA "
                             "certificate; the CA key stays with whoever signs server certs")
            ca_cert = None
        elif not PEM_CERT.search(ca_cert):
            shown = ca_cert if len(ca_cert) <= 40 else ca_cert[:40] + "..."
            obj.problems.add(key, shown, "must be a PEM certificate "
                             "(-----BEGIN CERTIFICATE----- …)")
            ca_cert = None
        else:
            ca_cert = ca_cert.strip() + "\n"
    if enabled and ca_cert is None and "caCert" not in obj.raw:
        obj.problems.note(f"{key} is missing: TLS needs the CA certificate that signed the "
                          "Consul servers' certificates")
    if not enabled and stack in TLS_REQUIRED_STACKS:
        obj.problems.add(f"{obj.key}.enabled", enabled,
                         f"must be true on {stack}: its agents must verify the servers")
    obj.done()
    return ConsulTls(enabled=enabled, ca_cert=ca_cert)


def _names(obj: ConfigObject, field: str, pattern: re.Pattern[str], allowed: str) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(obj.items(field)):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            obj.problems.add(f"{obj.key}.{field}[{i}]", item, allowed)
        elif item in out:
            obj.problems.add(f"{obj.key}.{field}[{i}]", item, "is listed twice")
        else:
            out.append(item)
    return out


def parse_wan(obj: ConfigObject, datacenter: str, app: str, stack: str) -> ConsulWan:
    peers = _names(obj, "peers", DATACENTER, "must be a datacenter name: lowercase letters, "
                   "digits, - and _")
    if datacenter in peers:
        obj.problems.add(f"{obj.key}.peers", peers,
                         f"must not name this stack's own datacenter ({datacenter})")
    mode: AdvertiseWan = obj.choice("advertiseAddrWan", "none", AdvertiseWan)
    services = _names(obj, "failoverServices", SERVICE,
                      "must be a Consul service name: lowercase letters, digits and -")
    if "failoverServices" not in obj.raw and peers:
        # The app's own service (per stack); a peer datacenter must serve it under this name.
        services = [service_name(app, stack)]
    if services and not peers:
        obj.problems.add(f"{obj.key}.failoverServices", services,
                         "needs peers to fail over to: set peers or remove it")
    obj.done()
    return ConsulWan(peers=tuple(peers), advertise_addr_wan=mode,
                     failover_services=tuple(services))



def parse_consul(obj: ConfigObject, stack: str, app: str) -> ConsulSettings:
    address = obj.opt_text("address", CONSUL_ADDRESS,
                           "must be a URL like https://consul.internal:8501")
    sg = obj.opt_text("clusterSecurityGroupId", SECURITY_GROUP_ID)
    cidr_raw = obj.opt_text("clusterCidr")
    cidr: str | None = None
    if cidr_raw is not None:
        try:
            cidr = str(ipaddress.ip_network(cidr_raw, strict=True))
        except ValueError:
            obj.problems.add(f"{obj.key}.clusterCidr", cidr_raw, "must be a CIDR block")
        else:
            if ipaddress.ip_network(cidr).prefixlen == 0:
                obj.problems.add(f"{obj.key}.clusterCidr", cidr_raw,
                                 "must not be the whole internet: Consul RPC/gossip stay private")
    if sg is None and cidr is None:
        obj.problems.note(f"{obj.key}: give clusterSecurityGroupId or clusterCidr, the only "
                          "sources allowed to reach the Consul ports")
    if obj.raw.get("address") is None:
        # Without it the KV component would fail mid-preview (unless CONSUL_HTTP_ADDR happened
        # to be set): the stack names its Consul, so every run writes to the same one.
        obj.problems.note(f"{obj.key}.address is missing: give the Consul HTTP API this "
                          "program writes KV through, e.g. https://consul.internal:8501")
    ca_path = obj.opt_text("caCertPath")
    join = obj.child("joinTag")
    datacenter = obj.text("datacenter", stack, DATACENTER, "lowercase letters, digits, - and _")
    check = obj.child("serviceCheck")
    interval = check.integer("interval", 10, 1, 300)
    timeout = check.integer("timeout", 5, 1, 300)
    if check.valid("interval", "timeout") and timeout > interval:
        obj.problems.add(f"{check.key}.timeout", timeout,
                         f"must not exceed serviceCheck.interval ({interval}): a check would "
                         "still run when the next one starts")
    settings = ConsulSettings(
        datacenter=datacenter,
        address=address,
        ca_cert_path=ca_path,
        join_tag_key=join.text("key", "consul-cluster", JOIN_TAG),
        join_tag_value=join.text("value", stack, JOIN_TAG),
        cluster_security_group_id=sg,
        cluster_cidr=cidr,
        tls=parse_tls(obj.child("tls"), stack),
        wan=parse_wan(obj.child("wan"), datacenter, app, stack),
        service_check=ServiceCheckSettings(interval=interval, timeout=timeout),
        restart_concurrency=obj.integer("restartConcurrency", 1, 1, 1000),
        ca_cert_pem=read_ca_cert(obj, ca_path) if ca_path else None,
    )
    join.done()
    check.done()
    obj.done()
    return settings
