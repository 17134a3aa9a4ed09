"""Both stacks, as `pulumi preview` would send them (the program under the shared mocks), pass
every policy of the pack at that stack's policy config; unknown values would count against them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import config as runtime_config
from pulumi_policy import PolicyResource, ResourceValidationPolicy, StackValidationPolicy

from policy import rules
from policy.offline import (
    UNKNOWN,
    Violation,
    policy_config,
    policy_resource,
    resource_args,
    run_resource_policy,
    run_stack_policy,
)
from policy.pack import POLICIES
from tests.mocks import SECRET, Registration, run_stack, stack_config
from tests.mocks import UNKNOWN as MOCK_UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [
    pytest.param("staging", {}, id="staging"),
    pytest.param("production", {}, id="production"),
    pytest.param("staging", {"webtier:fleet.launchKind": "configuration"},
                 id="staging-launch-configuration"),
    pytest.param("production", {"webtier:fleet.launchKind": "configuration"},
                 id="production-launch-configuration"),
]


def to_wire(value: Any) -> Any:
    """Recorded values as the analyzer receives them: unknowns as the engine's unknown marker;
    secrets are plaintext to a policy pack, so stand in a non-secret placeholder for them."""
    if value is MOCK_UNKNOWN:
        return UNKNOWN
    if value is SECRET:
        return "placeholder"
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def config_file(stack: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "policy" / f"{stack}.json").read_text())
    return document


def resource_violations(stack: str, registrations: list[Registration]) -> list[Violation]:
    found = []
    for policy in (p for p in POLICIES if isinstance(p, ResourceValidationPolicy)):
        _, config = policy_config(config_file(stack), policy)
        for registration in registrations:
            if registration.custom:
                args = resource_args(registration.type, to_wire(registration.inputs),
                                     name=registration.name, urn=registration.urn, config=config)
                found.extend(run_resource_policy(policy, args))
    return found


def stack_resources(registrations: list[Registration]) -> list[PolicyResource]:
    # A stack policy sees each resource's outputs: the inputs plus what the provider computed.
    return [policy_resource(r.type, to_wire(r.outputs or r.inputs), name=r.name, urn=r.urn,
                            parent=r.parent or None)
            for r in registrations if r.custom]


def stack_violations(stack: str, registrations: list[Registration]) -> list[Violation]:
    found = []
    resources = stack_resources(registrations)
    for policy in (p for p in POLICIES if isinstance(p, StackValidationPolicy)):
        _, config = policy_config(config_file(stack), policy)
        found.extend(run_stack_policy(policy, resources, config))
    return found


@pytest.fixture
def as_stack() -> Iterator[Any]:
    """Give the pack the stack's own config, as the CLI does through PULUMI_CONFIG."""
    token = runtime_config.CONFIG.set({})

    def use(stack: str, overrides: dict[str, Any]) -> None:
        config, _ = stack_config(stack, overrides=overrides, secrets=False)
        runtime_config.CONFIG.set(config)

    yield use
    runtime_config.CONFIG.reset(token)


@pytest.mark.parametrize(("stack", "overrides"), VARIANTS)
def test_every_registered_resource_passes_every_resource_policy(
        stack: str, overrides: dict[str, Any]) -> None:
    registrations = run_stack(stack, config_overrides=overrides)
    problems = [f"{v.policy} on {v.urn}: {v.message}"
                for v in resource_violations(stack, registrations)]
    assert problems == []


@pytest.mark.parametrize(("stack", "overrides"), VARIANTS)
def test_the_whole_stack_passes_every_stack_policy(stack: str, overrides: dict[str, Any],
                                                   as_stack: Any) -> None:
    registrations = run_stack(stack, config_overrides=overrides)
    as_stack(stack, overrides)
    problems = [f"{v.policy} on {v.urn}: {v.message}"
                for v in stack_violations(stack, registrations)]
    assert problems == []


@pytest.mark.parametrize(("stack", "overrides"), VARIANTS)
def test_stacks_register_what_the_policies_judge(stack: str, overrides: dict[str, Any]) -> None:
    """The all-pass tests above mean something only if the judged resource types are there."""
    types = {r.type for r in run_stack(stack, config_overrides=overrides)}
    launch = (rules.LAUNCH_CONFIGURATION if overrides else rules.LAUNCH_TEMPLATE)
    assert {launch, rules.GROUP, rules.SCALING_POLICY, rules.METRIC_ALARM, rules.ROLE_POLICY,
            rules.SECURITY_GROUP, rules.INGRESS_RULE} <= types


def test_a_weakened_launch_template_in_production_is_caught() -> None:
    registrations = run_stack("production")
    template = next(r for r in registrations if r.type == rules.LAUNCH_TEMPLATE)
    template.inputs["metadataOptions"]["httpTokens"] = "optional"
    found = {(v.policy, v.urn) for v in resource_violations("production", registrations)}
    assert found == {("autoscaling-launchconfig-requires-imdsv2", template.urn)}


def test_an_alarm_rewired_to_nothing_in_production_is_caught(as_stack: Any) -> None:
    registrations = run_stack("production")
    alarm = next(r for r in registrations if r.type == rules.METRIC_ALARM)
    alarm.outputs["alarmActions"] = []
    as_stack("production", {})
    found = {(v.policy, v.urn) for v in stack_violations("production", registrations)}
    assert found == {("autoscaling-alarm-scales-own-group", alarm.urn)}
