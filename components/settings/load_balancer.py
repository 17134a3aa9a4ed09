"""webtier:loadBalancer: the application load balancer in front of the fleet."""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.network import cidrs
from components.settings.reader import ConfigObject
from contracts.aws_ids import ARN
from contracts.escaping import URL_PATH, URL_PATH_ALLOWED


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
    # The path reaches the ALB, the node's Consul check (HCL) and lifecycle.env (shell): path
    # characters only, so no value can end a string, a line or a heredoc in any of them.
    path = obj.text("healthCheckPath", "/health", URL_PATH, URL_PATH_ALLOWED)
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
