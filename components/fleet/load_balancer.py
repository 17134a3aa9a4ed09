"""The application load balancer in front of the fleet: security group, target group, listener."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import LoadBalancerSettings, NetworkSettings

# The target group's health check; the capacity report reads these for "healthy after".
HEALTH_CHECK_INTERVAL = 15
HEALTHY_THRESHOLD = 2


@dataclass(frozen=True)
class LoadBalancerArgs:
    settings: LoadBalancerSettings
    network: NetworkSettings
    app_port: int
    tags: Mapping[str, str]


class LoadBalancer(pulumi.ComponentResource):
    security_group_id: pulumi.Output[str]
    """Security group of the load balancer: the only source the fleet accepts app traffic from."""
    target_group_arn: pulumi.Output[str]
    """Target group the Auto Scaling group registers its instances in."""
    dns_name: pulumi.Output[str]
    """Public (or internal) DNS name of the load balancer."""
    arn_suffix: pulumi.Output[str]
    """The load balancer's CloudWatch dimension (app/<name>/<id>): the health alarms use it."""
    target_group_arn_suffix: pulumi.Output[str]
    """The target group's CloudWatch dimension (targetgroup/<name>/<id>)."""
    request_count_label: pulumi.Output[str]
    """`<lb arnSuffix>/<tg arnSuffix>`: the ResourceLabel of ALBRequestCountPerTarget scaling."""

    def __init__(self, name: str, args: LoadBalancerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:load_balancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        tags = dict(args.tags)

        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{name}: listener traffic in, app port out to the fleet",
            vpc_id=args.network.vpc_id,
            tags={**tags, "Name": f"{name}-lb"},
            opts=child,
        )
        for i, cidr in enumerate(s.ingress_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-listener-in-{i}",
                security_group_id=sg.id,
                description="clients to the listener",
                ip_protocol="tcp",
                from_port=s.listener_port,
                to_port=s.listener_port,
                cidr_ipv4=cidr if ":" not in cidr else None,
                cidr_ipv6=cidr if ":" in cidr else None,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-to-fleet",
            security_group_id=sg.id,
            description="load balancer to the app port inside the VPC",
            ip_protocol="tcp",
            from_port=args.app_port,
            to_port=args.app_port,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )
        lb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=s.internal,
            security_groups=[sg.id],
            subnets=[subnet.id for subnet in args.network.load_balancer_subnets],
            drop_invalid_header_fields=True,
            tags=tags,
            opts=child,
        )
        tg = aws.lb.TargetGroup(
            f"{name}-tg",
            port=args.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.network.vpc_id,
            deregistration_delay=s.deregistration_delay,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=s.health_check_path,
                matcher="200",
                interval=HEALTH_CHECK_INTERVAL,
                healthy_threshold=HEALTHY_THRESHOLD,
                unhealthy_threshold=3,
            ),
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=lb.arn,
            port=s.listener_port,
            protocol="HTTPS" if s.certificate_arn else "HTTP",
            certificate_arn=s.certificate_arn,
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06" if s.certificate_arn else None,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward",
                                                              target_group_arn=tg.arn)],
            tags=tags,
            opts=child,
        )

        self.security_group_id = sg.id
        self.target_group_arn = tg.arn
        self.dns_name = lb.dns_name
        self.arn_suffix = lb.arn_suffix
        self.target_group_arn_suffix = tg.arn_suffix
        self.request_count_label = pulumi.Output.concat(lb.arn_suffix, "/", tg.arn_suffix)
        self.register_outputs({"securityGroupId": sg.id, "targetGroupArn": tg.arn,
                               "dnsName": lb.dns_name,
                               "requestCountLabel": self.request_count_label})
