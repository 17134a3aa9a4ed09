"""Stack rules across resources: ELB health checks, several AZs, launch tags, alarms that act on
their own group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.rules.values import (
    ATTACHMENT,
    GROUP,
    LAUNCH_TEMPLATE,
    METRIC_ALARM,
    SCALING_POLICY,
    SUBNET,
    TRAFFIC_SOURCE_ATTACHMENT,
    Finding,
    StackResource,
    cannot_verify,
    is_true,
    items,
    known,
    mapping,
    strings,
)

DEFAULT_MINIMUM_AZS = 2


DEFAULT_LAUNCH_TAGS: tuple[str, ...] = ("Name",)


def _by_type(resources: Iterable[StackResource], resource_type: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type == resource_type]


def _template_refs(value: Any) -> list[str]:
    """The id/name a group's launchTemplate (or a mixed-instances spec) points at."""
    spec = mapping(value)
    if "launchTemplate" in spec:  # mixedInstancesPolicy
        spec = mapping(mapping(spec["launchTemplate"]).get("launchTemplateSpecification"))
    keys = ("id", "name", "launchTemplateId", "launchTemplateName")
    return [str(ref) for key in keys if key in spec and (ref := spec[key])]


def _linked(source: StackResource, prop: str, candidates: Sequence[StackResource],
            refs: Callable[[Any], list[str]] = strings,
            match_keys: tuple[str, ...] = ("name",)) -> list[StackResource]:
    """Resources among ``candidates`` that ``source.props[prop]`` refers to.

    The engine's property dependencies link them even while values are unknown (preview);
    otherwise the referenced values are compared with the candidates' known ``match_keys``.
    Raises UnknownValueError when the value is unknown and no dependency links it.
    """
    wanted = {c.urn for c in candidates}
    linked = {d.urn: d for d in source.property_dependencies.get(prop, ()) if d.urn in wanted}
    try:
        values = set(refs(source.props.get(prop)))
    except UnknownValueError:
        if linked:
            return list(linked.values())
        raise
    for candidate in candidates:
        seen = {str(v) for key in match_keys if (v := known(candidate.props, key)) is not None}
        if seen & values:
            linked.setdefault(candidate.urn, candidate)
    return list(linked.values())


def _count(value: Any) -> int:
    """How many items a list property holds, without reading (possibly unknown) items."""
    if value is None:
        return 0
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return len(value)
    return 1


def elb_health_check(resources: Sequence[StackResource]) -> list[Finding]:
    """A group behind a load balancer replaces instances the load balancer finds unhealthy."""
    groups = _by_type(resources, GROUP)
    attached: set[str] = set()
    findings: list[Finding] = []
    for attachment in (_by_type(resources, ATTACHMENT)
                       + _by_type(resources, TRAFFIC_SOURCE_ATTACHMENT)):
        try:
            attached.update(g.urn for g in _linked(attachment, "autoscalingGroupName", groups))
        except UnknownValueError as error:
            findings.append((cannot_verify(error), attachment.urn))
    for group in groups:
        try:
            behind = (group.urn in attached
                      or _count(group.props.get("targetGroupArns")) > 0
                      or _count(group.props.get("loadBalancers")) > 0
                      or _count(group.props.get("trafficSources")) > 0)
            if not behind:
                continue
            check = str(group.props.get("healthCheckType") or "EC2")
            if "ELB" not in {part.strip().upper() for part in check.split(",")}:
                findings.append((f"healthCheckType is {check!r} but the group is behind a load "
                                 "balancer: set it to \"ELB\" so instances the load balancer "
                                 "finds unhealthy are replaced", group.urn))
        except UnknownValueError as error:
            findings.append((cannot_verify(error), group.urn))
    return findings


def subnet_azs_from_network_config(raw: str | None) -> dict[str, str]:
    """Subnet id -> AZ from the stack's ``webtier:network`` config (fleetSubnets and
    loadBalancerSubnets, each ``{id, az}``), as the engine hands config to the pack (JSON)."""
    if not raw:
        return {}
    try:
        network = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    azs: dict[str, str] = {}
    for key in ("fleetSubnets", "loadBalancerSubnets"):
        for subnet in items(mapping(network).get(key)):
            if isinstance(subnet, Mapping) and subnet.get("id") and subnet.get("az"):
                azs[str(subnet["id"])] = str(subnet["az"])
    return azs


def multi_az(resources: Sequence[StackResource], minimum: int = DEFAULT_MINIMUM_AZS,
             subnet_azs: Mapping[str, str] | None = None) -> list[Finding]:
    """Every group spans at least ``minimum`` distinct availability zones.

    A subnet's AZ comes from an aws:ec2/subnet in the stack, else from ``subnet_azs`` (config);
    a subnet found in neither is reported, never assumed.
    """
    azs = dict(subnet_azs or {})
    for subnet in _by_type(resources, SUBNET):
        subnet_id, zone = known(subnet.props, "id"), known(subnet.props, "availabilityZone")
        if subnet_id and zone:
            azs[str(subnet_id)] = str(zone)
    findings: list[Finding] = []
    for group in _by_type(resources, GROUP):
        try:
            subnets = strings(group.props.get("vpcZoneIdentifiers"))
            zones = set(strings(group.props.get("availabilityZones")))
            unmapped = [s for s in subnets if s not in azs]
            if unmapped:
                findings.append((f"cannot verify the availability zone of subnet(s) "
                                 f"{', '.join(unmapped)}: not an aws:ec2/subnet in this stack, "
                                 "not in webtier:network, not in the policy's "
                                 "subnetAvailabilityZones", group.urn))
                continue
            zones |= {azs[s] for s in subnets}
            if len(zones) < minimum:
                listed = ", ".join(sorted(zones)) or "none"
                findings.append((f"the group spans {len(zones)} availability zone(s) ({listed}); "
                                 f"at least {minimum} are required so it survives the loss of a "
                                 "zone", group.urn))
        except UnknownValueError as error:
            findings.append((cannot_verify(error), group.urn))
    return findings


