"""The web tier, wired: stack settings -> components -> stack outputs.

Reads like the README's diagram: image, secrets, role, bucket, load balancer and the Consul KV
the instances render their config from, then the fleet that needs them all, its notification
topic (when configured) and its scaling.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.access.instance_role import InstanceRole, InstanceRoleArgs
from components.access.node_secrets import NodeSecrets, NodeSecretsArgs
from components.access.release_bucket import ReleaseBucket, ReleaseBucketArgs
from components.consul.kv import ConsulConnection, ConsulKv, ConsulKvArgs
from components.consul.prepared_query import PreparedQueries, PreparedQueriesArgs
from components.consul.template_keys import template_coverage_errors
from components.fleet.fleet import Fleet, FleetArgs
from components.fleet.health_alarms import HealthAlarms, HealthAlarmsArgs
from components.fleet.load_balancer import LoadBalancer, LoadBalancerArgs
from components.fleet.notifications import Notifications, NotificationsArgs
from components.fleet.rollout_gate import RolloutGate, RolloutGateArgs
from components.fleet.scaling import Scaling, ScalingArgs
from components.fleet.user_data import AppService, BootSettings, LifecycleBoot, render
from components.image.golden_image import GoldenImage, GoldenImageArgs
from components.settings import StackSettings, load_settings
from contracts.consul_agent import node_name_prefix
from contracts.lifecycle import group_name_prefix
from contracts.names import permissions_boundary_policy
from contracts.release_layout import default_release_bucket, release_prefix

ROOT = Path(__file__).resolve().parent


def templates_covered(s: StackSettings) -> list[str]:
    """Every key a consul-template template reads must exist in this stack's KV."""
    return template_coverage_errors(ROOT / "config" / "templates", s.kv.keys, s.stack)


settings = load_settings(ROOT, extra_checks=templates_covered)
name = settings.name
tags = {**settings.tags, "app": settings.app, "environment": settings.stack,
        "managed-by": "pulumi"}

account_id = aws.get_caller_identity().account_id
# The bucket name is fixed before the bucket exists so the instance role can be scoped to it.
release_bucket_name = settings.release.bucket_name or default_release_bucket(
    settings.app, settings.stack, account_id)

image = GoldenImage(f"{name}-image", GoldenImageArgs(
    mode=settings.image.source,
    region=settings.region,
    role=settings.app,
    base_source_ami=settings.image.base_source_ami,
    ami_id=settings.image.ami_id,
    builder_instance_type=settings.image.builder_instance_type,
    name_prefix=settings.image.name_prefix,
    keep_last=settings.image.keep_last,
))

node_secrets = NodeSecrets(f"{name}-node-secrets", NodeSecretsArgs(
    ssm_prefix=settings.ssm_prefix,
    gossip_key=settings.secrets.gossip_key.output(),
    agent_token=settings.secrets.agent_token.output(),
    template_token=settings.secrets.template_token.output(),
    tags=tags,
    ca_cert=settings.consul.tls.ca_cert if settings.consul.tls.enabled else None,
))

load_balancer = LoadBalancer(f"{name}-lb", LoadBalancerArgs(
    settings=settings.load_balancer,
    network=settings.network,
    app_port=settings.fleet.app_port,
    tags=tags,
))

role = InstanceRole(f"{name}-instance", InstanceRoleArgs(
    region=settings.region,
    account_id=account_id,
    release_bucket=release_bucket_name,
    release_prefix=release_prefix(settings.app),
    ssm_prefix=settings.ssm_prefix,
    group_name_prefix=group_name_prefix(f"{name}-fleet"),
    tags=tags,
    permissions_boundary=(f"arn:aws:iam::{account_id}:policy/"
                          f"{permissions_boundary_policy(settings.stack)}"),
))

release_bucket = ReleaseBucket(f"{name}-releases", ReleaseBucketArgs(
    bucket_name=release_bucket_name,
    reader_role_arns=[role.role_arn],
    writer_role_arns=list(settings.release.deployer_role_arns),
    tags=tags,
))

# The settings must be in KV before an instance boots: consul-template fails on missing keys.
kv = ConsulKv(f"{name}-kv", ConsulKvArgs(
    prefix=settings.kv.prefix,
    entries={**settings.kv.values,
             **{key: secret.output() for key, secret in settings.secrets.kv_values.items()}},
    secret_keys=settings.kv.secret_keys,
    connection=ConsulConnection(
        address=settings.consul.address,
        datacenter=settings.consul.datacenter,
        ca_cert=settings.consul.ca_cert_pem,
        token=settings.secrets.kv_token.output() if settings.secrets.kv_token else None,
    ),
))

