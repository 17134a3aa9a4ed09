"""The webtier policy rules as plain functions: resource type and properties in, problems out.

policy/pack.py wraps each one as a pulumi_policy policy. Properties carry the engine's camelCase
names (pulumi-aws 7). During a preview the SDK hands over a proxy that raises UnknownValueError when
a rule touches a value not known yet; resource rules let it propagate (the wrapper reports it),
stack rules catch it per resource so one unknown does not hide the others. A rule never passes
silently on something it could not see: it says "cannot verify".
"""

from __future__ import annotations

import base64
import binascii
import email
import ipaddress
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from pulumi_policy.proxy import UnknownValueError

from contracts import consul_ports

LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCHES = (LAUNCH_CONFIGURATION, LAUNCH_TEMPLATE)
GROUP = "aws:autoscaling/group:Group"
SCALING_POLICY = "aws:autoscaling/policy:Policy"
ATTACHMENT = "aws:autoscaling/attachment:Attachment"
TRAFFIC_SOURCE_ATTACHMENT = "aws:autoscaling/trafficSourceAttachment:TrafficSourceAttachment"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP_TYPES = (SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE)
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_TYPES = (ROLE, ROLE_POLICY, IAM_POLICY)
SUBNET = "aws:ec2/subnet:Subnet"

# Ports nobody on the internet may reach: SSH and every port a Consul agent listens on.
PORT_ROLES: Mapping[int, str] = {22: "SSH", **{p.port: p.purpose for p in consul_ports.ALL}}
DEFAULT_BLOCKED_PORTS: tuple[int, ...] = tuple(PORT_ROLES)
DEFAULT_MINIMUM_AZS = 2
DEFAULT_LAUNCH_TAGS: tuple[str, ...] = ("Name",)

# Actions that accept only `Resource: "*"` (the Service Authorization Reference lists no resource
# type for them), so "*" there is not a wildcard grant. Consul's cloud auto-join needs
# ec2:DescribeInstances; the others are the usual agent/monitoring reads. Lower-case.
RESOURCE_STAR_ONLY_ACTIONS = frozenset({
    "autoscaling:describeautoscalinggroups",
    "autoscaling:describeautoscalinginstances",
    "autoscaling:describescalingactivities",
    "cloudwatch:getmetricdata",
    "cloudwatch:listmetrics",
    "cloudwatch:putmetricdata",
    "ec2:describeavailabilityzones",
    "ec2:describeimages",
    "ec2:describeinstances",
    "ec2:describeregions",
    "ec2:describesecuritygroups",
    "ec2:describesubnets",
    "ec2:describetags",
    "ec2:describevolumes",
    "s3:listallmybuckets",
    "ssm:describeparameters",
    "sts:getcalleridentity",
})
# EC2 and Auto Scaling Describe actions support no resource-level permissions at all, so a
# pattern within these families (e.g. "ec2:Describe*") with Resource "*" grants nothing more.
RESOURCE_STAR_ONLY_PREFIXES = ("ec2:describe", "autoscaling:describe")

SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*\Z")
PINNED_VERSION = re.compile(r"^[1-9][0-9]*\Z")

# What a secret looks like in user data. The assignment pattern only fires on a literal value:
# shell expansions ($x, $(cmd), ${x}), printf/template placeholders (%s, {{ }}, <...>) and quotes
# around them are how values fetched at boot are written, and are not secrets.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id",
     re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])")),
    ("an AWS secret access key",
     re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}"
                r"(?![A-Za-z0-9/+])")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")),
    # 32 random bytes in base64 (what `consul keygen` prints): 43 characters, the last one
    # carrying only 2 significant bits, then one "=".
    ("a Consul gossip key",
     re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])")),
    ("a password, token or secret assignment",
     re.compile(r"(?i)[A-Za-z0-9_.-]*(?:password|passwd|secret|token)[\"']?[ \t]*[:=][ \t]*"
                r"[\"']?(?![\s\"'$%{<(`])[^\s\"']+")),
)
MAX_USER_DATA_BYTES = 1 << 20  # EC2 caps user data at 16 KiB; anything past 1 MiB is not ours.
GZIP_MAGIC = b"\x1f\x8b"


