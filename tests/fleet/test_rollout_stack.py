"""Rollout settings, validated, and what they set under mocks: refresh preferences, the
maintenance policy, health alarms, lifecycle hooks, IAM, and the order the resources come in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.access.iam_policies import instance_policy
from components.fleet.health_alarm_specs import health_alarms
from components.settings import SettingsError
from tests.mocks import Registration, run_program
from tests.settings.test_settings import parse as settings_of

LC = "aws:ec2/launchConfiguration:LaunchConfiguration"

GROUP = "aws:autoscaling/group:Group"
GATE = "pulumi-python:dynamic/webtier:RolloutGate"
START = "pulumi-python:dynamic/webtier:RolloutStart"
HOOK = "aws:autoscaling/lifecycleHook:LifecycleHook"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def regs(stack: str = "production", **overrides: Any) -> list[Registration]:
    return run_program(stack, config_overrides=overrides).registrations


def one(found: list[Registration], token: str) -> Registration:
    hits = [r for r in found if r.type == token]
    assert len(hits) == 1, [r.name for r in hits]
    return hits[0]


def prefs(found: list[Registration]) -> dict[str, Any]:
    """StartInstanceRefresh's Preferences, as the rollout start sends them."""
    return dict(one(found, START).inputs["preferences"])


@pytest.mark.parametrize(("override", "key", "allowed"), [
    ({"webtier:rollout.maxHealthyPercentage": 250}, "maxHealthyPercentage", "between 100"),
    ({"webtier:rollout.minHealthyPercentage": 50, "webtier:rollout.maxHealthyPercentage": 200},
     "maxHealthyPercentage", "at most 100"),
    ({"webtier:rollout.minHealthyPercentage": 100, "webtier:rollout.maxHealthyPercentage": 100},
     "maxHealthyPercentage", "must be above"),
    ({"webtier:rollout.checkpoints": [50, 90]}, "checkpoints", "end at 100"),
    ({"webtier:rollout.checkpoints": [60, 30, 100]}, "checkpoints", "rise strictly"),
    ({"webtier:rollout.checkpoints": [0, 100]}, "checkpoints", "between 1 and 100"),
    ({"webtier:rollout.launchHeartbeatTimeout": 10}, "launchHeartbeatTimeout", "between 30"),
    ({"webtier:rollout.gateTimeout": 5}, "gateTimeout", "between 60"),
    ({"webtier:rollout.bakeTime": 172801}, "bakeTime", "between 0"),
    ({"webtier:rollout.alarmRollback": "yes"}, "alarmRollback", "true or false"),
    ({"webtier:fleet.minHealthyPercentage": 90}, "", "not a known setting"),
])
def test_bad_rollout_settings_are_refused_naming_the_key(override: dict[str, Any], key: str,
                                                         allowed: str) -> None:
    with pytest.raises(SettingsError) as err:
        settings_of("production", override)
    assert any(key in p and allowed in p for p in err.value.problems), err.value.problems


def test_production_launches_before_it_terminates() -> None:
    r = settings_of("production", {}).rollout
    assert (r.min_healthy_percentage, r.max_healthy_percentage) == (100, 200)


def test_group_maintenance_policy_and_refresh_keep_full_capacity_in_production() -> None:
    found = regs()
    policy = one(found, GROUP).inputs["instanceMaintenancePolicy"]
    assert policy == {"minHealthyPercentage": 100, "maxHealthyPercentage": 200}
    p = prefs(found)
    assert (p["MinHealthyPercentage"], p["MaxHealthyPercentage"]) == (100, 200)
    assert (p["AutoRollback"], p["BakeTime"], p["InstanceWarmup"]) == (True, 300, 300)
    assert "instanceRefresh" not in one(found, GROUP).inputs  # the gate starts it, not the group


def test_refresh_pauses_at_the_configured_checkpoints() -> None:
    p = prefs(regs(**{"webtier:rollout.checkpoints": [25, 100],
                      "webtier:rollout.checkpointDelay": 120}))
    assert p["CheckpointPercentages"] == [25, 100]
    assert p["CheckpointDelay"] == 120


def test_refresh_without_checkpoints_sets_no_delay() -> None:
    p = prefs(regs("staging"))
    assert "CheckpointPercentages" not in p
    assert "CheckpointDelay" not in p


