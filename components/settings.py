"""Typed stack settings: the one place that reads a stack's config, validated before any resource.

Every value the program uses comes from here as a frozen object. A bad stack file stops the program
with every problem listed, each naming the config key, the value given and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import pulumi
import yaml

from components.template_keys import kv_parity_errors

PROJECT = "webtier"
STACKS = ("staging", "production")
# Stacks whose fleet must survive the loss of an availability zone.
HIGH_AVAILABILITY_STACKS = frozenset({"production"})

LaunchKind = Literal["template", "configuration"]
ScalingMode = Literal["simple", "target-tracking", "step"]
ImageSource = Literal["build", "promote", "ami"]

AMI_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SG_ID = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12})?:.+$")
REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")
AZ = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d[a-z]$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
KV_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9][a-z0-9_.-]*)*$")
TAG_KEY = re.compile(r"^[\w.:/=+@ -]{1,128}$")
# Consul's gossip key is 32 random bytes in base64: a string of this shape is a secret.
GOSSIP_KEY_SHAPE = re.compile(r"^[A-Za-z0-9+/]{43}=$")
# CloudWatch accepts 10 s and 30 s (high resolution) or any multiple of 60 s.
CLOUDWATCH_PERIODS = "10, 30, or a multiple of 60 seconds"


class SettingsError(pulumi.RunError):
    """The stack's config is invalid; the message lists every problem found."""

    def __init__(self, stack: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"stack '{stack}' has invalid settings:\n{lines}")


