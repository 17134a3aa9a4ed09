"""webtier:loadBalancer: the application load balancer in front of the fleet."""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.network import cidrs
from components.settings.reader import ConfigObject
from contracts.aws_ids import ARN


@dataclass(frozen=True)
class LoadBalancerSettings:
    internal: bool
    listener_port: int
    certificate_arn: str | None
    ingress_cidrs: tuple[str, ...]
    health_check_path: str
    deregistration_delay: int


def parse_load_balancer(obj: ConfigObject) -> LoadBalancerSettings:
    cert = obj.opt_text("certificateArn", ARN, "must be an ACM certificate ARN")
    port = obj.integer("listenerPort", 443 if cert else 80, 1, 65535)
    path = obj.text("healthCheckPath", "/health")
    if not path.startswith("/"):
        obj.problems.add(f"{obj.key}.healthCheckPath", path, "must start with /")
    settings = LoadBalancerSettings(
        internal=obj.flag("internal", False),
        listener_port=port,
        certificate_arn=cert,
        ingress_cidrs=cidrs(obj, "ingressCidrs", ["0.0.0.0/0"]),
        health_check_path=path,
        deregistration_delay=obj.integer("deregistrationDelay", 30, 0, 3600),
    )
    obj.done()
    return settings