def test_refresh_skip_matching_follows_the_setting() -> None:
    assert prefs(regs(**{"webtier:rollout.skipMatching": False}))["SkipMatching"] is False


def test_refresh_alarm_specification_names_the_health_alarms() -> None:
    found = regs()
    names = sorted(r.inputs["name"] for r in found
                   if r.type == ALARM and "-health-" in r.name)
    assert len(names) == 2
    assert sorted(prefs(found)["AlarmSpecification"]["Alarms"]) == names


def test_refresh_without_alarm_rollback_has_no_alarm_specification() -> None:
    assert "AlarmSpecification" not in prefs(regs(**{"webtier:rollout.alarmRollback": False}))


def test_launch_configuration_mode_rolls_without_auto_rollback_nor_skip_matching() -> None:
    # AWS refuses both with a new launch configuration (no desired configuration to go to).
    found = regs(**{"webtier:fleet.launchKind": "configuration"})
    start = one(found, START)
    assert not start.inputs.get("desired")
    assert "AutoRollback" not in start.inputs["preferences"]
    assert "SkipMatching" not in start.inputs["preferences"]
    assert start.inputs["launch"] == one(found, LC).outputs["name"]
    assert "launchConfiguration" not in one(found, GROUP).options.get("ignoreChanges", [])


def test_template_mode_starts_the_refresh_towards_the_new_version_and_the_group_ignores_it(
        ) -> None:
    found = regs()
    group, start = one(found, GROUP), one(found, START)
    assert start.inputs["desired"] == {"LaunchTemplate": {
        "LaunchTemplateId": group.inputs["launchTemplate"]["id"],
        "Version": group.inputs["launchTemplate"]["version"]}}
    assert {"launchTemplate", "mixedInstancesPolicy"} <= set(group.options["ignoreChanges"])
    assert group.urn in start.options["dependsOn"]


