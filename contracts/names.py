"""Names: the project, its stacks, the app-name rule and the prefixes derived from them."""

from __future__ import annotations

import re

PROJECT = "webtier"
STACKS = ("staging", "production")
# Stacks whose fleet must survive the loss of an availability zone.
HIGH_AVAILABILITY_STACKS = frozenset({"production"})

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]\Z")
APP_NAME_ALLOWED = "3-32 lowercase letters, digits and dashes, starting with a letter"
# A Consul KV path of ours: lowercase segments, no empty, `.` or `..` segment climbing out.
KV_PATH = re.compile(r"^[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9][a-z0-9_.-]*)*\Z")
KV_PATH_ALLOWED = "a KV path of lowercase segments like app/staging"


def resource_prefix(app: str, stack: str) -> str:
    """Prefix of every resource name: app and stack, so two stacks never collide in one account."""
    return f"{app}-{stack}"


def permissions_boundary_policy(stack: str) -> str:
    """The managed policy `python -m bootstrap` makes per stack: every IAM role the stack creates
    carries it as its permissions boundary, since the deploy role may create no other."""
    return f"{PROJECT}-boundary-{stack}"


def ssm_prefix(app: str, stack: str) -> str:
    """SSM parameter path the stack writes node secrets under and instances read at boot."""
    return f"/{app}/{stack}"


def default_kv_prefix(app: str, stack: str) -> str:
    """Consul KV path of a stack's settings unless webtier:kv.prefix names another."""
    return f"{app}/{stack}"


def fleet_group_prefix(app: str, stack: str) -> str:
    """Every Auto Scaling group of a stack's fleet is named this plus Pulumi's random suffix
    (__main__.py names the component `<prefix>-fleet`, components/fleet/fleet.py gives the group
    `name_prefix=<component>-`): what `python -m deploy` finds the in-service instances by."""
    return f"{resource_prefix(app, stack)}-fleet-"
