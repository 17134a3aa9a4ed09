"""The pack's policy objects and the offline runner's argument objects, without an analyzer: the
severity, schema and level each policy declares, where violations are attributed, and how a
--policy-pack-config document resolves into (level, properties)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from policy import offline, rules
from policy.pack import POLICIES, _resource_policy, _stack_policy

POLICY = {p.name: p for p in POLICIES}
UNKNOWN_PORTS = offline.wire_props({"ports": offline.UNKNOWN})


def test_every_policy_declares_its_severity_level_and_config() -> None:
    declared = {p.name: (type(p).__name__, p.severity, p.enforcement_level,
                         sorted(p.config_schema.properties) if p.config_schema else None)
                for p in POLICIES}
    resource, stack = "ResourceValidationPolicy", "StackValidationPolicy"
    high, medium, low, critical = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL
    assert declared == {
        "autoscaling-launchconfig-requires-imdsv2": (resource, high, None, None),
        "autoscaling-launch-config-hop-limit": (resource, high, None, None),
        "autoscaling-enable-at-rest-encryption": (resource, high, None, None),
        "autoscaling-launch-config-public-ip-disabled": (resource, high, None, None),
        "restricted-common-ports": (resource, critical, None, ["blockedPorts"]),
        "autoscaling-no-secrets-in-user-data": (resource, critical, None, None),
        "consul-agent-tls": (resource, high, None, None),
        "iam-no-policy-wildcards": (resource, high, None, None),
        "autoscaling-launch-template-version-pinned": (resource, medium, None, None),
        "autoscaling-spot-capacity-rebalance": (resource, low, EnforcementLevel.ADVISORY, None),
        "autoscaling-group-elb-healthcheck-required": (stack, medium, None, None),
        "autoscaling-multiple-az": (stack, medium, None,
                                    ["minimumAvailabilityZones", "subnetAvailabilityZones"]),
        "autoscaling-launch-tags-propagated": (stack, low, None, ["requiredTags"]),
        "autoscaling-alarm-scales-own-group": (stack, medium, None, None),
    }


def test_a_resource_violation_is_attributed_to_the_validated_resource() -> None:
    subject = POLICY["autoscaling-launch-config-public-ip-disabled"]
    assert isinstance(subject, ResourceValidationPolicy)
    args = offline.resource_args(rules.LAUNCH_CONFIGURATION, {"associatePublicIpAddress": True},
                                 name="web-lc")
    found = offline.run_resource_policy(subject, args)
    assert [(v.policy, v.urn) for v in found] == [(
        subject.name, "urn:pulumi:test::webtier::aws:ec2/launchConfiguration:LaunchConfiguration"
                      "::web-lc")]


def test_offline_arguments_carry_the_defaults_an_engine_request_has() -> None:
    args = offline.resource_args(rules.GROUP, {})
    assert (args.name, args.urn) == ("subject",
                                     "urn:pulumi:test::webtier::aws:autoscaling/group:Group::subject")
    resource = offline.policy_resource(rules.GROUP, {}, name="g", parent="urn:parent")
    options = resource.opts
    assert (options.protect, options.parent, options.custom_timeouts.create_seconds,
            options.custom_timeouts.update_seconds, options.custom_timeouts.delete_seconds) == (
        False, "urn:parent", 0, 0, 0)
    assert offline.policy_resource(rules.GROUP, {}, name="g").opts.parent is None


def test_an_unknown_value_is_reported_by_resource_and_stack_wrappers() -> None:
    def resource_check(_t: str, props: Any, _c: Any) -> list[str]:
        return [str(props["ports"])]

    def stack_check(_r: Any, _c: Any) -> list[rules.Finding]:
        return [(str(UNKNOWN_PORTS["ports"]), "urn:x")]

    resource = _resource_policy("r", "d", resource_check)
    found = offline.run_resource_policy(resource, offline.resource_args(rules.GROUP,
                                                                        {"ports": offline.UNKNOWN}))
    assert [v.message for v in found] == ["cannot verify during preview: ports is unknown"]
    stack = _stack_policy("s", "d", stack_check)
    assert offline.run_stack_policy(stack, []) == [
        offline.Violation("s", "cannot verify during preview: ports is unknown", None)]


def test_policy_config_applies_defaults_then_all_then_the_policys_entry() -> None:
    multi_az = POLICY["autoscaling-multiple-az"]
    assert isinstance(multi_az, StackValidationPolicy)
    assert offline.policy_config({}, multi_az) == (None, {"minimumAvailabilityZones": 2})
    assert offline.policy_config({"all": "advisory"}, multi_az) == (
        EnforcementLevel.ADVISORY, {"minimumAvailabilityZones": 2})
    assert offline.policy_config({"all": "advisory", multi_az.name: "disabled"}, multi_az) == (
        EnforcementLevel.DISABLED, {"minimumAvailabilityZones": 2})
    entry = {"enforcementLevel": "mandatory", "minimumAvailabilityZones": 3}
    assert offline.policy_config({"all": "advisory", multi_az.name: entry}, multi_az) == (
        EnforcementLevel.MANDATORY, {"minimumAvailabilityZones": 3})
    assert offline.policy_config({"all": "advisory", multi_az.name: {"requiredTags": []}},
                                 multi_az) == (
        EnforcementLevel.ADVISORY, {"minimumAvailabilityZones": 2, "requiredTags": []})
