"""Each whole stack under mocks: it evaluates, exports what operators need, keeps secrets secret,
and staging and production take the same code paths (they differ in values only)."""

from __future__ import annotations

import json

import pytest

from components.settings import STACKS, SettingsError
from tests.mocks import (
    PLACEHOLDER_KV_SECRET,
    PLACEHOLDER_SECRETS,
    PROMOTED_AMI,
    UNKNOWN,
    run_program,
)

EXPORTS = ("groupName", "launchId", "amiId", "alarmArns", "policyArns", "loadBalancerDnsName",
           "releaseBucket")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_exports_group_launch_ami_alarms_and_policies(stack: str) -> None:
    outputs = run_program(stack, preview=False).outputs
    missing = [k for k in EXPORTS if outputs.get(k) in (None, "", {}, UNKNOWN)]
    assert missing == [], outputs
    assert set(outputs["alarmArns"]) == {"out", "in"}
    # Staging shows request-count and (forecast-only) predictive scaling beside the CPU alarms.
    extra = {"requests", "predictive"} if stack == "staging" else set()
    assert set(outputs["policyArns"]) == {"out", "in"} | extra


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_appears_in_plain_inputs_or_outputs(stack: str) -> None:
    run = run_program(stack)
    text = json.dumps([(r.inputs, r.outputs) for r in run.registrations], default=repr)
    text += json.dumps(run.outputs, default=repr)
    for placeholder in (*PLACEHOLDER_SECRETS.values(), PLACEHOLDER_KV_SECRET):
        assert placeholder not in text


def shape(stack: str) -> set[tuple[str, str]]:
    return {(r.type, r.name.replace(f"-{stack}", "-STACK"))
            for r in run_program(stack).registrations if r.type != "pulumi:pulumi:Stack"}


def test_stacks_differ_only_in_the_image_build_and_staging_first_features() -> None:
    # One AMI serves every environment: staging builds it (image.source: build), production
    # promotes it. Staging also shows capacity features first (request-count and predictive
    # policies, the notification topic). Every other resource exists in both, same name.
    assert shape("staging") - shape("production") == {
        ("command:local:Command", "webapp-STACK-image-base"),
        ("command:local:Command", "webapp-STACK-image-app"),
        ("aws:autoscaling/policy:Policy", "webapp-STACK-scaling-requests-target"),
        ("aws:autoscaling/policy:Policy", "webapp-STACK-scaling-predictive"),
        ("webtier:notifications:Notifications", "webapp-STACK-notifications"),
        ("aws:autoscaling/notification:Notification", "webapp-STACK-fleet-group-events"),
        ("aws:sns/topic:Topic", "webapp-STACK-notifications-topic"),
        ("aws:kms/key:Key", "webapp-STACK-notifications-key"),
    }
    assert shape("production") - shape("staging") == set()


def test_production_launches_the_ami_staging_built_for_the_same_inputs() -> None:
    regs = run_program("production").registrations
    template = next(r for r in regs if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["imageId"] == PROMOTED_AMI


def test_staging_fleet_launches_the_ami_its_app_layer_build_printed() -> None:
    regs = run_program("staging", preview=False).registrations
    app = next(r for r in regs if r.name == "webapp-staging-image-app")
    template = next(r for r in regs if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["imageId"] == app.outputs["stdout"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_tagged_with_environment(stack: str) -> None:
    untagged = [r.name for r in run_program(stack).registrations
                if r.custom and isinstance(r.inputs.get("tags"), dict)
                and r.inputs["tags"].get("environment") != stack]
    assert untagged == []


def test_a_key_a_template_reads_missing_from_kv_stops_the_program() -> None:
    overrides = {"webtier:kv.values.database/master-host": None,
                 "webtier:kv.environmentSpecific": ["database/master-host"]}
    with pytest.raises(SettingsError) as caught:
        run_program("staging", config_overrides=overrides)
    problem = next(p for p in caught.value.problems if "database/master-host" in p)
    assert "app.toml.ctmpl" in problem
    assert "staging" in problem


@pytest.mark.parametrize("stack", STACKS)
def test_kv_entries_are_written_under_the_stack_prefix(stack: str) -> None:
    regs = run_program(stack).registrations
    kv = next(r for r in regs if r.type == "webtier:consul_kv:ConsulKv")
    entries = next(r for r in regs if r.parent == kv.urn and r.custom)
    assert entries.inputs["prefix"] == f"webapp/{stack}"
    assert repr(entries.inputs["secretValues"]) == "[secret]"
    assert entries.inputs["values"]["database/master-host"] == f"db.{stack}.internal"