def test_mixed_mode_starts_the_refresh_towards_the_whole_mixed_policy() -> None:
    found = regs(**{"webtier:capacity.mixedInstances": {
        "instanceTypes": ["t3.micro", "t3a.micro"], "onDemandBaseCapacity": 1,
        "onDemandPercentageAboveBase": 0}})
    group = one(found, GROUP).inputs["mixedInstancesPolicy"]
    desired = one(found, START).inputs["desired"]["MixedInstancesPolicy"]
    spec = group["launchTemplate"]["launchTemplateSpecification"]
    assert desired["LaunchTemplate"]["LaunchTemplateSpecification"] == {
        "LaunchTemplateId": spec["launchTemplateId"], "Version": spec["version"]}
    assert desired["InstancesDistribution"]["SpotAllocationStrategy"] == \
        group["instancesDistribution"]["spotAllocationStrategy"]
    assert desired["LaunchTemplate"]["Overrides"] == [{"InstanceType": "t3.micro"},
                                                      {"InstanceType": "t3a.micro"}]
    assert desired["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    assert desired["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0


def test_protected_instances_are_refreshed_not_skipped() -> None:
    assert prefs(regs(**{"webtier:capacity.protectFromScaleIn": True}))[
        "ScaleInProtectedInstances"] == "Refresh"
    assert "ScaleInProtectedInstances" not in prefs(regs())


def test_lifecycle_hooks_are_created_with_the_group_and_kept_by_their_own_resources() -> None:
    found = regs(**{"webtier:rollout.launchHeartbeatTimeout": 900,
                    "webtier:rollout.terminateHeartbeatTimeout": 240})
    # Hooks in the group's own create request exist before its first instance launches; the
    # provider replaces the group on any change of them, so later changes go through
    # LifecycleHook resources (PutLifecycleHook updates in place) and the group ignores them.
    group = one(found, GROUP)
    assert "initialLifecycleHooks" in group.options["ignoreChanges"]
    kept = {r.inputs["name"]: r.inputs for r in found if r.type == HOOK}
    for hook in group.inputs["initialLifecycleHooks"]:
        assert kept[hook["name"]] == {**hook, "autoscalingGroupName": group.outputs["name"]}
    hooks = {h["name"]: h for h in group.inputs["initialLifecycleHooks"]}
    assert hooks["webtier-launch"] == {
        "name": "webtier-launch", "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "defaultResult": "ABANDON", "heartbeatTimeout": 900}
    assert hooks["webtier-terminate"] == {
        "name": "webtier-terminate",
        "lifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "defaultResult": "CONTINUE", "heartbeatTimeout": 240}


def test_gate_comes_after_the_group_and_depends_on_it() -> None:
    found = regs()
    group, gate = one(found, GROUP), one(found, GATE)
    assert group.urn in gate.options["dependsOn"], gate.urn
    assert found.index(gate) > found.index(group)
    assert gate.inputs["groupName"] == group.outputs["name"]
    assert gate.inputs["timeout"] == 2700


def test_gate_waits_on_the_refresh_the_rollout_start_recorded() -> None:
    found = regs()
    start, gate = one(found, START), one(found, GATE)
    # Known only once the start has run in the `up`: under mocks, as in a preview, unknown.
    assert "refreshId" not in start.outputs
    assert str(gate.inputs["refreshId"]) == "[unknown]"
    assert found.index(start) < found.index(gate)


def test_no_gate_when_the_stack_does_not_wait_but_the_rollout_still_starts() -> None:
    found = regs(**{"webtier:rollout.wait": False})
    assert not [r for r in found if r.type == GATE]
    assert one(found, START)


def test_health_alarms_are_exported_for_a_notification_topic() -> None:
    run = run_program("production")
    alarms = [r for r in run.registrations if r.type == ALARM and "-health-" in r.name]
    assert sorted(run.outputs["healthAlarmArns"]) == sorted(a.outputs["arn"] for a in alarms)
    assert sorted(run.outputs["healthAlarmNames"]) == sorted(a.outputs["name"] for a in alarms)


def test_health_alarms_watch_unhealthy_targets_and_the_5xx_rate() -> None:
    r = settings_of("production", {"webtier:rollout.errorRatePercent": 2.5}).rollout
    unhealthy, errors = health_alarms(r)
    assert unhealthy.terms[0].metric_name == "UnHealthyHostCount"
    assert unhealthy.terms[0].dimensions == ("TargetGroup", "LoadBalancer")
    assert unhealthy.threshold == 1
    assert errors.threshold == 2.5
    assert {t.metric_name for t in errors.terms} == {
        "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "RequestCount"}
    assert errors.expression is not None
    assert "requests" in errors.expression


def test_instance_may_complete_lifecycle_actions_of_its_own_groups_only() -> None:
    doc = instance_policy(region="ap-northeast-1", account_id="123456789012", release_bucket="b",
                          release_prefix="releases/webapp", ssm_prefix="/webapp/staging",
                          group_name_prefix="webapp-staging-fleet-")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    hooks = by_sid["CompleteOwnLifecycleActions"]
    assert sorted(hooks["Action"]) == ["autoscaling:CompleteLifecycleAction",
                                       "autoscaling:RecordLifecycleActionHeartbeat"]
    assert hooks["Resource"].endswith(":autoScalingGroupName/webapp-staging-fleet-*")
    # The group drains a terminating instance itself before Terminating:Wait: no ELB grant.
    assert not any(a.startswith("elasticloadbalancing:") for s in doc["Statement"]
                   for a in s["Action"])


def test_stack_instance_role_grants_hooks_on_the_stacks_group_prefix() -> None:
    found = regs("staging")
    policy = json.loads(one(found, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    resources = [s["Resource"] for s in policy["Statement"]
                 if s["Sid"] == "CompleteOwnLifecycleActions"]
    assert resources == ["arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:*:"
                         "autoScalingGroupName/webapp-staging-fleet-*"]


def test_user_data_writes_the_hook_settings_and_completes_the_launch_action() -> None:
    import base64
    found = regs("staging")
    text = base64.b64decode(
        one(found, "aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()
    assert "LAUNCH_HOOK=webtier-launch" in text
    assert "LAUNCH_DEADLINE=600" in text
    assert "HEALTH_URL=http://127.0.0.1:8080/health" in text
    assert text.index("systemctl enable --now app.service") < \
        text.index("/usr/local/bin/lifecycle-hook launch")
