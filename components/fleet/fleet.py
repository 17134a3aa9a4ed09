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

from components.fleet import refresh_request
from components.fleet.capacity_options import mixed_instances_policy, warm_pool
from components.fleet.rollout_start_resource import RolloutStart, RolloutStartArgs
from components.settings import (
    CapacitySettings,
    FleetSettings,
    NetworkSettings,
    RolloutSettings,
)
from contracts import consul_ports, lifecycle

# What the group reports to the notification topic: the failures nobody would see otherwise.
GROUP_EVENTS = (aws.autoscaling.NotificationType.INSTANCE_LAUNCH_ERROR,
                aws.autoscaling.NotificationType.INSTANCE_TERMINATE_ERROR)


@dataclass(frozen=True)
class FleetArgs:
    settings: FleetSettings
    network: NetworkSettings
    rollout: RolloutSettings
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
    refresh_alarm_names: Sequence[pulumi.Input[str]] = ()
    """Alarms that stop an instance refresh (the health alarms), if rollout.alarmRollback."""
    notification_topic_arn: pulumi.Input[str] | None = None
    """Where the group reports instances it failed to launch or terminate."""
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    """Mixed instances, warm pool, termination policies, lifetime, scale-in protection."""
    region: str = ""
    """Where the rollout's instance refresh is started (components/fleet/rollout_start.py)."""
    sized_by_schedules: bool = False
    """Scheduled actions set minSize/maxSize: the program must not reset them on the next `up`."""


class Fleet(pulumi.ComponentResource):
    group_name: pulumi.Output[str]
    """Name of the Auto Scaling group (generated from a prefix, so replacements never collide)."""
    group_arn: pulumi.Output[str]
    """ARN of the Auto Scaling group."""
    launch_id: pulumi.Output[str]
    """Id of the launch template, or name of the launch configuration, the group launches from."""
    launch_version: pulumi.Output[str]
    """Template version the group launches (template mode), or the configuration's name."""
    group: aws.autoscaling.Group
    """The group itself: the rollout gate depends on it."""
    refresh_id: pulumi.Output[str]
    """The instance refresh the rollout last started ('' before the first): the gate's input."""
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
        launch_template: aws.autoscaling.GroupLaunchTemplateArgs | None = None
        launch_configuration: pulumi.Output[str] | None = None
        desired: pulumi.Output[dict[str, object]] | None = None

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
            # An explicit version ("$Latest" would hide a change, and AWS rolls back only to a
            # numbered one). The group takes it at creation only: afterwards the rollout's
            # instance refresh moves it, when it succeeds (components/fleet/rollout_start.py).
            version = template.latest_version.apply(str)
            launch_template = aws.autoscaling.GroupLaunchTemplateArgs(id=template.id,
                                                                      version=version)
            if capacity.mixed is not None:
                # The group takes either a launch template or a mixed instances policy.
                mixed_policy = mixed_instances_policy(capacity, template.id, version)
                launch_template = None
                desired = pulumi.Output.all(template.id, version).apply(
                    lambda iv: refresh_request.mixed_instances(capacity, iv[0], iv[1]))
            else:
                desired = pulumi.Output.all(template.id, version).apply(
                    lambda iv: refresh_request.launch_template(iv[0], iv[1]))
            self.launch_id = template.id
            self.launch_version = version
            launch = pulumi.Output.concat(template.id, ":", version)
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
            self.launch_version = configuration.name
            launch = configuration.name

        group_opts = pulumi.ResourceOptions(
            parent=self, depends_on=list(args.boot_dependencies),
            ignore_changes=_ignored(s.launch_kind, args.sized_by_schedules),
            custom_timeouts=pulumi.CustomTimeouts(create=f"{_capacity_wait(args) + 300}s",
                                                  update=f"{_capacity_wait(args) + 300}s"))

        group = aws.autoscaling.Group(
            f"{name}-group",
            name_prefix=f"{name}-",
            launch_template=launch_template,
            launch_configuration=launch_configuration,
            min_size=s.min_size,
            max_size=s.max_size,
            desired_capacity=s.desired_capacity,
            vpc_zone_identifiers=[subnet.id for subnet in args.network.fleet_subnets],
            target_group_arns=[args.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=s.health_check_grace_period,
            # On creation `pulumi up` returns only when this many instances pass the LB health
            # check; updates wait for no exact count (wait_for_elb_capacity would, and fail when
            # minSize changes while scaled out).
            min_elb_capacity=s.min_size,
            # A new instance may sit in the launch hook for its whole heartbeat, then boot.
            wait_for_capacity_timeout=f"{_capacity_wait(args)}s",
            default_instance_warmup=s.instance_warmup,
            enabled_metrics=[aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                             aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                             aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES],
            tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                  for k, v in sorted(group_tags.items())],
            # Every replacement (refresh, rebalancing, health) keeps this much capacity.
            instance_maintenance_policy=aws.autoscaling.GroupInstanceMaintenancePolicyArgs(
                min_healthy_percentage=args.rollout.min_healthy_percentage,
                max_healthy_percentage=args.rollout.max_healthy_percentage,
            ),
            # Part of the group's creation, so they hold the very first instances too; ignored
            # afterwards (the provider replaces the group on any change of them) while the
            # LifecycleHook resources below keep them up to date in place.
            initial_lifecycle_hooks=_lifecycle_hooks(args.rollout),
            mixed_instances_policy=mixed_policy,
            capacity_rebalance=capacity.mixed.capacity_rebalance if capacity.mixed else None,
            warm_pool=warm_pool(capacity),
            termination_policies=list(capacity.termination_policies) or None,
            max_instance_lifetime=capacity.max_instance_lifetime or None,
            protect_from_scale_in=capacity.protect_from_scale_in or None,
            opts=group_opts,
        )

        if args.notification_topic_arn is not None:
            aws.autoscaling.Notification(
                f"{name}-group-events",
                group_names=[group.name],
                notifications=list(GROUP_EVENTS),
                topic_arn=args.notification_topic_arn,
                opts=child,
            )

        for hook in _lifecycle_hooks(args.rollout):
            aws.autoscaling.LifecycleHook(
                f"{name}-hook-{hook.name}",
                name=hook.name,
                autoscaling_group_name=group.name,
                lifecycle_transition=hook.lifecycle_transition,
                default_result=hook.default_result,
                heartbeat_timeout=hook.heartbeat_timeout,
                opts=child,
            )

        alarms = list(args.refresh_alarm_names)
        start = RolloutStart(f"{name}-rollout-start", RolloutStartArgs(
            region=args.region,
            group_name=group.name,
            desired=desired,
            launch=launch,
            preferences=refresh_request.preferences(
                args.rollout, warmup=s.instance_warmup, alarms=alarms,
                protect_from_scale_in=capacity.protect_from_scale_in,
                template=s.launch_kind == "template"),
        ), opts=pulumi.ResourceOptions(parent=self, depends_on=[group]))

        self.group = group
        self.refresh_id = start.refreshId
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
        rules = [(p, protocol) for p in consul_ports.FLEET_INBOUND_FROM_CLUSTER
                 for protocol in p.protocols]
        for p, protocol in rules:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-consul-{p.port}-{protocol}",
                security_group_id=sg.id,
                description=f"{p.purpose} from the Consul cluster",
                ip_protocol=protocol, from_port=p.port, to_port=p.port,
                referenced_security_group_id=args.consul_security_group_id,
                cidr_ipv4=None if args.consul_security_group_id else args.consul_cidr,
                opts=child,
            )