@dataclass(frozen=True)
class Secret:
    """A secret config value. Prints as [secret]; becomes a Pulumi secret output on the way out."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "[secret]"

    def __repr__(self) -> str:
        return "Secret([secret])"

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self.value)


@dataclass(frozen=True)
class Subnet:
    id: str
    az: str


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str
    fleet_subnets: tuple[Subnet, ...]
    load_balancer_subnets: tuple[Subnet, ...]

    @property
    def fleet_azs(self) -> tuple[str, ...]:
        return tuple(sorted({s.az for s in self.fleet_subnets}))


@dataclass(frozen=True)
class LoadBalancerSettings:
    internal: bool
    listener_port: int
    certificate_arn: str | None
    ingress_cidrs: tuple[str, ...]
    health_check_path: str
    deregistration_delay: int


@dataclass(frozen=True)
class FleetSettings:
    launch_kind: LaunchKind
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    health_check_grace_period: int
    app_port: int
    root_volume_size: int
    root_volume_type: str
    min_healthy_percentage: int
    instance_warmup: int


@dataclass(frozen=True)
class ScalingSettings:
    mode: ScalingMode
    period: int
    evaluation_periods: int
    scale_out_threshold: float
    scale_in_threshold: float
    scale_out_adjustment: int
    scale_in_adjustment: int
    cooldown: int
    target_cpu: float


@dataclass(frozen=True)
class ImageSettings:
    source: ImageSource
    ami_id: str | None
    base_source_ami: str | None
    builder_instance_type: str
    name_prefix: str
    keep_last: int


@dataclass(frozen=True)
class ConsulSettings:
    datacenter: str
    address: str | None
    ca_cert_path: str | None
    join_tag_key: str
    join_tag_value: str
    cluster_security_group_id: str | None
    cluster_cidr: str | None


@dataclass(frozen=True)
class KvSettings:
    prefix: str
    values: Mapping[str, str]
    secret_keys: frozenset[str]
    environment_specific: frozenset[str]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.values) | self.secret_keys


@dataclass(frozen=True)
class ReleaseSettings:
    bucket_name: str | None
    keep_releases: int
    deployer_role_arns: tuple[str, ...]


@dataclass(frozen=True)
class StackSecrets:
    gossip_key: Secret
    agent_token: Secret
    template_token: Secret
    kv_token: Secret | None
    kv_values: Mapping[str, Secret]


@dataclass(frozen=True)
class StackSettings:
    stack: str
    region: str
    app: str
    tags: Mapping[str, str]
    network: NetworkSettings
    load_balancer: LoadBalancerSettings
    fleet: FleetSettings
    scaling: ScalingSettings
    image: ImageSettings
    consul: ConsulSettings
    kv: KvSettings
    release: ReleaseSettings
    secrets: StackSecrets

    @property
    def name(self) -> str:
        """Prefix for resource names: app and stack, so two stacks never collide in one account."""
        return f"{self.app}-{self.stack}"

    @property
    def ssm_prefix(self) -> str:
        return f"/{self.app}/{self.stack}"

    @property
    def deploy_pointer_key(self) -> str:
        return f"deploy/{self.app}/current"


# --- reading ---------------------------------------------------------------------------------

# Top-level keys under the project namespace, and the secret keys with the command that sets them.
SECRET_KEYS: Mapping[str, str] = {
    "consulGossipKey": "the Consul gossip encryption key (`consul keygen`)",
    "consulAgentToken": "the ACL token the instances' Consul agents use",
    "consulTemplateToken": "the ACL token consul-template reads KV with",
    "consulKvToken": "the ACL token this program writes KV with (else CONSUL_HTTP_TOKEN)",
    "kvSecrets": "secret KV values, e.g. --path 'kvSecrets[\"database/master-password\"]'",
}
OPTIONAL_SECRETS = frozenset({"consulKvToken", "kvSecrets"})
PLAIN_KEYS = (
    "app", "tags", "network", "loadBalancer", "fleet", "scaling", "image", "consul", "kv",
    "release",
)

T = TypeVar("T")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: object, allowed: str) -> None:
        shown = "[secret]" if isinstance(value, Secret) else json.dumps(value, default=str)
        self.items.append(f"{key} = {shown}: {allowed}")

    def note(self, text: str) -> None:
        self.items.append(text)


class _Object:
    """Reads the fields of one structured config value, remembering which were used."""

    def __init__(self, key: str, raw: object, problems: _Problems) -> None:
        self.key = key
        self.problems = problems
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.add(key, raw, "must be an object (a YAML mapping)")
            raw = {}
        self.raw: dict[str, Any] = raw
        self.used: set[str] = set()

    def _get(self, name: str, default: T, kinds: tuple[type, ...], kind_name: str) -> T:
        self.used.add(name)
        if name not in self.raw:
            return default
        value = self.raw[name]
        # bool is an int in Python; a YAML `true` is never a valid number.
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return cast(T, value)
        self.problems.add(f"{self.key}.{name}", value, f"must be {kind_name}")
        return default

    def required(self, name: str) -> bool:
        if name in self.raw:
            return True
        self.used.add(name)
        self.problems.note(f"{self.key}.{name} is missing: it is required")
        return False

    def text(self, name: str, default: str, pattern: re.Pattern[str] | None = None,
            allowed: str = "") -> str:
        value: str = self._get(name, default, (str,), "a string")
        if pattern is not None and name in self.raw and isinstance(value, str) \
                and not pattern.match(value):
            self.problems.add(f"{self.key}.{name}", value,
                              allowed or f"must match {pattern.pattern}")
            return default
        return value

    def opt_text(self, name: str, pattern: re.Pattern[str] | None = None,
                allowed: str = "") -> str | None:
        if name not in self.raw or self.raw[name] is None:
            self.used.add(name)
            return None
        value = self.text(name, "", pattern, allowed)
        return value or None

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self.text(name, default)
        if value not in choices:
            self.problems.add(f"{self.key}.{name}", value, f"must be one of {', '.join(choices)}")
            return default
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value: int = self._get(name, default, (int,), "a whole number")
        if not lo <= value <= hi:
            self.problems.add(f"{self.key}.{name}", value, f"must be between {lo} and {hi}")
            return default
        return value

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        value: float = self._get(name, default, (int, float), "a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            self.problems.add(f"{self.key}.{name}", value, f"must be between {lo:g} and {hi:g}")
            return default
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        return self._get(name, default, (bool,), "true or false")

    def items(self, name: str) -> list[Any]:
        return self._get(name, [], (list,), "a list")

    def mapping(self, name: str) -> dict[str, Any]:
        return self._get(name, {}, (dict,), "a mapping")

    def child(self, name: str) -> _Object:
        self.used.add(name)
        return _Object(f"{self.key}.{name}", self.raw.get(name), self.problems)

    def done(self) -> None:
        for unknown in sorted(set(self.raw) - self.used):
            self.problems.add(f"{self.key}.{unknown}", self.raw[unknown],
                              f"is not a known setting (known: {', '.join(sorted(self.used))})")


def _decode(key: str, raw: object, problems: _Problems) -> object:
    """Config values arrive as strings; structured ones are JSON."""
    if isinstance(raw, str):
        text = raw.strip()
        if text[:1] in "{[":
            try:
                return json.loads(text)
            except json.JSONDecodeError as err:
                problems.add(key, raw, f"is not valid JSON ({err.msg})")
                return None
    return raw


def _subnets(obj: _Object, name: str) -> tuple[Subnet, ...]:
    out: list[Subnet] = []
    for i, item in enumerate(obj.items(name)):
        key = f"{obj.key}.{name}[{i}]"
        sub = _Object(key, item, obj.problems)
        sid = sub.text("id", "", SUBNET_ID, "must be a subnet id like subnet-0123456789abcdef0")
        az = sub.text("az", "", AZ, "must be an availability zone like ap-northeast-1a")
        sub.required("id")
        sub.required("az")
        sub.done()
        if sid and az:
            out.append(Subnet(sid, az))
    return tuple(out)


def _cidrs(obj: _Object, name: str, default: Sequence[str]) -> tuple[str, ...]:
    if name not in obj.raw:
        obj.used.add(name)
        return tuple(default)
    out: list[str] = []
    for i, item in enumerate(obj.items(name)):
        try:
            out.append(str(ipaddress.ip_network(str(item), strict=True)))
        except ValueError:
            obj.problems.add(f"{obj.key}.{name}[{i}]", item,
                             "must be a CIDR block like 10.0.0.0/16")
    return tuple(out)


def _network(obj: _Object, stack: str) -> NetworkSettings:
    obj.required("vpcId")
    vpc = obj.text("vpcId", "", VPC_ID, "must be a VPC id like vpc-0123456789abcdef0")
    fleet = _subnets(obj, "fleetSubnets")
    lb = _subnets(obj, "loadBalancerSubnets")
    if not lb:
        lb = fleet
    azs = {s.az for s in fleet}
    if stack in HIGH_AVAILABILITY_STACKS and (len(fleet) < 2 or len(azs) < 2):
        obj.problems.add(f"{obj.key}.fleetSubnets", [s.az for s in fleet],
                         f"stack '{stack}' needs subnets in at least two availability zones")
    elif not fleet:
        obj.problems.note(f"{obj.key}.fleetSubnets is missing: give at least one subnet")
    if len({s.az for s in lb}) < 2 and lb:
        obj.problems.add(f"{obj.key}.loadBalancerSubnets", [s.az for s in lb],
                         "an application load balancer needs subnets in at least two zones")
    if len({s.id for s in fleet}) != len(fleet):
        obj.problems.add(f"{obj.key}.fleetSubnets", [s.id for s in fleet], "lists a subnet twice")
    obj.done()
    return NetworkSettings(vpc, fleet, lb)


def _load_balancer(obj: _Object) -> LoadBalancerSettings:
    cert = obj.opt_text("certificateArn", ARN, "must be an ACM certificate ARN")
    port = obj.integer("listenerPort", 443 if cert else 80, 1, 65535)
    path = obj.text("healthCheckPath", "/health")
    if not path.startswith("/"):
        obj.problems.add(f"{obj.key}.healthCheckPath", path, "must start with /")
    settings = LoadBalancerSettings(
        internal=obj.flag("internal", False),
        listener_port=port,
        certificate_arn=cert,
        ingress_cidrs=_cidrs(obj, "ingressCidrs", ["0.0.0.0/0"]),
        health_check_path=path,
        deregistration_delay=obj.integer("deregistrationDelay", 30, 0, 3600),
    )
    obj.done()
    return settings


def _fleet(obj: _Object) -> FleetSettings:
    kind = obj.choice("launchKind", "template", ("template", "configuration"))
    lo = obj.integer("minSize", 2, 0, 1000)
    hi = obj.integer("maxSize", 20, 1, 1000)
    desired = obj.integer("desiredCapacity", lo, 0, 1000)
    if lo > hi:
        obj.problems.add(f"{obj.key}.minSize", lo, f"must not exceed maxSize ({hi})")
    elif not lo <= desired <= hi:
        obj.problems.add(f"{obj.key}.desiredCapacity", desired,
                         f"must be within [minSize, maxSize] = [{lo}, {hi}]")
    app_port = obj.integer("appPort", 8080, 1024, 65535)
    if app_port in CONSUL_PORTS:
        obj.problems.add(f"{obj.key}.appPort", app_port, "collides with a Consul port")
    settings = FleetSettings(
        launch_kind=cast(LaunchKind, kind),
        instance_type=obj.text("instanceType", "t3.micro", INSTANCE_TYPE,
                              "must be an EC2 instance type like t3.small"),
        min_size=lo,
        max_size=hi,
        desired_capacity=desired,
        health_check_grace_period=obj.integer("healthCheckGracePeriod", 300, 0, 7200),
        app_port=app_port,
        root_volume_size=obj.integer("rootVolumeSize", 16, 8, 16384),
        root_volume_type=obj.choice("rootVolumeType", "gp3", ("gp2", "gp3", "io1", "io2")),
        min_healthy_percentage=obj.integer("minHealthyPercentage", 90, 0, 100),
        instance_warmup=obj.integer("instanceWarmup", 300, 0, 3600),
    )
    obj.done()
    return settings


CONSUL_PORTS = frozenset({8300, 8301, 8302, 8500, 8501, 8502, 8503, 8600})


def _scaling(obj: _Object) -> ScalingSettings:
    mode = obj.choice("mode", "simple", ("simple", "target-tracking", "step"))
    period = obj.integer("period", 300, 10, 86400)
    if period not in (10, 30) and period % 60:
        obj.problems.add(f"{obj.key}.period", period, f"CloudWatch accepts {CLOUDWATCH_PERIODS}")
    evaluations = obj.integer("evaluationPeriods", 1, 1, 100)
    if period * evaluations > 86400:
        obj.problems.add(f"{obj.key}.evaluationPeriods", evaluations,
                         f"period x evaluationPeriods must not exceed one day (period is {period})")
    high = obj.number("scaleOutThreshold", 50, 0, 100)
    low = obj.number("scaleInThreshold", 20, 0, 100)
    if low >= high:
        obj.problems.add(f"{obj.key}.scaleInThreshold", low,
                         f"must be below scaleOutThreshold ({high:g}) or the alarms fight")
    out = obj.integer("scaleOutAdjustment", 3, 1, 100)
    in_ = obj.integer("scaleInAdjustment", -1, -100, -1)
    settings = ScalingSettings(
        mode=cast(ScalingMode, mode),
        period=period,
        evaluation_periods=evaluations,
        scale_out_threshold=high,
        scale_in_threshold=low,
        scale_out_adjustment=out,
        scale_in_adjustment=in_,
        cooldown=obj.integer("cooldown", 300, 0, 86400),
        target_cpu=obj.number("targetCpu", 50, 1, 100),
    )
    obj.done()
    return settings


def _image(obj: _Object, app: str) -> ImageSettings:
    source = obj.choice("source", "build", ("build", "promote", "ami"))
    ami_rule = "must be an AMI id like ami-0123456789abcdef0"
    ami = obj.opt_text("amiId", AMI_ID, ami_rule)
    base = obj.opt_text("baseSourceAmi", AMI_ID, ami_rule)
    if source == "ami" and ami is None:
        obj.problems.note(f"{obj.key}.amiId is missing: image.source 'ami' needs an AMI id")
    if source in ("build", "promote") and base is None:
        obj.problems.note(
            f"{obj.key}.baseSourceAmi is missing: image.source '{source}' needs the AMI the base "
            "layer starts from (a promoting stack names the same one as the building stack, so "
            "it finds the AMI built from the same inputs)")
    settings = ImageSettings(
        source=cast(ImageSource, source),
        ami_id=ami,
        base_source_ami=base,
        builder_instance_type=obj.text("builderInstanceType", "t3.small", INSTANCE_TYPE,
                                      "must be an EC2 instance type like t3.small"),
        name_prefix=obj.text("namePrefix", app, APP_NAME, "lowercase letters, digits and dashes"),
        keep_last=obj.integer("keepLast", 3, 1, 50),
    )
    obj.done()
    return settings


def _consul(obj: _Object, stack: str) -> ConsulSettings:
    address = obj.opt_text("address", re.compile(r"^https?://[^\s/]+(?::\d+)?/?$"),
                          "must be a URL like https://consul.internal:8501")
    sg = obj.opt_text("clusterSecurityGroupId", SG_ID, "must be a security group id like sg-0123…")
    cidr_raw = obj.opt_text("clusterCidr")
    cidr: str | None = None
    if cidr_raw is not None:
        try:
            cidr = str(ipaddress.ip_network(cidr_raw, strict=True))
        except ValueError:
            obj.problems.add(f"{obj.key}.clusterCidr", cidr_raw, "must be a CIDR block")
        else:
            if ipaddress.ip_network(cidr).prefixlen == 0:
                obj.problems.add(f"{obj.key}.clusterCidr", cidr_raw,
                                 "must not be the whole internet: Consul RPC/gossip stay private")
    if sg is None and cidr is None:
        obj.problems.note(f"{obj.key}: give clusterSecurityGroupId or clusterCidr, the only "
                          "sources allowed to reach the Consul ports")
    join = obj.child("joinTag")
    settings = ConsulSettings(
        datacenter=obj.text("datacenter", stack, re.compile(r"^[a-z0-9][a-z0-9_-]*$"),
                           "lowercase letters, digits, - and _"),
        address=address,
        ca_cert_path=obj.opt_text("caCertPath"),
        join_tag_key=join.text("key", "consul-cluster", TAG_KEY, "must be a valid EC2 tag key"),
        join_tag_value=join.text("value", stack, TAG_KEY, "must be a valid EC2 tag value"),
        cluster_security_group_id=sg,
        cluster_cidr=cidr,
    )
    join.done()
    obj.done()
    return settings


def _kv(obj: _Object, stack: str, app: str) -> KvSettings:
    prefix = obj.text("prefix", f"{app}/{stack}", KV_KEY, "a KV path like app/staging")
    values: dict[str, str] = {}
    for key, value in obj.mapping("values").items():
        where = f"{obj.key}.values.{key}"
        if not KV_KEY.match(key):
            obj.problems.add(where, key, "key must be lowercase path segments like database/host")
        elif not isinstance(value, str | int | float | bool) or value is None:
            obj.problems.add(where, value, "must be a string, number or boolean")
        elif isinstance(value, str) and _looks_secret(key, value):
            obj.problems.add(where, "[redacted]",
                             "looks like a secret: move it to kvSecrets with "
                             f"`pulumi config set --secret --path 'kvSecrets[\"{key}\"]' … "
                             f"--stack {stack}` and list it in kv.secretKeys")
        else:
            values[key] = json.dumps(value) if isinstance(value, bool) else str(value)
    secret_keys: set[str] = set()
    for i, key in enumerate(obj.items("secretKeys")):
        if not isinstance(key, str) or not KV_KEY.match(key):
            obj.problems.add(f"{obj.key}.secretKeys[{i}]", key, "must be a KV key like db/password")
        elif key in values:
            obj.problems.add(f"{obj.key}.secretKeys[{i}]", key,
                             "is also in kv.values: a key is either plain or secret")
        else:
            secret_keys.add(key)
    specific = {str(k) for k in obj.items("environmentSpecific")}
    obj.done()
    return KvSettings(prefix, values, frozenset(secret_keys), frozenset(specific))


def _looks_secret(key: str, value: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return bool(re.search(r"(password|passwd|secret|token|private[_-]?key)", name)) \
        or bool(GOSSIP_KEY_SHAPE.match(value)) or value.startswith("-----BEGIN")


def _release(obj: _Object) -> ReleaseSettings:
    bucket = obj.opt_text("bucketName", re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
                         "must be a valid S3 bucket name")
    roles: list[str] = []
    for i, arn in enumerate(obj.items("deployerRoleArns")):
        if isinstance(arn, str) and ARN.match(arn) and ":iam::" in arn:
            roles.append(arn)
        else:
            obj.problems.add(f"{obj.key}.deployerRoleArns[{i}]", arn, "must be an IAM role ARN")
    if not roles and "deployerRoleArns" not in obj.raw:
        obj.problems.note(f"{obj.key}.deployerRoleArns is missing: name the IAM role(s) allowed to "
                          "upload releases (e.g. the CI deploy role); nobody else may write")
    settings = ReleaseSettings(bucket, obj.integer("keepReleases", 5, 1, 100), tuple(roles))
    obj.done()
    return settings


def _tags(key: str, raw: object, problems: _Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(key, raw, "must be a mapping of tag names to values")
        return {}
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not TAG_KEY.match(str(k)) or str(k).lower().startswith("aws:"):
            problems.add(f"{key}.{k}", v, "tag keys are 1-128 characters and may not start aws:")
        else:
            out[str(k)] = str(v)
    return out


def _secret(name: str, raw: Mapping[str, object], secret_keys: Iterable[str], stack: str,
            problems: _Problems) -> Secret | None:
    full = f"{PROJECT}:{name}"
    how = f"`pulumi config set --secret {name} <value> --stack {stack}` ({SECRET_KEYS[name]})"
    if full not in raw:
        if name not in OPTIONAL_SECRETS:
            problems.note(f"{full} is not set: run {how}")
        return None
    if full not in set(secret_keys):
        # Never echo the value: it was meant to be secret.
        problems.add(full, "[redacted]", f"is stored in plaintext; remove it and run {how}")
        return None
    value = raw[full]
    if not isinstance(value, str) or not value:
        problems.add(full, "[secret]", "must be a non-empty string")
        return None
    return Secret(value)


def parse_settings(stack: str, raw: Mapping[str, object], secret_keys: Iterable[str],
                   other_stacks_kv: Mapping[str, tuple[frozenset[str], frozenset[str]]]
                   | None = None) -> StackSettings:
    """Validate a stack's whole config (``{"webtier:fleet": "{...}", ...}``) into settings.

    ``other_stacks_kv`` maps every other stack to (its KV keys, its environment-specific keys),
    so a key defined in one environment and missing in another is caught here.
    """
    problems = _Problems()
    secret_keys = set(secret_keys)
    ns = f"{PROJECT}:"
    for key in sorted(raw):
        if key.startswith(ns) and key[len(ns):] not in (*PLAIN_KEYS, *SECRET_KEYS):
            problems.add(key, "[redacted]" if key in secret_keys else raw[key],
                         f"is not a known setting (known: {', '.join(sorted(PLAIN_KEYS))}, "
                         f"and the secrets {', '.join(sorted(SECRET_KEYS))})")
    for key in PLAIN_KEYS:
        if f"{ns}{key}" in secret_keys:
            problems.note(f"{ns}{key} is a secret but holds plain settings: "
                          "set it without --secret")

    def obj(name: str) -> _Object:
        key = f"{ns}{name}"
        return _Object(key, _decode(key, raw.get(key), problems), problems)

    region = raw.get("aws:region")
    if not isinstance(region, str) or not REGION.match(region):
        problems.add("aws:region", region,
                     f"must be an AWS region like ap-northeast-1 (`pulumi config set aws:region "
                     f"ap-northeast-1 --stack {stack}`)")
        region = "us-east-1"
    app_raw = raw.get(f"{ns}app", PROJECT)
    app = app_raw if isinstance(app_raw, str) and APP_NAME.match(app_raw) else PROJECT
    if app != app_raw:
        problems.add(f"{ns}app", app_raw, "must be 3-32 lowercase letters, digits and dashes")

    network = _network(obj("network"), stack)
    load_balancer = _load_balancer(obj("loadBalancer"))
    fleet = _fleet(obj("fleet"))
    scaling = _scaling(obj("scaling"))
    image = _image(obj("image"), app)
    consul = _consul(obj("consul"), stack)
    kv = _kv(obj("kv"), stack, app)
    release = _release(obj("release"))
    tags = _tags(f"{ns}tags", _decode(f"{ns}tags", raw.get(f"{ns}tags"), problems), problems)

    secrets = {name: _secret(name, raw, secret_keys, stack, problems)
               for name in SECRET_KEYS if name != "kvSecrets"}
    kv_values = _kv_secrets(raw, secret_keys, kv, stack, problems)
    if other_stacks_kv:
        keys_by_stack = {stack: kv.keys, **{s: keys for s, (keys, _) in other_stacks_kv.items()}}
        specific_by_stack = {stack: kv.environment_specific,
                             **{s: specific for s, (_, specific) in other_stacks_kv.items()}}
        for error in kv_parity_errors(keys_by_stack, specific_by_stack):
            problems.note(f"{ns}kv: {error}")

    if problems.items:
        raise SettingsError(stack, problems.items)
    gossip, agent, template = (secrets["consulGossipKey"], secrets["consulAgentToken"],
                               secrets["consulTemplateToken"])
    # Missing ones were reported above.
    assert gossip is not None
    assert agent is not None
    assert template is not None
    return StackSettings(
        stack=stack, region=region, app=app, tags=tags, network=network,
        load_balancer=load_balancer, fleet=fleet, scaling=scaling, image=image, consul=consul,
        kv=kv, release=release,
        secrets=StackSecrets(gossip, agent, template, secrets["consulKvToken"], kv_values),
    )


def _kv_secrets(raw: Mapping[str, object], secret_keys: set[str], kv: KvSettings, stack: str,
                problems: _Problems) -> dict[str, Secret]:
    key = f"{PROJECT}:kvSecrets"
    if key not in raw:
        for name in sorted(kv.secret_keys):
            problems.note(f"{key}[\"{name}\"] is not set: run `pulumi config set --secret --path "
                          f"'kvSecrets[\"{name}\"]' <value> --stack {stack}`")
        return {}
    if key not in secret_keys:
        problems.add(key, "[redacted]", "is stored in plaintext; set each value with "
                     "`pulumi config set --secret --path 'kvSecrets[\"<key>\"]' … "
                     f"--stack {stack}`")
        return {}
    decoded = raw[key]
    if isinstance(decoded, str):
        try:
            decoded = json.loads(decoded)
        except json.JSONDecodeError:
            decoded = None
    if not isinstance(decoded, dict):
        problems.add(key, "[secret]", "must be an object of KV key -> secret value")
        return {}
    out = {str(k): Secret(str(v)) for k, v in decoded.items()}
    for name in sorted(kv.secret_keys - set(out)):
        problems.note(f"{key}[\"{name}\"] is not set: run `pulumi config set --secret --path "
                      f"'kvSecrets[\"{name}\"]' <value> --stack {stack}`")
    for name in sorted(set(out) - kv.secret_keys):
        problems.note(f"{key}[\"{name}\"] is not listed in kv.secretKeys: add it there, so every "
                      "stack declares the same keys")
    return out


# --- loading from the running program --------------------------------------------------------

def stack_file_kv_keys(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The KV keys (and environment-specific keys) a committed stack file declares."""
    doc = yaml.safe_load(path.read_text()) or {}
    kv = (doc.get("config") or {}).get(f"{PROJECT}:kv") or {}
    keys = set((kv.get("values") or {}).keys()) | set(kv.get("secretKeys") or [])
    return frozenset(keys), frozenset(kv.get("environmentSpecific") or [])


def load_settings(root: Path,
                  extra_checks: Callable[[StackSettings], list[str]] | None = None
                  ) -> StackSettings:
    """Read the running stack's config (via the Pulumi runtime) and validate it."""
    from pulumi.runtime import config as runtime_config

    stack = pulumi.get_stack()
    raw: dict[str, object] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys |= {k for k in raw if runtime_config.is_config_secret(k)}
    others = {
        path.name.split(".")[1]: stack_file_kv_keys(path)
        for path in sorted(root.glob("Pulumi.*.yaml"))
        if path.name.split(".")[1] in STACKS and path.name.split(".")[1] != stack
    }
    settings = parse_settings(stack, raw, secret_keys, others)
    if extra_checks is not None and (problems := extra_checks(settings)):
        raise SettingsError(stack, problems)
    return settings
