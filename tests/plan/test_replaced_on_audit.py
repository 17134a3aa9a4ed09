"""The plan's replacement table, field by field, against where each rule comes from.

Each entry names the Terraform AWS provider file (pulumi-aws bridges it) whose schema marks the
field ForceNew, or our dynamic provider's diff. A type the program registers without an entry
here fails: the audit must name its force-new fields before the plan may describe it."""

from __future__ import annotations

import pytest

from plan import model
from plan.resource_types import ALL, REPLACED_ON
from tests.plan.test_plan_honest import registered_custom_types

# Re-read for this change (the rollout's types): autoscaling/group.go (initial_lifecycle_hook and
# every field in it ForceNew), lifecycle_hook.go (only name), schedule.go, notification.go. The
# other entries carry the earlier audit's reading of the same files.
TF = "hashicorp/terraform-provider-aws internal/service/"
AUDIT: dict[str, tuple[str, frozenset[str]]] = {
    "aws:autoscaling/group:Group": (
        TF + "autoscaling/group.go", frozenset({"name", "namePrefix", "initialLifecycleHooks"})),
    "aws:autoscaling/lifecycleHook:LifecycleHook": (
        TF + "autoscaling/lifecycle_hook.go", frozenset({"name"})),
    "aws:autoscaling/policy:Policy": (
        TF + "autoscaling/policy.go", frozenset({"name", "autoscalingGroupName"})),
    "aws:autoscaling/schedule:Schedule": (
        TF + "autoscaling/schedule.go", frozenset({"scheduledActionName",
                                                   "autoscalingGroupName"})),
    "aws:autoscaling/notification:Notification": (
        TF + "autoscaling/notification.go", frozenset({"topicArn"})),
    "aws:ec2/launchConfiguration:LaunchConfiguration": (
        TF + "autoscaling/launch_configuration.go", frozenset({ALL})),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        TF + "ec2/ec2_launch_template.go", frozenset({"name", "namePrefix"})),
    "aws:ec2/securityGroup:SecurityGroup": (
        TF + "ec2/vpc_security_group.go", frozenset({"name", "namePrefix", "description",
                                                     "vpcId"})),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        TF + "ec2/vpc_security_group_ingress_rule.go", frozenset({"securityGroupId"})),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        TF + "ec2/vpc_security_group_egress_rule.go", frozenset({"securityGroupId"})),
    "aws:ec2/tag:Tag": (TF + "ec2/ec2_tag.go", frozenset({"resourceId", "key"})),
    "aws:lb/loadBalancer:LoadBalancer": (
        TF + "elbv2/load_balancer.go", frozenset({"name", "namePrefix", "internal",
                                                  "loadBalancerType", "customerOwnedIpv4Pool"})),
    "aws:lb/targetGroup:TargetGroup": (
        TF + "elbv2/target_group.go", frozenset({"name", "namePrefix", "port", "protocol",
                                                 "protocolVersion", "targetType", "vpcId",
                                                 "ipAddressType"})),
    "aws:lb/listener:Listener": (TF + "elbv2/listener.go", frozenset({"loadBalancerArn"})),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        TF + "cloudwatch/metric_alarm.go", frozenset({"name"})),
    "aws:iam/role:Role": (TF + "iam/role.go", frozenset({"name", "namePrefix", "path"})),
    "aws:iam/rolePolicy:RolePolicy": (
        TF + "iam/role_policy.go", frozenset({"name", "namePrefix", "role"})),
    "aws:iam/instanceProfile:InstanceProfile": (
        TF + "iam/instance_profile.go", frozenset({"name", "namePrefix", "path"})),
    "aws:ssm/parameter:Parameter": (TF + "ssm/parameter.go", frozenset({"name"})),
    "aws:s3/bucketV2:BucketV2": (TF + "s3/bucket.go", frozenset({"bucket", "bucketPrefix"})),
    "aws:s3/bucket:Bucket": (
        TF + "s3/bucket.go", frozenset({"bucket", "bucketPrefix", "objectLockEnabled"})),
    "aws:s3/bucketVersioning:BucketVersioning": (
        TF + "s3/bucket_versioning.go", frozenset({"bucket", "expectedBucketOwner"})),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        TF + "s3/bucket_server_side_encryption_configuration.go",
        frozenset({"bucket", "expectedBucketOwner"})),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        TF + "s3/bucket_lifecycle_configuration.go", frozenset({"bucket",
                                                                "expectedBucketOwner"})),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        TF + "s3/bucket_public_access_block.go", frozenset({"bucket"})),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        TF + "s3/bucket_ownership_controls.go", frozenset({"bucket"})),
    "aws:s3/bucketPolicy:BucketPolicy": (TF + "s3/bucket_policy.go", frozenset({"bucket"})),
    "aws:kms/key:Key": (TF + "kms/key.go", frozenset({
        "customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion", "customKeyStoreId",
        "xksKeyId"})),
    "aws:sns/topic:Topic": (TF + "sns/topic.go", frozenset({"name", "namePrefix",
                                                            "fifoTopic"})),
    "aws:sns/topicSubscription:TopicSubscription": (
        TF + "sns/topic_subscription.go", frozenset({"topicArn", "protocol", "endpoint"})),
    "command:local:Command": ("pulumi-command: triggers replace", frozenset({"triggers"})),
    "pulumi-python:dynamic/consul:KvEntries": (
        "components/consul/kv_provider.py diff", frozenset({"prefix", "address", "datacenter"})),
    "pulumi-python:dynamic/consul:PreparedQuery": (
        "components/consul/prepared_query.py diff", frozenset({"address", "datacenter"})),
    "pulumi-python:dynamic/webtier:RolloutGate": (
        "components/fleet/rollout_gate.py diff: never replaces", frozenset()),
    "pulumi-python:dynamic/webtier:RolloutStart": (
        "components/fleet/rollout_start.py diff: never replaces", frozenset()),
}