def _instance_tag_keys(template: StackResource) -> set[str]:
    keys: set[str] = set()
    for spec in items(template.props.get("tagSpecifications")):
        if spec.get("resourceType") == "instance":
            keys.update(str(k) for k in mapping(spec.get("tags")))
    return keys


def launch_tags(resources: Sequence[StackResource],
                required: Sequence[str] = DEFAULT_LAUNCH_TAGS) -> list[Finding]:
    """The tags that identify an instance (Name at least) reach it at launch."""
    templates = _by_type(resources, LAUNCH_TEMPLATE)
    findings: list[Finding] = []
    for group in _by_type(resources, GROUP):
        try:
            keys = {str(tag.get("key")) for tag in items(group.props.get("tags"))
                    if is_true(tag.get("propagateAtLaunch"))}
            if not set(required) <= keys:
                for prop in ("launchTemplate", "mixedInstancesPolicy"):
                    for template in _linked(group, prop, templates, _template_refs,
                                            ("id", "name")):
                        keys |= _instance_tag_keys(template)
            missing = [key for key in required if key not in keys]
            if missing:
                findings.append((f"tag(s) {', '.join(missing)} do not reach the instances: give "
                                 "the group these tags with propagateAtLaunch true, or put them in "
                                 "the launch template's tagSpecifications for resourceType "
                                 "\"instance\"", group.urn))
        except UnknownValueError as error:
            findings.append((cannot_verify(error), group.urn))
    return findings


SCALING_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:autoscaling:[^:]*:[^:]*:scalingPolicy:[^:]*:"
                                r"autoScalingGroupName/(?P<group>[^:]+):policyName/")


def _alarm_group_names(alarm: StackResource) -> list[str]:
    """The AutoScalingGroupName dimension values of an alarm ([] if it has none).

    Raises UnknownValueError when a group dimension exists but its value is not known yet.
    """
    dimension_maps = [mapping(alarm.props.get("dimensions"))]
    for query in items(alarm.props.get("metricQueries")):
        dimension_maps.append(mapping(mapping(query.get("metric")).get("dimensions")))
    names = []
    for dimensions in dimension_maps:
        # Iterating keys never touches an unknown value; reading the value may raise.
        if any(key == "AutoScalingGroupName" for key in dimensions):
            names.append(str(dimensions["AutoScalingGroupName"]))
    return names


def alarms_act_on_own_group(resources: Sequence[StackResource]) -> list[Finding]:
    """An alarm on a group's metric scales that same group through one of its policies."""
    groups = _by_type(resources, GROUP)
    policies = _by_type(resources, SCALING_POLICY)
    group_by_name = {str(n): g.urn for g in groups if (n := known(g.props, "name"))}
    policy_by_arn = {str(a): p for p in policies if (a := known(p.props, "arn"))}
    findings: list[Finding] = []

    def group_keys_of_policy(policy: StackResource) -> set[str]:
        try:
            return {group_by_name.get(str(policy.props.get("autoscalingGroupName")),
                                      f"name:{policy.props.get('autoscalingGroupName')}")}
        except UnknownValueError:
            linked = {d.urn for d in policy.property_dependencies.get("autoscalingGroupName", ())}
            if not linked:
                raise
            return linked

    for alarm in _by_type(resources, METRIC_ALARM):
        try:
            try:
                names = _alarm_group_names(alarm)
                alarm_groups = {group_by_name.get(n, f"name:{n}") for n in names}
            except UnknownValueError:
                alarm_groups = {d.urn for d in alarm.property_dependencies.get("dimensions", ())
                                if d.resource_type == GROUP}
                if not alarm_groups:
                    raise
            if not alarm_groups:
                continue  # not an alarm on an Auto Scaling group
            policy_groups: list[tuple[str, set[str]]] = []  # (policy label, its group keys)
            try:
                actions = strings(alarm.props.get("alarmActions"))
            except UnknownValueError:
                linked = [d for d in alarm.property_dependencies.get("alarmActions", ())
                          if d.resource_type == SCALING_POLICY]
                if not linked:
                    raise
                policy_groups = [(p.name, group_keys_of_policy(p)) for p in linked]
            else:
                for action in actions:
                    if action in policy_by_arn:
                        policy = policy_by_arn[action]
                        policy_groups.append((policy.name, group_keys_of_policy(policy)))
                    elif match := SCALING_POLICY_ARN.match(action):
                        name = match["group"]
                        policy_groups.append((action, {group_by_name.get(name, f"name:{name}")}))
            if not policy_groups:
                findings.append(("the alarm watches an Auto Scaling group but none of its "
                                 "alarmActions is a scaling policy: point it at a policy of the "
                                 "group it watches", alarm.urn))
            for label, keys in policy_groups:
                if not keys & alarm_groups:
                    findings.append((f"alarmActions includes scaling policy {label} of another "
                                     "group: an alarm must scale the group it watches", alarm.urn))
        except UnknownValueError as error:
            findings.append((cannot_verify(error), alarm.urn))
    return findings
