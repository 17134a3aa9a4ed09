"""Both stacks, as `pulumi preview` would send them (the program under the shared mocks), pass
every policy of the pack at that stack's policy config; unknown values would count against them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from plan import cli as plan
from plan import policy_check
from plan.policy_check import stack_resources, to_wire
from policy import rules
from policy.offline import (
    Violation,
    policy_config,
    resource_args,
    run_resource_policy,
    run_stack_policy,
)
from policy.pack import POLICIES
from tests.mocks import Registration, run_stack

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = [
    pytest.param("staging", {}, id="staging"),
    pytest.param("production", {}, id="production"),
    pytest.param("staging", {"webtier:fleet.launchKind": "configuration"},
                 id="staging-launch-configuration"),
    pytest.param("production", {"webtier:fleet.launchKind": "configuration"},
                 id="production-launch-configuration"),
]


def config_file(stack: str) -> dict[str, Any]:
    return policy_check.pack_config(stack)


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
    with ExitStack() as stack_cm:
        def use(stack: str, overrides: dict[str, Any]) -> None:
            stack_cm.enter_context(policy_check.stack_config_for_pack(stack, overrides))

        yield use


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
    alarm = next(r for r in registrations
                 if r.type == rules.METRIC_ALARM and r.name.endswith("-cpu-high"))
    alarm.outputs["alarmActions"] = []
    as_stack("production", {})
    found = {(v.policy, v.urn) for v in stack_violations("production", registrations)}
    assert found == {("autoscaling-alarm-scales-own-group", alarm.urn)}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_offline_plan_policy_report_passes_both_stacks(stack: str) -> None:
    text, status = plan.policy_markdown(stack, redact=False)  # a leak is not hidden here
    assert status == 0
    assert "every rule passes" in text
    assert [s for s in plan.PLACEHOLDERS if s in text] == []


def test_offline_plan_policy_report_blocks_ssh_open_to_the_internet_in_production() -> None:
    text, status = plan.policy_markdown(
        "production", config_overrides={"webtier:loadBalancer.listenerPort": 22})
    assert status == 1
    assert "| mandatory | `restricted-common-ports` | `webapp-production-lb-listener-in-0` |" \
        in text


def test_offline_plan_policy_report_only_advises_on_staging() -> None:
    text, status = plan.policy_markdown(
        "staging", config_overrides={"webtier:loadBalancer.listenerPort": 22})
    assert status == 0
    assert "| advisory | `restricted-common-ports` |" in text


def test_policy_check_matches_the_per_policy_runs(as_stack: Any) -> None:
    # The tool and the per-policy helpers above judge the same registrations alike.
    registrations = run_stack("production")
    template = next(r for r in registrations if r.type == rules.LAUNCH_TEMPLATE)
    template.inputs["metadataOptions"]["httpPutResponseHopLimit"] = 2
    found = {(f.policy, f.urn) for f in policy_check.check("production", registrations)}
    assert found == {("autoscaling-launch-config-hop-limit", template.urn)}
