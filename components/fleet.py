"""The Auto Scaling group and what it launches from: a launch template or launch configuration.

Launch templates are the default because AWS accounts created since October 2024 cannot create
launch configurations; `configuration` keeps the original design for accounts that still can.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.settings import CapacitySettings, FleetSettings, NetworkSettings

CONSUL_TCP_UDP_PORTS = (8301,)  # Serf LAN gossip: TCP and UDP
CONSUL_TCP_PORTS = (8300,)  # server RPC


@dataclass(frozen=True)
class FleetArgs:
    settings: FleetSettings
    network: NetworkSettings
    image_id: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    instance_profile_name: pulumi.Input[str]
    load_balancer_security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    user_data: pulumi.Input[str]
    consul_security_group_id: str | None
    consul_cidr: str | None
    join_tag: tuple[str, str]
    environment: str
    tags: Mapping[str, str]
    boot_dependencies: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must exist before an instance boots (SSM secrets, KV): the group waits for them."""
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    """Mixed instances, warm pool, termination policies, lifetime, scale-in protection."""


class Fleet(pulumi.ComponentResource):
    group_name: pulumi.Output[str]
    """Name of the Auto Scaling group (generated from a prefix, so replacements never collide)."""
    group_arn: pulumi.Output[str]
    """ARN of the Auto Scaling group."""
    launch_id: pulumi.Output[str]
    """Id of the launch template, or name of the launch configuration, the group launches from."""
    security_group_id: pulumi.Output[str]
    """Security group of the instances."""

    def __init__(self, name: str, args: FleetArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:fleet:Fleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        tags = dict(args.tags)

        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{name}: app port from the load balancer, Consul from the cluster",
            vpc_id=args.network.vpc_id,
            tags={**tags, "Name": name},
            opts=child,
        )
        self._ingress(name, sg, args, child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress",
            security_group_id=sg.id,
            description="instances reach S3, SSM, Consul servers and package mirrors",
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )

        group_tags = {**tags, "Name": name, "environment": args.environment,
                      args.join_tag[0]: args.join_tag[1]}
        # Autoscaling owns the running count after creation; the next `up` must not reset it.
        group_opts = pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"],
                                            depends_on=list(args.boot_dependencies))
        launch_template: aws.autoscaling.GroupLaunchTemplateArgs | None = None
        launch_configuration: pulumi.Output[str] | None = None
        instance_refresh: aws.autoscaling.GroupInstanceRefreshArgs | None = None

        capacity = args.capacity
        hibernated = capacity.warm_pool is not None and capacity.warm_pool.state == "Hibernated"
        mixed_policy: aws.autoscaling.GroupMixedInstancesPolicyArgs | None = None

        if s.launch_kind == "template":
            template = aws.ec2.LaunchTemplate(
                f"{name}-template",
                name_prefix=f"{name}-",
                image_id=args.image_id,
                instance_type=s.instance_type,
                iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(
                    arn=args.instance_profile_arn),
                user_data=pulumi.Output.from_input(args.user_data).apply(
                    lambda text: base64.b64encode(text.encode()).decode()),
                network_interfaces=[aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="false",
                    security_groups=[sg.id],
                    delete_on_termination="true",
                )],
                block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=s.root_volume_size,
                        volume_type=s.root_volume_type,
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )],
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=1,
                ),
                monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
                hibernation_options=aws.ec2.LaunchTemplateHibernationOptionsArgs(configured=True)
                if hibernated else None,
                tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type="volume", tags=group_tags)],
                update_default_version=True,
                tags=tags,
                opts=child,
            )
            # An explicit version: a new template version is a diff on the group, which starts
            # the instance refresh below. "$Latest" would hide it.
            launch_template = aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str))
            if capacity.mixed is not None:
                # The group takes either a launch template or a mixed instances policy.
                mixed_policy = mixed_instances_policy(capacity, template.id,
                                                      template.latest_version.apply(str))
                launch_template = None
            instance_refresh = aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=s.min_healthy_percentage,
                    instance_warmup=str(s.instance_warmup),
                    auto_rollback=True,
                    skip_matching=True,
                ),
            )
            self.launch_id = template.id
        else:
            configuration = aws.ec2.LaunchConfiguration(
                f"{name}-configuration",
                # Launch configurations are immutable: every change is a replacement, created
                # before the old one is deleted (Pulumi's default), so the group always has one.
                name_prefix=f"{name}-",
                image_id=args.image_id,
                instance_type=s.instance_type,
                iam_instance_profile=args.instance_profile_name,
                security_groups=[sg.id],
                user_data=args.user_data,
                associate_public_ip_address=False,
                enable_monitoring=True,
                root_block_device=aws.ec2.LaunchConfigurationRootBlockDeviceArgs(
                    volume_size=s.root_volume_size,
                    volume_type=s.root_volume_type,
                    encrypted=True,
                    delete_on_termination=True,
                ),
                metadata_options=aws.ec2.LaunchConfigurationMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=1,
                ),
                opts=child,
            )
            launch_configuration = configuration.name
            self.launch_id = configuration.name

        group = aws.autoscaling.Group(
            f"{name}-group",
            name_prefix=f"{name}-",
            launch_template=launch_template,
            launch_configuration=launch_configuration,
            instance_refresh=instance_refresh,
            min_size=s.min_size,
            max_size=s.max_size,
            desired_capacity=s.desired_capacity,
            vpc_zone_identifiers=[subnet.id for subnet in args.network.fleet_subnets],
            target_group_arns=[args.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=s.health_check_grace_period,
            # `pulumi up` returns only when this many instances pass the LB health check.
            wait_for_elb_capacity=s.min_size,
            default_instance_warmup=s.instance_warmup,
            enabled_metrics=[aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                             aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                             aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES],
            tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                  for k, v in sorted(group_tags.items())],
            mixed_instances_policy=mixed_policy,
            capacity_rebalance=capacity.mixed.capacity_rebalance if capacity.mixed else None,
            warm_pool=warm_pool(capacity),
            termination_policies=list(capacity.termination_policies) or None,
            max_instance_lifetime=capacity.max_instance_lifetime or None,
            protect_from_scale_in=capacity.protect_from_scale_in or None,
            opts=group_opts,
        )

        self.group_name = group.name
        self.group_arn = group.arn
        self.security_group_id = sg.id
        self.register_outputs({"groupName": group.name, "groupArn": group.arn,
                               "launchId": self.launch_id, "securityGroupId": sg.id})

    @staticmethod
    def _ingress(name: str, sg: aws.ec2.SecurityGroup, args: FleetArgs,
                 child: pulumi.ResourceOptions) -> None:
        port = args.settings.app_port
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-app-from-lb",
            security_group_id=sg.id,
            description="app port, only from the load balancer",
            ip_protocol="tcp", from_port=port, to_port=port,
            referenced_security_group_id=args.load_balancer_security_group_id,
            opts=child,
        )
        rules = [(p, "tcp") for p in (*CONSUL_TCP_PORTS, *CONSUL_TCP_UDP_PORTS)]
        rules += [(p, "udp") for p in CONSUL_TCP_UDP_PORTS]
        for p, protocol in rules:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-consul-{p}-{protocol}",
                security_group_id=sg.id,
                description=f"Consul {'RPC' if p == 8300 else 'gossip'} from the Consul cluster",
                ip_protocol=protocol, from_port=p, to_port=p,
                referenced_security_group_id=args.consul_security_group_id,
                cidr_ipv4=None if args.consul_security_group_id else args.consul_cidr,
                opts=child,
            )


