"""What the plan knows per resource type: its token, the inputs that replace it, what it shows.

Data only, audited against the provider (tests/plan/test_plan_honest.py fails on a registered type
with no entry); plan/model.py decides what a change does from it.
"""

from __future__ import annotations

from collections.abc import Mapping

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
GROUP = "aws:autoscaling/group:Group"
COMMAND = "command:local:Command"
STACK = "pulumi:pulumi:Stack"

ALL = "*"
TAG = "aws:ec2/tag:Tag"
KV_ENTRIES = "pulumi-python:dynamic/consul:KvEntries"
ROLLOUT_START = "pulumi-python:dynamic/webtier:RolloutStart"
# Inputs whose change makes the provider replace the resource: ForceNew / RequiresReplace in the
# Terraform AWS provider that pulumi-aws bridges (its internal/service/<service>/*.go schemas),
# `replaces` in our dynamic provider's diff. ALL: immutable, every input change replaces it.
# Every custom type the program registers must be here (tests/plan/test_plan_honest.py); an empty
# set says "audited: updates in place" rather than "not looked at".
REPLACED_ON: Mapping[str, frozenset[str]] = {
    LAUNCH_CONFIGURATION: frozenset({ALL}),
    LAUNCH_TEMPLATE: frozenset({"name", "namePrefix"}),
    # initial_lifecycle_hook (every field of it) is ForceNew in group.go: the fleet ignores it
    # after creation and keeps the hooks with LifecycleHook resources instead.
    GROUP: frozenset({"name", "namePrefix", "initialLifecycleHooks"}),
    # lifecycle_hook.go: only the name is ForceNew (PutLifecycleHook updates the rest in place).
    "aws:autoscaling/lifecycleHook:LifecycleHook": frozenset({"name"}),
    # A Command re-runs `create` on any other change; `triggers` exist to force a new resource.
    COMMAND: frozenset({"triggers"}),
    # resource_id and key are ForceNew; a new value is written in place (CreateTags).
    TAG: frozenset({"resourceId", "key"}),
    "aws:ec2/securityGroup:SecurityGroup": frozenset({"name", "namePrefix", "description",
                                                      "vpcId"}),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": frozenset({"securityGroupId"}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": frozenset({"securityGroupId"}),
    "aws:lb/loadBalancer:LoadBalancer": frozenset({"name", "namePrefix", "internal",
                                                   "loadBalancerType",
                                                   "customerOwnedIpv4Pool"}),
    "aws:lb/targetGroup:TargetGroup": frozenset({"name", "namePrefix", "port", "protocol",
                                                 "protocolVersion", "targetType", "vpcId",
                                                 "ipAddressType"}),
    "aws:lb/listener:Listener": frozenset({"loadBalancerArn"}),
    "aws:autoscaling/policy:Policy": frozenset({"name", "autoscalingGroupName"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    "aws:iam/instanceProfile:InstanceProfile": frozenset({"name", "namePrefix", "path"}),
    "aws:ssm/parameter:Parameter": frozenset({"name"}),
    "aws:s3/bucketV2:BucketV2": frozenset({"bucket", "bucketPrefix"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    # The bucket's settings resources: moving one to another bucket (or owner) replaces it.
    "aws:s3/bucketVersioning:BucketVersioning": frozenset({"bucket", "expectedBucketOwner"}),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        frozenset({"bucket", "expectedBucketOwner"}),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        frozenset({"bucket", "expectedBucketOwner"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": frozenset({"bucket"}),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": frozenset({"bucket"}),
    "aws:s3/bucketPolicy:BucketPolicy": frozenset({"bucket"}),
    # components/consul/kv.py KvProvider.diff: another prefix, cluster or datacenter is a new
    # set of keys.
    KV_ENTRIES: frozenset({"prefix", "address", "datacenter"}),
    # components/consul/prepared_query.py diff (REPLACE_ON): another cluster or datacenter.
    "pulumi-python:dynamic/consul:PreparedQuery": frozenset({"address", "datacenter"}),
    # components/fleet/rollout_gate.py diff: never replaces; a change waits for the new refresh.
    "pulumi-python:dynamic/webtier:RolloutGate": frozenset(),
    # components/fleet/rollout_start.py diff: never replaces; a new launch setting starts a refresh.
    ROLLOUT_START: frozenset(),
    "aws:autoscaling/notification:Notification": frozenset({"topicArn"}),
    "aws:autoscaling/schedule:Schedule": frozenset({"scheduledActionName",
                                                    "autoscalingGroupName"}),
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion",
                                  "customKeyStoreId", "xksKeyId"}),
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"topicArn", "protocol",
                                                              "endpoint"}),
}

# What replacing one of these does beyond "a new one": the plan says it beside the reason.
REPLACEMENT_CONSEQUENCE: Mapping[str, str] = {
    GROUP: "replaces the Auto Scaling group: the new group starts at desiredCapacity, not the "
           "live size, and launches every instance anew",
    "aws:lb/loadBalancer:LoadBalancer": "a new load balancer has a new DNS name: records and "
                                        "clients pointing at the old one break",
    "aws:ec2/securityGroup:SecurityGroup": "a new security group: every rule and every "
                                           "instance using it moves",
}

# Resources whose outputs change when they change, so everything reading them changes too:
# a command's stdout (e.g. the AMI a Packer build prints) and a launch template's latest version.
OUTPUTS_CHANGE_ON_UPDATE = frozenset({COMMAND, LAUNCH_TEMPLATE})

# The inputs the tree shows per type, in this order; other types show every input but tags.
SHOWN: Mapping[str, tuple[str, ...]] = {
    GROUP: ("namePrefix", "name", "minSize", "maxSize", "desiredCapacity", "launchTemplate",
            "launchConfiguration", "vpcZoneIdentifiers", "targetGroupArns", "healthCheckType",
            "healthCheckGracePeriod", "waitForElbCapacity", "defaultInstanceWarmup",
            "instanceRefresh", "instanceMaintenancePolicy", "initialLifecycleHooks",
            "mixedInstancesPolicy", "capacityRebalance", "warmPool",
            "terminationPolicies", "maxInstanceLifetime", "protectFromScaleIn"),
    LAUNCH_TEMPLATE: ("namePrefix", "name", "imageId", "instanceType", "iamInstanceProfile",
                      "userData", "networkInterfaces", "blockDeviceMappings", "metadataOptions",
                      "hibernationOptions", "updateDefaultVersion"),
    LAUNCH_CONFIGURATION: ("namePrefix", "name", "imageId", "instanceType",
                           "iamInstanceProfile", "securityGroups", "userData",
                           "associatePublicIpAddress", "rootBlockDevice", "metadataOptions"),
}
HIDDEN_IN_TREE = frozenset({"tags", "tagsAll", "tagSpecifications"})
