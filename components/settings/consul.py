"""webtier:consul: the cluster the nodes join, and the address this program writes KV through."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from components.settings.reader import ConfigObject
from contracts.aws_ids import SECURITY_GROUP_ID, TAG_KEY

CONSUL_ADDRESS = re.compile(r"^https?://[^\s/]+(?::\d+)?/?$")
DATACENTER = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class ConsulSettings:
    datacenter: str
    address: str | None
    ca_cert_path: str | None
    join_tag_key: str
    join_tag_value: str
    cluster_security_group_id: str | None
    cluster_cidr: str | None
    service_check: ServiceCheckSettings


@dataclass(frozen=True)
class ServiceCheckSettings:
    """The HTTP check each node's agent runs on the app. Its path is loadBalancer.healthCheckPath:
    one endpoint answers the load balancer and Consul, so they never disagree on healthy."""

    interval: int
    timeout: int


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
    join = obj.child("joinTag")
    check = obj.child("serviceCheck")
    interval = check.integer("interval", 10, 1, 300)
    timeout = check.integer("timeout", 5, 1, 300)
    if timeout > interval:
        obj.problems.add(f"{check.key}.timeout", timeout,
                         f"must not exceed serviceCheck.interval ({interval}): a check would "
                         "still run when the next one starts")
    settings = ConsulSettings(
        datacenter=obj.text("datacenter", stack, DATACENTER, "lowercase letters, digits, - and _"),
        address=address,
        ca_cert_path=obj.opt_text("caCertPath"),
        join_tag_key=join.text("key", "consul-cluster", TAG_KEY),
        join_tag_value=join.text("value", stack, TAG_KEY, "must be a valid EC2 tag value"),
        cluster_security_group_id=sg,
        cluster_cidr=cidr,
        service_check=ServiceCheckSettings(interval=interval, timeout=timeout),
    )
    join.done()
    check.done()
    obj.done()
    return settings
