"""Launch-hardening rules: IMDSv2, hop limit, encrypted volumes, no public IP, pinned
template versions and spot rebalancing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.rules.values import (
    GROUP,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    LAUNCHES,
    is_true,
    items,
    mapping,
    number,
)

PINNED_VERSION = re.compile(r"^[1-9][0-9]*\Z")


# --- launch configurations and templates ----------------------------------------------------

def _metadata_options(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    options = props.get("metadataOptions")
    return options if isinstance(options, Mapping) and len(options) else None


def imdsv2_required(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Launched instances must require IMDSv2 session tokens (or have IMDS off)."""
    if resource_type not in LAUNCHES:
        return []
    options = _metadata_options(props)
    if options is None:
        return ['metadataOptions is not set, so instances accept IMDSv1: set '
                'metadataOptions.httpTokens to "required"']
    if options.get("httpEndpoint") == "disabled":
        return []
    tokens = options.get("httpTokens")
    if tokens != "required":
        return [f'metadataOptions.httpTokens is {tokens!r}: IMDSv2 needs "required"']
    return []


def metadata_hop_limit(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """IMDS responses must not travel beyond the instance (hop limit exactly 1)."""
    if resource_type not in LAUNCHES:
        return []
    options = _metadata_options(props)
    if options is not None and options.get("httpEndpoint") == "disabled":
        return []
    limit = options.get("httpPutResponseHopLimit") if options is not None else None
    if limit is None:
        # AMIs registered with IMDSv2 support default to 2 hops, which reaches containers.
        return ["metadataOptions.httpPutResponseHopLimit is not set, so the AMI's default applies "
                "(2 for AMIs registered for IMDSv2): set it to 1"]
    if limit != 1:
        return [f"metadataOptions.httpPutResponseHopLimit is {number(limit)}: set it to 1 so the "
                "metadata service answers only the instance itself"]
    return []


def encrypted_volumes(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The root volume and every EBS data volume a launch declares must be encrypted."""
    if resource_type == LAUNCH_CONFIGURATION:
        problems = []
        root = props.get("rootBlockDevice")
        if not isinstance(root, Mapping):
            problems.append("rootBlockDevice is not set, so the root volume takes its encryption "
                            "from the AMI snapshot, which the program cannot show: declare "
                            "rootBlockDevice with encrypted true")
        elif not is_true(root.get("encrypted")):
            problems.append(f"rootBlockDevice.encrypted is {root.get('encrypted')!r}: set it "
                            "to true")
        for index, device in enumerate(items(props.get("ebsBlockDevices"))):
            if is_true(device.get("noDevice")):
                continue
            if not is_true(device.get("encrypted")):
                label = device.get("deviceName") or f"#{index}"
                problems.append(f"ebsBlockDevices[{index}] ({label}).encrypted is "
                                f"{device.get('encrypted')!r}: set it to true")
        return problems
    if resource_type == LAUNCH_TEMPLATE:
        problems = []
        declares_ebs = False
        for index, mapping in enumerate(items(props.get("blockDeviceMappings"))):
            if mapping.get("noDevice") or mapping.get("virtualName"):
                continue  # suppressed device or instance store: no EBS volume to encrypt
            ebs = mapping.get("ebs")
            if not isinstance(ebs, Mapping):
                continue
            declares_ebs = True
            if not is_true(ebs.get("encrypted")):
                label = mapping.get("deviceName") or f"#{index}"
                problems.append(f"blockDeviceMappings[{index}] ({label}).ebs.encrypted is "
                                f"{ebs.get('encrypted')!r}: set it to \"true\"")
        if not declares_ebs:
            problems.append("blockDeviceMappings declares no EBS volume, so the root volume takes "
                            "its encryption from the AMI snapshot, which the program cannot show: "
                            "declare the root device with ebs.encrypted \"true\"")
        return problems
    return []


def no_public_ip(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Launched instances must not ask for a public IP address."""
    if resource_type == LAUNCH_CONFIGURATION:
        if is_true(props.get("associatePublicIpAddress")):
            return ["associatePublicIpAddress is true: instances would be reachable from the "
                    "internet; set it to false and reach them through the load balancer"]
        return []
    if resource_type == LAUNCH_TEMPLATE:
        return [f"networkInterfaces[{index}].associatePublicIpAddress is \"true\": set it to "
                "\"false\"; instances are reached through the load balancer"
                for index, interface in enumerate(items(props.get("networkInterfaces")))
                if is_true(interface.get("associatePublicIpAddress"))]
    return []


# --- Auto Scaling groups -------------------------------------------------------------------

def explicit_template_version(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A group names the launch template version it runs: never $Latest/$Default or nothing.

    The one rule that accepts a value unknown during preview, on purpose: the fleet pins the
    template's ``latestVersion`` output, unknown whenever the template changes, so treating it as a
    violation would block every production preview of an AMI or instance-type change. An unknown
    value is always another resource's output; "$Latest"/"$Default" are literals, known in every
    preview, so they are still caught here. An output that resolves to one of them at update time
    is caught then: the engine runs the pack again on known values before the group is updated.
    """
    if resource_type != GROUP:
        return []
    specs: list[tuple[str, Callable[[], Any]]] = []
    template = props.get("launchTemplate")
    if isinstance(template, Mapping):
        specs.append(("launchTemplate.version", lambda: template.get("version")))
    mixed = props.get("mixedInstancesPolicy")
    if isinstance(mixed, Mapping):
        spec = mapping(mapping(mixed.get("launchTemplate")).get("launchTemplateSpecification"))
        if spec:
            specs.append(("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version",
                          lambda: spec.get("version")))
    problems = []
    for label, read in specs:
        try:
            version = read()
        except UnknownValueError:
            continue  # an output, never a $Latest/$Default literal: see the docstring
        if version is None or version == "":
            problems.append(f"{label} is not set, so the group launches $Default, which can "
                            "change outside this program: pin the version number")
        elif not PINNED_VERSION.match(str(version)):
            problems.append(f"{label} is {version!r}: pin a version number (not $Latest or "
                            "$Default) so a launch template change is a reviewed group update")
    return problems


def spot_capacity_rebalance(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A group that can launch spot instances turns capacity rebalance on, so a spot instance
    with a rebalance recommendation is replaced before its two-minute interruption notice."""
    if resource_type != GROUP:
        return []
    mixed = props.get("mixedInstancesPolicy")
    if not isinstance(mixed, Mapping):
        return []
    distribution = mapping(mixed.get("instancesDistribution"))
    percentage = distribution.get("onDemandPercentageAboveBaseCapacity")
    base = distribution.get("onDemandBaseCapacity") or 0
    # AWS's default is 100% on demand above the base: no spot unless the split says so.
    if percentage is None or float(percentage) >= 100:
        return []
    max_size = props.get("maxSize")
    if max_size is not None and float(max_size) <= float(base):
        return []
    if is_true(props.get("capacityRebalance")):
        return []
    return [f"the group launches spot instances (onDemandPercentageAboveBaseCapacity "
            f"{number(percentage)}) without capacityRebalance: set it true so spot instances at "
            "risk are replaced before they are interrupted"]
