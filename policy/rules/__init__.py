"""The webtier policy rules as plain functions: resource type and properties in, problems out.

policy/pack.py wraps each one as a pulumi_policy policy. Properties carry the engine's camelCase
names (pulumi-aws 7). During a preview the SDK hands over a proxy that raises UnknownValueError when
a rule touches a value not known yet; resource rules let it propagate (the wrapper reports it),
stack rules catch it per resource so one unknown does not hide the others. A rule never passes
silently on something it could not see: it says "cannot verify".

One module per group of rules: values.py (resource types, property helpers), launch.py,
network.py, user_data.py, iam.py and group.py (stack rules across resources). This package
exports every rule and constant, so callers import from `policy.rules`.
"""

from policy.rules.group import (
    DEFAULT_LAUNCH_TAGS,
    DEFAULT_MINIMUM_AZS,
    SCALING_POLICY_ARN,
    alarms_act_on_own_group,
    elb_health_check,
    launch_tags,
    multi_az,
    subnet_azs_from_network_config,
)
from policy.rules.iam import (
    RESOURCE_STAR_ONLY_ACTIONS,
    RESOURCE_STAR_ONLY_PREFIXES,
    SERVICE_WILDCARD,
    iam_no_wildcards,
)
from policy.rules.launch import (
    PINNED_VERSION,
    encrypted_volumes,
    explicit_template_version,
    imdsv2_required,
    metadata_hop_limit,
    no_public_ip,
    spot_capacity_rebalance,
)
from policy.rules.network import (
    DEFAULT_BLOCKED_PORTS,
    PORT_ROLES,
    restricted_ports,
)
from policy.rules.user_data import (
    GZIP_MAGIC,
    MAX_USER_DATA_BYTES,
    SECRET_PATTERNS,
    no_secrets_in_user_data,
    secrets_in_text,
    user_data_texts,
)
from policy.rules.values import (
    ATTACHMENT,
    GROUP,
    IAM_POLICY,
    IAM_TYPES,
    INGRESS_RULE,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    LAUNCHES,
    METRIC_ALARM,
    ROLE,
    ROLE_POLICY,
    SCALING_POLICY,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SECURITY_GROUP_TYPES,
    SUBNET,
    TRAFFIC_SOURCE_ATTACHMENT,
    Finding,
    StackResource,
    cannot_verify,
)

__all__ = [
    "ATTACHMENT",
    "DEFAULT_BLOCKED_PORTS",
    "DEFAULT_LAUNCH_TAGS",
    "DEFAULT_MINIMUM_AZS",
    "GROUP",
    "GZIP_MAGIC",
    "IAM_POLICY",
    "IAM_TYPES",
    "INGRESS_RULE",
    "LAUNCHES",
    "LAUNCH_CONFIGURATION",
    "LAUNCH_TEMPLATE",
    "MAX_USER_DATA_BYTES",
    "METRIC_ALARM",
    "PINNED_VERSION",
    "PORT_ROLES",
    "RESOURCE_STAR_ONLY_ACTIONS",
    "RESOURCE_STAR_ONLY_PREFIXES",
    "ROLE",
    "ROLE_POLICY",
    "SCALING_POLICY",
    "SCALING_POLICY_ARN",
    "SECRET_PATTERNS",
    "SECURITY_GROUP",
    "SECURITY_GROUP_RULE",
    "SECURITY_GROUP_TYPES",
    "SERVICE_WILDCARD",
    "SUBNET",
    "TRAFFIC_SOURCE_ATTACHMENT",
    "Finding",
    "StackResource",
    "alarms_act_on_own_group",
    "cannot_verify",
    "elb_health_check",
    "encrypted_volumes",
    "explicit_template_version",
    "iam_no_wildcards",
    "imdsv2_required",
    "launch_tags",
    "metadata_hop_limit",
    "multi_az",
    "no_public_ip",
    "no_secrets_in_user_data",
    "restricted_ports",
    "secrets_in_text",
    "spot_capacity_rebalance",
    "subnet_azs_from_network_config",
    "user_data_texts",
]