# A stack with WAN peers lets its apps fail over to them: <service>-failover.query.consul.
# KV is not among what crosses: each datacenter's stack writes its own (docs/consul.md).
if settings.consul.wan.failover_services:
    queries = PreparedQueries(f"{name}-queries", PreparedQueriesArgs(
        services=settings.consul.wan.failover_services,
        peers=settings.consul.wan.peers,
        datacenter=settings.consul.datacenter,
        address=settings.consul.address,
        token=settings.secrets.kv_token.output() if settings.secrets.kv_token else None,
        ca_pem=settings.consul.tls.ca_cert,
    ))
    pulumi.export("failoverQueries", queries.query_ids)

user_data = render(BootSettings(
    environment=settings.stack,
    app=settings.app,
    region=settings.region,
    datacenter=settings.consul.datacenter,
    kv_prefix=settings.kv.prefix,
    release_bucket=release_bucket_name,
    deploy_pointer_key=settings.deploy_keys.current,
    ssm_prefix=settings.ssm_prefix,
    join_tag_key=settings.consul.join_tag_key,
    join_tag_value=settings.consul.join_tag_value,
    node_name_prefix=node_name_prefix(settings.app, settings.stack),
    tls=settings.consul.tls.enabled,
    advertise_addr_wan=settings.consul.wan.advertise_addr_wan,
    hooks=LifecycleBoot(
        health_url=(f"http://127.0.0.1:{settings.fleet.app_port}"
                    f"{settings.load_balancer.health_check_path}"),
        launch_deadline=settings.rollout.launch_heartbeat_timeout,
    ),
    service=AppService(
        port=settings.fleet.app_port,
        health_path=settings.load_balancer.health_check_path,
        interval=settings.consul.service_check.interval,
        timeout=settings.consul.service_check.timeout,
    ),
    restart_concurrency=settings.consul.restart_concurrency,
))

# Where the group's failures and every alarm are reported.
notifications = Notifications(f"{name}-notifications", NotificationsArgs(
    settings=settings.notifications,
    account_id=account_id,
    tags=tags,
)) if settings.notifications is not None else None

# What stops an instance refresh, and what a notification topic subscribes to.
health = HealthAlarms(f"{name}-health", HealthAlarmsArgs(
    settings=settings.rollout,
    load_balancer_arn_suffix=load_balancer.arn_suffix,
    target_group_arn_suffix=load_balancer.target_group_arn_suffix,
    tags=tags,
    notification_topic_arn=notifications.topic_arn if notifications else None,
))

fleet = Fleet(f"{name}-fleet", FleetArgs(
    settings=settings.fleet,
    network=settings.network,
    rollout=settings.rollout,
    image_id=image.image_id,
    instance_profile_arn=role.instance_profile_arn,
    instance_profile_name=role.instance_profile_name,
    load_balancer_security_group_id=load_balancer.security_group_id,
    target_group_arn=load_balancer.target_group_arn,
    user_data=user_data,
    consul_security_group_id=settings.consul.cluster_security_group_id,
    consul_cidr=settings.consul.cluster_cidr,
    join_tag=(settings.consul.join_tag_key, settings.consul.join_tag_value),
    environment=settings.stack,
    tags=tags,
    boot_dependencies=[node_secrets, kv],
    refresh_alarm_names=[health.alarm_names.apply(lambda names: names[0]),
                         health.alarm_names.apply(lambda names: names[1])],
    capacity=settings.capacity,
    notification_topic_arn=notifications.topic_arn if notifications else None,
    region=settings.region,
    sized_by_schedules=bool(settings.scaling.schedules),
))

# `up` waits for the instance refresh the fleet's rollout started, and fails with it.
if settings.rollout.wait:
    RolloutGate(f"{name}-rollout-gate", RolloutGateArgs(
        settings=settings.rollout,
        region=settings.region,
        group_name=fleet.group_name,
        refresh_id=fleet.refresh_id,
    ), opts=pulumi.ResourceOptions(parent=fleet, depends_on=[fleet.group]))


scaling = Scaling(f"{name}-scaling", ScalingArgs(
    settings=settings.scaling,
    group_name=fleet.group_name,
    group_label=name,
    request_count_label=load_balancer.request_count_label,
    notification_topic_arn=notifications.topic_arn if notifications else None,
))

pulumi.export("groupName", fleet.group_name)
pulumi.export("launchKind", settings.fleet.launch_kind)
pulumi.export("launchId", fleet.launch_id)
pulumi.export("amiId", image.image_id)
pulumi.export("imageContentHash", image.content_hash)
pulumi.export("loadBalancerDnsName", load_balancer.dns_name)
pulumi.export("releaseBucket", release_bucket.bucket_name)
pulumi.export("policyArns", scaling.policy_arns)
pulumi.export("alarmArns", scaling.alarm_arns)
pulumi.export("healthAlarmArns", health.alarm_arns)
pulumi.export("healthAlarmNames", health.alarm_names)
pulumi.export("kvKeys", kv.keys)
if notifications is not None:
    pulumi.export("notificationTopicArn", notifications.topic_arn)
