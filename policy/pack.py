"""The webtier policies as pulumi_policy objects, and the enforcement level each stack runs them at.

__main__.py serves these through PolicyPack; the tests call the same objects' ``validate``.
Each policy is named after the trusted check it mirrors (AWS Config / Security Hub, Checkov,
Trivy) where one exists; README's policy table lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from contracts import consul_ports
from policy import consul_tls, rules

PACK_NAME = "webtier-policy"
PROJECT = "webtier"
# Stacks whose violations are only reported. Every other stack name, "production" and a name the
# pack could not read included, blocks on a violation: a typo must not make the rules optional.
ADVISORY_STACKS = frozenset({"staging"})

ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Any], Mapping[str, Any]], list[rules.Finding]]


def enforcement_for_stack(stack: str | None) -> EnforcementLevel:
    """Mandatory everywhere except the advisory stacks (staging)."""
    return EnforcementLevel.ADVISORY if stack in ADVISORY_STACKS else EnforcementLevel.MANDATORY


def _resource_policy(name: str, description: str, check: ResourceCheck, *,
                     severity: Severity = Severity.HIGH,
                     config_schema: PolicyConfigSchema | None = None,
                     enforcement_level: EnforcementLevel | None = None
                     ) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            problems = check(args.resource_type, args.props, args.get_config())
        except UnknownValueError as error:
            # The SDK would turn this into an advisory note even under a mandatory policy;
            # reporting it ourselves keeps the policy's own enforcement level.
            problems = [rules.cannot_verify(error)]
        for problem in problems:
            report_violation(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    severity=severity, config_schema=config_schema,
                                    enforcement_level=enforcement_level)


def _stack_policy(name: str, description: str, check: StackCheck, *,
                  severity: Severity = Severity.MEDIUM,
                  config_schema: PolicyConfigSchema | None = None) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        try:
            findings = check(args.resources, args.get_config())
        except UnknownValueError as error:
            findings = [(rules.cannot_verify(error), "")]
        for message, urn in findings:
            report_violation(message, urn or None)

    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 severity=severity, config_schema=config_schema)


def stack_subnet_azs() -> dict[str, str]:
    """Subnet -> AZ from the stack's own ``webtier:network`` config.

    The CLI passes the stack's config to the pack (PULUMI_CONFIG) and pulumi.policy's runner loads
    it into pulumi.runtime before the pack starts, so this reads what Pulumi.<stack>.yaml says.
    """
    return rules.subnet_azs_from_network_config(pulumi.runtime.get_config(f"{PROJECT}:network"))


def _multi_az(resources: Sequence[Any], config: Mapping[str, Any]) -> list[rules.Finding]:
    azs = stack_subnet_azs()
    azs.update({str(k): str(v) for k, v in
                (config.get("subnetAvailabilityZones") or {}).items()})
    minimum = int(config.get("minimumAvailabilityZones", rules.DEFAULT_MINIMUM_AZS))
    return rules.multi_az(resources, minimum=minimum, subnet_azs=azs)


def _restricted_ports(resource_type: str, props: Mapping[str, Any],
                      config: Mapping[str, Any]) -> list[str]:
    ports = config.get("blockedPorts") or rules.DEFAULT_BLOCKED_PORTS
    return rules.restricted_ports(resource_type, props, blocked_ports=[int(p) for p in ports])


def _launch_tags(resources: Sequence[Any], config: Mapping[str, Any]) -> list[rules.Finding]:
    required = config.get("requiredTags") or rules.DEFAULT_LAUNCH_TAGS
    return rules.launch_tags(resources, required=[str(t) for t in required])


POLICIES: list[Policy] = [
    _resource_policy(
        "autoscaling-launchconfig-requires-imdsv2",
        "Launch configurations and templates require IMDSv2 (metadataOptions.httpTokens "
        "\"required\").",
        lambda t, p, _c: rules.imdsv2_required(t, p)),
    _resource_policy(
        "autoscaling-launch-config-hop-limit",
        "Launch configurations and templates set the metadata response hop limit to 1.",
        lambda t, p, _c: rules.metadata_hop_limit(t, p)),
    _resource_policy(
        "autoscaling-enable-at-rest-encryption",
        "Root and data EBS volumes of launch configurations and templates are encrypted.",
        lambda t, p, _c: rules.encrypted_volumes(t, p)),
    _resource_policy(
        "autoscaling-launch-config-public-ip-disabled",
        "Launched instances get no public IP address.",
        lambda t, p, _c: rules.no_public_ip(t, p)),
    _resource_policy(
        "restricted-common-ports",
        "No ingress from 0.0.0.0/0 or ::/0 to SSH (22) or any Consul port "
        f"({', '.join(str(p) for p in sorted(consul_ports.NUMBERS))}).",
        _restricted_ports,
        severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(properties={
            "blockedPorts": {"type": "array", "items": {"type": "integer", "minimum": 0,
                                                        "maximum": 65535}},
        })),
    _resource_policy(
        "autoscaling-no-secrets-in-user-data",
        "User data holds no secret-looking values (AWS keys, private keys, password=/token=, "
        "Consul gossip keys).",
        lambda t, p, _c: rules.no_secrets_in_user_data(t, p),
        severity=Severity.CRITICAL),
    _resource_policy(
        "consul-agent-tls",
        "Launches whose user data starts a Consul agent write the servers' CA certificate and "
        "turn on the agent's TLS block (auto_encrypt, verify_outgoing, verify_server_hostname).",
        lambda t, p, _c: consul_tls.consul_agent_tls(t, p)),
    _resource_policy(
        "iam-no-policy-wildcards",
        "IAM policies allow no \"*\" or \"service:*\" action, and \"*\" resources only for "
        "actions that support nothing else.",
        lambda t, p, _c: rules.iam_no_wildcards(t, p)),
    _resource_policy(
        "autoscaling-launch-template-version-pinned",
        "Auto Scaling groups name an explicit launch template version (not $Latest/$Default).",
        lambda t, p, _c: rules.explicit_template_version(t, p),
        severity=Severity.MEDIUM),
    _resource_policy(
        "autoscaling-spot-capacity-rebalance",
        "Auto Scaling groups that launch spot instances turn capacity rebalance on.",
        lambda t, p, _c: rules.spot_capacity_rebalance(t, p),
        severity=Severity.LOW,
        # A warning: a fleet may accept interruptions (e.g. a small spot share) on purpose.
        enforcement_level=EnforcementLevel.ADVISORY),
    _stack_policy(
        "autoscaling-group-elb-healthcheck-required",
        "Auto Scaling groups behind a load balancer use ELB health checks.",
        lambda resources, _c: rules.elb_health_check(resources)),
    _stack_policy(
        "autoscaling-multiple-az",
        "Auto Scaling groups span at least minimumAvailabilityZones distinct zones.",
        _multi_az,
        config_schema=PolicyConfigSchema(properties={
            "minimumAvailabilityZones": {"type": "integer", "minimum": 1,
                                         "default": rules.DEFAULT_MINIMUM_AZS},
            "subnetAvailabilityZones": {"type": "object",
                                        "additionalProperties": {"type": "string"}},
        })),
    _stack_policy(
        "autoscaling-launch-tags-propagated",
        "The tags that identify an instance (Name at least) are applied at launch.",
        _launch_tags,
        severity=Severity.LOW,
        config_schema=PolicyConfigSchema(properties={
            "requiredTags": {"type": "array", "items": {"type": "string"}},
        })),
    _stack_policy(
        "autoscaling-alarm-scales-own-group",
        "CloudWatch alarms on an Auto Scaling group's metrics act on a scaling policy of that "
        "same group.",
        lambda resources, _c: rules.alarms_act_on_own_group(resources)),
]