def _ignored(kind: str, sized_by_schedules: bool) -> list[str]:
    # Autoscaling owns the running count after creation; the next `up` must not reset it.
    ignored = ["desiredCapacity", "initialLifecycleHooks"]
    if kind == "template":
        # The rollout's instance refresh moves these, on success only.
        ignored += ["launchTemplate", "mixedInstancesPolicy"]
    if sized_by_schedules:
        # Like CloudFormation's IgnoreUnmodifiedGroupSizeProperties: a scheduled action set
        # them, and `pulumi up --refresh` must not put them back.
        ignored += ["minSize", "maxSize"]
    return ignored


def _capacity_wait(args: FleetArgs) -> int:
    """Seconds a new instance may take to be in service: launch hook, boot and grace period."""
    return (args.rollout.launch_heartbeat_timeout + args.settings.health_check_grace_period
            + 300)


def _lifecycle_hooks(r: RolloutSettings) -> list[aws.autoscaling.GroupInitialLifecycleHookArgs]:
    return [
        # ABANDON by default: an instance that never proves itself healthy is not kept.
        aws.autoscaling.GroupInitialLifecycleHookArgs(
            name=lifecycle.LAUNCH_HOOK,
            lifecycle_transition=lifecycle.LAUNCH_TRANSITION,
            default_result="ABANDON",
            heartbeat_timeout=r.launch_heartbeat_timeout,
        ),
        # CONTINUE by default: a leaving instance that hangs is terminated anyway.
        aws.autoscaling.GroupInitialLifecycleHookArgs(
            name=lifecycle.TERMINATE_HOOK,
            lifecycle_transition=lifecycle.TERMINATE_TRANSITION,
            default_result="CONTINUE",
            heartbeat_timeout=r.terminate_heartbeat_timeout,
        ),
    ]
