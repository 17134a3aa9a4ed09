"""webtier:consul: the cluster the nodes join, and the address this program writes KV through."""

from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from components.settings.reader import ConfigObject
from contracts.aws_ids import SECURITY_GROUP_ID, TAG_KEY

CONSUL_ADDRESS = re.compile(r"^https?://[^\s/]+(?::\d+)?/?$")
DATACENTER = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*"
                      r"-----END CERTIFICATE-----")
MAX_CA_BYTES = 1_000_000


@dataclass(frozen=True)
class ConsulSettings:
    datacenter: str
    address: str | None
    ca_cert_path: str | None
    join_tag_key: str
    join_tag_value: str
    cluster_security_group_id: str | None
    cluster_cidr: str | None
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


def parse_consul(obj: ConfigObject, stack: str) -> ConsulSettings:
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
    settings = ConsulSettings(
        datacenter=obj.text("datacenter", stack, DATACENTER, "lowercase letters, digits, - and _"),
        address=address,
        ca_cert_path=ca_path,
        join_tag_key=join.text("key", "consul-cluster", TAG_KEY),
        join_tag_value=join.text("value", stack, TAG_KEY, "must be a valid EC2 tag value"),
        cluster_security_group_id=sg,
        cluster_cidr=cidr,
        ca_cert_pem=read_ca_cert(obj, ca_path) if ca_path else None,
    )
    join.done()
    obj.done()
    return settings