def mixed_instances_policy(capacity: CapacitySettings, template_id: pulumi.Input[str],
                           version: pulumi.Input[str]
                           ) -> aws.autoscaling.GroupMixedInstancesPolicyArgs:
    """Instance types (or vCPU/memory ranges) over the fleet's template, and the spot split."""
    m = capacity.mixed
    assert m is not None
    asg = aws.autoscaling
    if m.vcpu is not None and m.memory_mib is not None:
        overrides = [asg.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
            instance_requirements=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsArgs(
                vcpu_count=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsVcpuCountArgs(
                    min=m.vcpu.min, max=m.vcpu.max),
                memory_mib=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsMemoryMibArgs(
                    min=m.memory_mib.min, max=m.memory_mib.max),
            ))]
    else:
        overrides = [asg.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                     for t in m.instance_types]
    return asg.GroupMixedInstancesPolicyArgs(
        launch_template=asg.GroupMixedInstancesPolicyLaunchTemplateArgs(
            launch_template_specification=asg
            .GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                launch_template_id=template_id, version=version),
            overrides=overrides,
        ),
        instances_distribution=asg.GroupMixedInstancesPolicyInstancesDistributionArgs(
            on_demand_base_capacity=m.on_demand_base,
            on_demand_percentage_above_base_capacity=m.on_demand_percentage,
            spot_allocation_strategy=m.spot_strategy,
        ),
    )


def warm_pool(capacity: CapacitySettings) -> aws.autoscaling.GroupWarmPoolArgs | None:
    """Pre-initialised instances beside the group (the rollout's lifecycle hooks run on them too:
    an instance entering the pool goes through the launch hook before it stops)."""
    w = capacity.warm_pool
    if w is None:
        return None
    return aws.autoscaling.GroupWarmPoolArgs(
        pool_state=w.state,
        min_size=w.min_size,
        max_group_prepared_capacity=w.max_prepared,
        instance_reuse_policy=aws.autoscaling.GroupWarmPoolInstanceReusePolicyArgs(
            reuse_on_scale_in=w.reuse_on_scale_in),
    )
