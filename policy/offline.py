"""Runs the pack's policies outside the Pulumi CLI, on the same argument objects the SDK builds.

pulumi_policy's analyzer turns each engine request into a protobuf Struct, deserializes it and
wraps it in its unknown-checking proxy before calling ``validate``; these helpers do the same, so
tests (and offline tools) exercise the policies exactly as `pulumi preview` would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

UNKNOWN = UNKNOWN_STRING_VALUE
"""The engine's marker for a value not known until the update; use it in props to mean unknown."""


def wire_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``props`` as the analyzer sees them: through a protobuf Struct (numbers become floats),
    deserialized, behind the proxy that raises on unknown values."""
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    deserialized = deserialize_properties(json_format.MessageToDict(struct))
    proxied: Mapping[str, Any] = unknown_checking_proxy(deserialized)
    return proxied


def _options(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[], parent=parent)


def urn_for(resource_type: str, name: str, stack: str = "test") -> str:
    return f"urn:pulumi:{stack}::webtier::{resource_type}::{name}"


def resource_args(resource_type: str, props: Mapping[str, Any], *, name: str = "subject",
                  urn: str | None = None,
                  config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(resource_type, wire_props(props),
                                  urn or urn_for(resource_type, name), name, _options(), None,
                                  dict(config) if config else None)


def policy_resource(resource_type: str, props: Mapping[str, Any], *, name: str,
                    urn: str | None = None, parent: str | None = None) -> PolicyResource:
    """A stack resource; link dependencies afterwards with ``depend(resource, prop, *others)``."""
    return PolicyResource(resource_type, wire_props(props), urn or urn_for(resource_type, name),
                          name, _options(parent), None, None, [], {})


def depend(resource: PolicyResource, prop: str, *others: PolicyResource) -> PolicyResource:
    """Record that ``resource.props[prop]`` came from ``others``, as the engine's
    propertyDependencies would."""
    resource.property_dependencies.setdefault(prop, []).extend(others)
    resource.dependencies.extend(others)
    return resource


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None = None


@dataclass
class Collector:
    """A report_violation callback that keeps what it is told."""

    policy: str
    violations: list[Violation] = field(default_factory=list)

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.violations.append(Violation(self.policy, message, urn))


def run_resource_policy(policy: ResourceValidationPolicy,
                        args: ResourceValidationArgs) -> list[Violation]:
    """The policy's violations, each on the validated resource (as the engine attributes them)."""
    collector = Collector(policy.name)
    policy.validate(args, collector)
    return [replace(v, urn=args.urn) for v in collector.violations]


def run_stack_policy(policy: StackValidationPolicy, resources: Sequence[PolicyResource],
                     config: Mapping[str, Any] | None = None) -> list[Violation]:
    collector = Collector(policy.name)
    policy.validate(StackValidationArgs(list(resources), dict(config) if config else None),
                    collector)
    return collector.violations


def policy_config(config_file: Mapping[str, Any], policy: Policy
                  ) -> tuple[EnforcementLevel | None, dict[str, Any]]:
    """One policy's (enforcement level, properties) from a --policy-pack-config document.

    Mirrors the CLI's reconciliation: schema defaults, then "all", then the policy's own entry.
    """
    level: EnforcementLevel | None = None
    properties: dict[str, Any] = {}
    if policy.config_schema is not None:
        properties.update({key: schema["default"] for key, schema in
                           policy.config_schema.properties.items() if "default" in schema})
    if isinstance(config_file.get("all"), str):
        level = EnforcementLevel(config_file["all"])
    entry = config_file.get(policy.name)
    if isinstance(entry, str):
        level = EnforcementLevel(entry)
    elif isinstance(entry, Mapping):
        if "enforcementLevel" in entry:
            level = EnforcementLevel(entry["enforcementLevel"])
        properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    return level, properties