class StackResource(Protocol):
    """What a stack rule reads of a resource; pulumi_policy.PolicyResource has all of it."""

    @property
    def resource_type(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...
    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def property_dependencies(self) -> Mapping[str, Sequence[StackResource]]: ...


Finding = tuple[str, str]
"""A stack rule's problem: (message, urn of the resource it is about)."""


def cannot_verify(error: UnknownValueError) -> str:
    """The message for a value the engine does not know yet (preview only)."""
    return f"cannot verify during preview: {'.'.join(error.props)} is unknown"


# --- small readers --------------------------------------------------------------------------

def _items(value: Any) -> list[Any]:
    """A list property as a list: None is empty, a scalar or a map is one item."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _strings(value: Any) -> list[str]:
    return [str(v) for v in _items(value)]


def _is_true(value: Any) -> bool:
    """Booleans arrive as bools, or as "true"/"false" strings on launch templates."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _known(props: Mapping[str, Any], key: str) -> Any:
    """props[key], or None when it is absent or not known yet."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _number(value: Any) -> Any:
    """Engine numbers arrive as floats: show 2.0 as 2."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


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
        return [f"metadataOptions.httpPutResponseHopLimit is {_number(limit)}: set it to 1 so the "
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
        elif not _is_true(root.get("encrypted")):
            problems.append(f"rootBlockDevice.encrypted is {root.get('encrypted')!r}: set it "
                            "to true")
        for index, device in enumerate(_items(props.get("ebsBlockDevices"))):
            if _is_true(device.get("noDevice")):
                continue
            if not _is_true(device.get("encrypted")):
                label = device.get("deviceName") or f"#{index}"
                problems.append(f"ebsBlockDevices[{index}] ({label}).encrypted is "
                                f"{device.get('encrypted')!r}: set it to true")
        return problems
    if resource_type == LAUNCH_TEMPLATE:
        problems = []
        declares_ebs = False
        for index, mapping in enumerate(_items(props.get("blockDeviceMappings"))):
            if mapping.get("noDevice") or mapping.get("virtualName"):
                continue  # suppressed device or instance store: no EBS volume to encrypt
            ebs = mapping.get("ebs")
            if not isinstance(ebs, Mapping):
                continue
            declares_ebs = True
            if not _is_true(ebs.get("encrypted")):
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
        if _is_true(props.get("associatePublicIpAddress")):
            return ["associatePublicIpAddress is true: instances would be reachable from the "
                    "internet; set it to false and reach them through the load balancer"]
        return []
    if resource_type == LAUNCH_TEMPLATE:
        return [f"networkInterfaces[{index}].associatePublicIpAddress is \"true\": set it to "
                "\"false\"; instances are reached through the load balancer"
                for index, interface in enumerate(_items(props.get("networkInterfaces")))
                if _is_true(interface.get("associatePublicIpAddress"))]
    return []


# --- security groups -----------------------------------------------------------------------

def _ingress_rules(resource_type: str, props: Mapping[str, Any]
                   ) -> Iterator[tuple[str, str, Any, Any, list[str]]]:
    """(label, protocol, fromPort, toPort, CIDRs) of every ingress rule the resource declares."""
    if resource_type == SECURITY_GROUP:
        for index, rule in enumerate(_items(props.get("ingress"))):
            yield (f"ingress[{index}]", str(rule.get("protocol")), rule.get("fromPort"),
                   rule.get("toPort"),
                   _strings(rule.get("cidrBlocks")) + _strings(rule.get("ipv6CidrBlocks")))
    elif resource_type == SECURITY_GROUP_RULE:
        if props.get("type") == "ingress":
            yield ("rule", str(props.get("protocol")), props.get("fromPort"), props.get("toPort"),
                   _strings(props.get("cidrBlocks")) + _strings(props.get("ipv6CidrBlocks")))
    elif resource_type == INGRESS_RULE:
        yield ("rule", str(props.get("ipProtocol")), props.get("fromPort"), props.get("toPort"),
               _strings(props.get("cidrIpv4")) + _strings(props.get("cidrIpv6")))


def _is_anywhere(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False  # the provider rejects a malformed CIDR itself


def _port_range(protocol: str, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """The TCP/UDP ports a rule opens, or None when ports do not apply (ICMP, ESP, ...)."""
    protocol = protocol.strip().lower()
    if protocol in ("-1", "all"):
        return (0, 65535)
    if protocol not in ("tcp", "udp", "6", "17"):
        return None

    def port(value: Any, missing: int) -> int:
        try:
            number = int(float(value))
        except (TypeError, ValueError):
            return missing
        return missing if number < 0 else number

    # A missing bound counts as open to the end of the range: never assume it is closed.
    return (port(from_port, 0), port(to_port, 65535))


def restricted_ports(resource_type: str, props: Mapping[str, Any],
                     blocked_ports: Iterable[int] = DEFAULT_BLOCKED_PORTS) -> list[str]:
    """No ingress from 0.0.0.0/0 or ::/0 to SSH or any Consul port."""
    if resource_type not in SECURITY_GROUP_TYPES:
        return []
    blocked = sorted({int(port) for port in blocked_ports})
    problems = []
    for label, protocol, from_port, to_port, cidrs in _ingress_rules(resource_type, props):
        ports = _port_range(protocol, from_port, to_port)
        if ports is None:
            continue
        hit = [port for port in blocked if ports[0] <= port <= ports[1]]
        if not hit:
            continue
        what = "all protocols" if protocol.strip().lower() in ("-1", "all") else protocol
        for cidr in cidrs:
            if _is_anywhere(cidr):
                named = ", ".join(f"{port} ({PORT_ROLES.get(port, 'blocked')})" for port in hit)
                problems.append(f"{label} opens {what} to port(s) {named} from {cidr}: allow "
                                "only the Consul cluster's security group or a private CIDR")
    return problems


# --- user data -----------------------------------------------------------------------------

def _base64_payload(text: str) -> bytes | None:
    compact = "".join(text.split())
    if not compact or len(compact) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", compact):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    return inflater.decompress(data, MAX_USER_DATA_BYTES)


def _text_layers(value: str, *, depth: int = 0) -> list[str]:
    """The readable text of user data: base64 and gzip undone, MIME parts opened."""
    if depth > 3:
        return []
    payload = _base64_payload(value)
    if payload is not None:
        if payload.startswith(GZIP_MAGIC):
            try:
                payload = _gunzip(payload)
            except zlib.error:
                return [value]
        try:
            decoded = payload.decode("utf-8")
        except UnicodeDecodeError:
            return [value]  # binary after all: scan what was given
        return _text_layers(decoded, depth=depth + 1)
    layers = [value]
    head = value.lstrip()[:200].lower()
    if head.startswith(("content-type: multipart", "mime-version:")):
        message = email.message_from_string(value)
        for part in message.walk():
            if part.is_multipart():
                continue
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                if body.startswith(GZIP_MAGIC):
                    try:
                        body = _gunzip(body)
                    except zlib.error:
                        continue
                layers.extend(_text_layers(body.decode("utf-8", "replace"), depth=depth + 1))
    return layers


def user_data_texts(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, readable text) of every layer of a launch's user data."""
    return [(key, layer) for key in ("userData", "userDataBase64")
            if isinstance(props.get(key), str) and props.get(key)
            for layer in _text_layers(props[key])]


def secrets_in_text(text: str) -> list[tuple[int, str]]:
    """(line number, what it looks like) for every secret-shaped value; never the value."""
    found = []
    for kind, pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            found.append((text.count("\n", 0, match.start()) + 1, kind))
    return sorted(set(found))


def no_secrets_in_user_data(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """User data is readable by anyone who can describe the instance: no secrets in it."""
    if resource_type not in LAUNCHES:
        return []
    problems = []
    for key in ("userData", "userDataBase64"):
        value = props.get(key)
        if not isinstance(value, str) or not value:
            continue
        for layer in _text_layers(value):
            for line, kind in secrets_in_text(layer):
                problems.append(f"{key} line {line} holds what looks like {kind} (value "
                                "withheld): fetch it at boot from an SSM SecureString parameter")
    return sorted(set(problems))


# --- IAM -----------------------------------------------------------------------------------

def _star_only(action: str) -> bool:
    action = action.lower()
    return action in RESOURCE_STAR_ONLY_ACTIONS or action.startswith(RESOURCE_STAR_ONLY_PREFIXES)


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if resource_type in (ROLE_POLICY, IAM_POLICY):
        return [("policy", props.get("policy"))]
    if resource_type == ROLE:
        return [(f"inlinePolicies[{index}].policy", inline.get("policy"))
                for index, inline in enumerate(_items(props.get("inlinePolicies")))]
    return []


def _statement_problems(label: str, document: Any) -> list[str]:
    if document is None or document == "":
        return []
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            return [f"{label} is not valid JSON ({error.msg} at {error.pos}), so it cannot be "
                    "checked"]
    problems = []
    for index, statement in enumerate(_items(_mapping(document).get("Statement"))):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        where = f"{label} statement {statement.get('Sid') or index}"
        if "NotAction" in statement:
            problems.append(f"{where} allows NotAction, i.e. every action but a few: list the "
                            "actions instead")
        if "NotResource" in statement:
            problems.append(f"{where} allows NotResource, i.e. every resource but a few: list "
                            "the resources instead")
        actions = _strings(statement.get("Action"))
        wildcards = [a for a in actions if a == "*" or SERVICE_WILDCARD.match(a)]
        problems.extend(f"{where} allows action {a!r}: name the actions the instance needs"
                        for a in wildcards)
        if "*" in _strings(statement.get("Resource")):
            restrictable = [a for a in actions if a not in wildcards and not _star_only(a)]
            if restrictable:
                problems.append(f"{where} grants {', '.join(restrictable)} on Resource \"*\": "
                                "these actions support resource ARNs, so scope them")
    return problems


def iam_no_wildcards(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No "*" (or "service:*") action and no "*" resource except for actions that need it."""
    problems = []
    for label, document in _policy_documents(resource_type, props):
        problems.extend(_statement_problems(label, document))
    return problems


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
        spec = _mapping(_mapping(mixed.get("launchTemplate")).get("launchTemplateSpecification"))
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


def _by_type(resources: Iterable[StackResource], resource_type: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type == resource_type]


def _template_refs(value: Any) -> list[str]:
    """The id/name a group's launchTemplate (or a mixed-instances spec) points at."""
    spec = _mapping(value)
    if "launchTemplate" in spec:  # mixedInstancesPolicy
        spec = _mapping(_mapping(spec["launchTemplate"]).get("launchTemplateSpecification"))
    keys = ("id", "name", "launchTemplateId", "launchTemplateName")
    return [str(ref) for key in keys if key in spec and (ref := spec[key])]


def _linked(source: StackResource, prop: str, candidates: Sequence[StackResource],
            refs: Callable[[Any], list[str]] = _strings,
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
        known = {str(v) for key in match_keys if (v := _known(candidate.props, key)) is not None}
        if known & values:
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
        for subnet in _items(_mapping(network).get(key)):
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
        subnet_id, zone = _known(subnet.props, "id"), _known(subnet.props, "availabilityZone")
        if subnet_id and zone:
            azs[str(subnet_id)] = str(zone)
    findings: list[Finding] = []
    for group in _by_type(resources, GROUP):
        try:
            subnets = _strings(group.props.get("vpcZoneIdentifiers"))
            zones = set(_strings(group.props.get("availabilityZones")))
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
    for spec in _items(template.props.get("tagSpecifications")):
        if spec.get("resourceType") == "instance":
            keys.update(str(k) for k in _mapping(spec.get("tags")))
    return keys


def launch_tags(resources: Sequence[StackResource],
                required: Sequence[str] = DEFAULT_LAUNCH_TAGS) -> list[Finding]:
    """The tags that identify an instance (Name at least) reach it at launch."""
    templates = _by_type(resources, LAUNCH_TEMPLATE)
    findings: list[Finding] = []
    for group in _by_type(resources, GROUP):
        try:
            keys = {str(tag.get("key")) for tag in _items(group.props.get("tags"))
                    if _is_true(tag.get("propagateAtLaunch"))}
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
    dimension_maps = [_mapping(alarm.props.get("dimensions"))]
    for query in _items(alarm.props.get("metricQueries")):
        dimension_maps.append(_mapping(_mapping(query.get("metric")).get("dimensions")))
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
    group_by_name = {str(n): g.urn for g in groups if (n := _known(g.props, "name"))}
    policy_by_arn = {str(a): p for p in policies if (a := _known(p.props, "arn"))}
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
                actions = _strings(alarm.props.get("alarmActions"))
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


def spot_capacity_rebalance(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A group that can launch spot instances turns capacity rebalance on, so a spot instance
    with a rebalance recommendation is replaced before its two-minute interruption notice."""
    if resource_type != GROUP:
        return []
    mixed = props.get("mixedInstancesPolicy")
    if not isinstance(mixed, Mapping):
        return []
    distribution = _mapping(mixed.get("instancesDistribution"))
    percentage = distribution.get("onDemandPercentageAboveBaseCapacity")
    base = distribution.get("onDemandBaseCapacity") or 0
    # AWS's default is 100% on demand above the base: no spot unless the split says so.
    if percentage is None or float(percentage) >= 100:
        return []
    max_size = props.get("maxSize")
    if max_size is not None and float(max_size) <= float(base):
        return []
    if _is_true(props.get("capacityRebalance")):
        return []
    return [f"the group launches spot instances (onDemandPercentageAboveBaseCapacity "
            f"{_number(percentage)}) without capacityRebalance: set it true so spot instances at "
            "risk are replaced before they are interrupted"]