def test_the_audit_covers_every_type_the_program_registers() -> None:
    unaudited = sorted(registered_custom_types() - set(AUDIT))
    assert unaudited == [], f"name the force-new fields of {unaudited} (and where they come from)"


@pytest.mark.parametrize("type_", sorted(AUDIT))
def test_the_plan_replaces_on_exactly_the_audited_fields(type_: str) -> None:
    assert REPLACED_ON[type_] == AUDIT[type_][1], AUDIT[type_][0]


def group(**inputs: object) -> model.Resource:
    return model.Resource(key="g", type="aws:autoscaling/group:Group", name="g", parent=None,
                          custom=True, inputs={"desiredCapacity": 2, **inputs}, options={},
                          depends_on=())


def test_a_group_replacement_says_what_it_costs() -> None:
    hooks = ({"name": "webtier-launch", "heartbeatTimeout": 600},)
    later = ({"name": "webtier-launch", "heartbeatTimeout": 900},)
    [change] = model.diff([group(initialLifecycleHooks=hooks)],
                          [group(initialLifecycleHooks=later)])
    assert change.action == "replace"
    assert change.reasons == [
        "initialLifecycleHooks can only change by replacement; replaces the Auto Scaling group: "
        "the new group starts at desiredCapacity, not the live size, and launches every "
        "instance anew"]


def test_a_heartbeat_change_updates_the_hook_in_place_and_keeps_the_group() -> None:
    # Before, the hooks lived in the group's initial_lifecycle_hook only: this edit replaced
    # the whole fleet. Existing stacks see two LifecycleHook creates on their next `up`
    # (PutLifecycleHook takes over the hooks the group made, by name; no alias is needed: no
    # state had them).
    from plan import cli as plan
    before = plan.plan("staging", config_overrides={})
    after = plan.plan("staging", config_overrides={"webtier:rollout.launchHeartbeatTimeout": 900})
    found = {c.label: c for c in model.diff(before, after)}
    groups = [c for c in found.values() if c.type == "aws:autoscaling/group:Group"]
    hooks = [c for c in found.values() if c.type == "aws:autoscaling/lifecycleHook:LifecycleHook"]
    assert [c.action for c in hooks] == ["update"], found
    assert hooks[0].reasons == ["changes in place: heartbeatTimeout"]
    assert all(c.action != "replace" for c in groups), groups
