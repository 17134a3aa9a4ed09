"""Validates a stack's whole config into StackSettings, reporting every problem at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from components.consul.template_keys import kv_parity_errors
from components.settings.capacity import parse_capacity
from components.settings.consul import parse_consul
from components.settings.fleet import parse_fleet
from components.settings.image import parse_image
from components.settings.kv import parse_kv
from components.settings.load_balancer import parse_load_balancer
from components.settings.model import StackSettings
from components.settings.network import parse_network
from components.settings.notifications import parse_notifications
from components.settings.reader import ConfigObject, Problems, SettingsError, decode
from components.settings.release import parse_release
from components.settings.rollout import parse_rollout
from components.settings.scaling import parse_scaling
from components.settings.secrets import (
    SECRET_KEYS,
    StackSecrets,
    parse_kv_secrets,
    parse_secret,
    plaintext_secret_problem,
    plaintext_secrets_elsewhere,
)
from contracts.aws_ids import REGION, TAG_KEY
from contracts.names import APP_NAME, APP_NAME_ALLOWED, PROJECT

PLAIN_KEYS = (
    "app", "tags", "network", "loadBalancer", "fleet", "scaling", "image", "consul", "kv",
    "release", "rollout", "capacity", "notifications",
)


def _tags(key: str, raw: object, problems: Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(key, raw, "must be a mapping of tag names to values")
        return {}
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not TAG_KEY.matches(str(k)) or str(k).lower().startswith("aws:"):
            problems.add(f"{key}.{k}", v, "tag keys are 1-128 characters and may not start aws:")
        else:
            out[str(k)] = str(v)
    return out


def parse_settings(stack: str, raw: Mapping[str, object], secret_keys: Iterable[str],
                   other_stacks_kv: Mapping[str, tuple[frozenset[str], frozenset[str]]]
                   | None = None) -> StackSettings:
    """Validate a stack's whole config (``{"webtier:fleet": "{...}", ...}``) into settings.

    ``other_stacks_kv`` maps every other stack to (its KV keys, its environment-specific keys),
    so a key defined in one environment and missing in another is caught here.
    """
    problems = Problems()
    secret_keys = set(secret_keys)
    ns = f"{PROJECT}:"
    for key in sorted(raw):
        if key.startswith(ns) and key[len(ns):] not in (*PLAIN_KEYS, *SECRET_KEYS):
            # Never the value: a mistyped secret key (consulAgentTokn) holds a secret.
            problems.note(f"{key} is not a known setting (known: "
                          f"{', '.join(sorted(PLAIN_KEYS))}, and the secrets "
                          f"{', '.join(sorted(SECRET_KEYS))}); its value is not shown")
    for key in plaintext_secrets_elsewhere(raw, secret_keys):
        problems.note(plaintext_secret_problem(key, stack))
    for key in PLAIN_KEYS:
        if f"{ns}{key}" in secret_keys:
            problems.note(f"{ns}{key} is a secret but holds plain settings: "
                          "set it without --secret")

    def obj(name: str) -> ConfigObject:
        key = f"{ns}{name}"
        return ConfigObject(key, decode(key, raw.get(key), problems), problems)

    region = raw.get("aws:region")
    if not REGION.matches(region):
        problems.add("aws:region", region,
                     f"{REGION.allowed} (`pulumi config set aws:region ap-northeast-1 "
                     f"--stack {stack}`)")
        region = "us-east-1"
    assert isinstance(region, str)
    app_raw = raw.get(f"{ns}app", PROJECT)
    app = app_raw if isinstance(app_raw, str) and APP_NAME.fullmatch(app_raw) else PROJECT
    if app != app_raw:
        problems.add(f"{ns}app", app_raw, f"must be {APP_NAME_ALLOWED}")

    network = parse_network(obj("network"), stack)
    load_balancer = parse_load_balancer(obj("loadBalancer"))
    fleet = parse_fleet(obj("fleet"))
    scaling = parse_scaling(obj("scaling"))
    capacity = parse_capacity(obj("capacity"), fleet)
    notifications = parse_notifications(obj("notifications"),
                                        raw.get(f"{ns}notifications") is not None)
    image = parse_image(obj("image"), app)
    consul = parse_consul(obj("consul"), stack, app)
    kv = parse_kv(obj("kv"), stack, app)
    release = parse_release(obj("release"))
    rollout = parse_rollout(obj("rollout"))
    tags = _tags(f"{ns}tags", decode(f"{ns}tags", raw.get(f"{ns}tags"), problems), problems)

    secrets = {name: parse_secret(name, raw, secret_keys, stack, problems)
               for name in SECRET_KEYS if name != "kvSecrets"}
    kv_values = parse_kv_secrets(raw, secret_keys, kv, stack, problems)
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
        kv=kv, release=release, rollout=rollout, capacity=capacity,
        notifications=notifications,
        secrets=StackSecrets(gossip, agent, template, secrets["consulKvToken"], kv_values),
    )
