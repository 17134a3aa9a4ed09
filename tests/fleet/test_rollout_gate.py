"""The rollout start and gate providers against the refresh double, through a real boto3 client
over HTTP (integration) and the same client served in process (fast: the mutation run's path):
what they ask AWS for, what they record, and what a retry does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from components.fleet import rollout_start
from components.fleet.rollout_gate import RolloutGateProvider
from components.fleet.rollout_start import RolloutStartProvider
from tests.fleet.autoscaling_endpoint import in_process_client, serving
from tests.fleet.refresh_double import AutoScalingDouble

GROUP = "webapp-production-fleet-1"
V7 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}
V8 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}
PREFS = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "InstanceWarmup": 0,
         "BakeTime": 120, "SkipMatching": True, "AutoRollback": True,
         "AlarmSpecification": {"Alarms": ["web-5xx"]}}


@pytest.fixture(params=[pytest.param("http", marks=pytest.mark.integration), "in-process"])
def aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[AutoScalingDouble]:
    double = AutoScalingDouble()
    if request.param == "in-process":
        in_process = in_process_client(double)
        monkeypatch.setattr(rollout_start, "client", lambda _region: in_process)
        yield double
        return
    with serving(double) as url:
        client = boto3.client("autoscaling", region_name="ap-northeast-1", endpoint_url=url,
                              aws_access_key_id="x", aws_secret_access_key="x")
        monkeypatch.setattr(rollout_start, "client", lambda _region: client)
        yield double


def start_props(desired: dict[str, Any] | None, launch: str, **extra: Any) -> dict[str, Any]:
    return {"region": "ap-northeast-1", "groupName": GROUP, "desired": desired,
            "launch": launch, "preferences": PREFS, **extra}


def gate_props(refresh_id: str, timeout: int = 600) -> dict[str, Any]:
    return {"region": "ap-northeast-1", "groupName": GROUP, "refreshId": refresh_id,
            "timeout": timeout, "poll": 0}


def roll(double: AutoScalingDouble, new: dict[str, Any] = V8, launch: str = "lt-1:8",
         old: dict[str, Any] = V7, old_launch: str = "lt-1:7") -> dict[str, Any]:
    """One `up` of the rollout start from `old` to `new`; its recorded outputs."""
    olds = {**start_props(old, old_launch), "refreshId": "", "target": old_launch}
    return RolloutStartProvider().update("id", olds, start_props(new, launch)).outs or {}


def test_the_start_asks_aws_for_the_desired_configuration_and_records_the_refresh(
        aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    outs = roll(aws)
    action, request = aws.calls[-1]
    assert action == "StartInstanceRefresh"
    assert request == {"AutoScalingGroupName": GROUP, "Strategy": "Rolling",
                       "DesiredConfiguration": V8, "Preferences": PREFS}
    assert outs["refreshId"] == aws.refreshes[0].refresh_id
    assert outs["target"] == "lt-1:8"
    RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert aws.groups[GROUP].config == V8


def test_a_failed_roll_leaves_the_group_on_its_previous_version_and_fails_the_gate(
        aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7, desired=4)
    aws.broken.append(V8)
    outs = roll(aws)
    with pytest.raises(Exception, match=r"^instance refresh") as err:
        RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert str(err.value) == (
        f"instance refresh {outs['refreshId']} ended RollbackSuccessful: Instance "
        f"{aws.groups[GROUP].instances[0].instance_id} replacement failed its health checks; "
        f"{GROUP} is back on its previous launch settings")
    assert aws.groups[GROUP].config == V7
    assert all(i.config == V7 for i in aws.groups[GROUP].instances)


def test_a_retry_reports_the_recorded_failure_and_adopts_no_other_refresh(
        aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    aws.broken.append(V8)
    outs = roll(aws)
    gate = RolloutGateProvider()
    with pytest.raises(Exception, match="RollbackSuccessful"):
        gate.update("id", gate_props(""), gate_props(outs["refreshId"]))
    # Someone starts a refresh by hand, which succeeds; the retried `up` is not fooled by it.
    aws.broken.clear()
    aws.start_instance_refresh({"AutoScalingGroupName": GROUP})
    for _ in range(5):
        aws.tick()
    # The retry: the start's state holds the refresh (no change, nothing new started), the
    # gate's state is still the one before the failure, so it waits on that refresh again.
    again = RolloutStartProvider().update("id", {**start_props(V8, "lt-1:8"), **outs},
                                          start_props(V8, "lt-1:8")).outs or {}
    assert again["refreshId"] == outs["refreshId"]
    with pytest.raises(Exception, match=f"{outs['refreshId']} ended RollbackSuccessful"):
        gate.update("id", gate_props(""), gate_props(again["refreshId"]))
    assert len(aws.refreshes) == 2


def test_a_retry_after_a_timeout_resumes_the_same_refresh(aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    outs = roll(aws)
    gate = RolloutGateProvider()
    with pytest.raises(Exception, match=r"^instance refresh") as err:
        gate.update("id", gate_props(""), gate_props(outs["refreshId"], timeout=0))
    assert str(err.value) == (
        f"instance refresh {outs['refreshId']} on {GROUP} is still Pending after 0s "
        "(webtier:rollout.gateTimeout); it keeps running in AWS and the next `pulumi up` "
        "resumes waiting on it")
    gate.update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert [r.status for r in aws.refreshes] == ["Successful"]
    assert aws.groups[GROUP].config == V8


def test_mixed_mode_rolls_back_to_the_previous_mixed_policy(aws: AutoScalingDouble) -> None:
    def mixed(version: str, spot: str) -> dict[str, Any]:
        return {"MixedInstancesPolicy": {
            "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1",
                                                               "Version": version},
                               "Overrides": [{"InstanceType": "t3.micro"}]},
            "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                      "SpotAllocationStrategy": spot}}}
    old, new = mixed("7", "capacity-optimized"), mixed("8", "price-capacity-optimized")
    aws.add_group(GROUP, old)
    aws.broken.append(new)
    outs = roll(aws, new, "lt-1:8", old)
    assert aws.calls[-1][1]["DesiredConfiguration"] == new
    with pytest.raises(Exception, match="back on its previous launch settings"):
        RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert aws.groups[GROUP].config == old


def test_protected_instances_are_replaced(aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7, protected=True)
    olds = {**start_props(V7, "lt-1:7"), "refreshId": ""}
    news = start_props(V8, "lt-1:8", preferences={**PREFS, "ScaleInProtectedInstances": "Refresh"})
    outs = RolloutStartProvider().update("id", olds, news).outs or {}
    RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert all(i.config == V8 and i.protected for i in aws.groups[GROUP].instances)


def test_launch_configuration_mode_starts_without_desired_configuration(
        aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, {"LaunchConfigurationName": "lc-2"})
    prefs = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    olds = {**start_props(None, "lc-1", preferences=prefs), "refreshId": ""}
    outs = RolloutStartProvider().update(
        "id", olds, start_props(None, "lc-2", preferences=prefs)).outs or {}
    assert aws.calls[-1][1] == {"AutoScalingGroupName": GROUP, "Strategy": "Rolling",
                                "Preferences": prefs}
    RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))


def test_the_first_run_rolls_a_group_that_predates_the_gate_and_not_a_new_one(
        aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V8)
    first = RolloutStartProvider().create(start_props(V8, "lt-1:8")).outs or {}
    assert first["refreshId"] == ""
    aws.groups[GROUP].config = V7
    created = RolloutStartProvider().create(start_props(V8, "lt-1:8")).outs or {}
    assert created["refreshId"] == aws.refreshes[0].refresh_id


def test_a_refresh_already_running_is_named_not_adopted(aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    aws.start_instance_refresh({"AutoScalingGroupName": GROUP})
    with pytest.raises(Exception, match=r"^an instance refresh is already running") as err:
        roll(aws)
    assert str(err.value) == (
        f"an instance refresh is already running on {GROUP} (the last one this stack started: "
        "none): wait for it to end, or cancel it with `aws autoscaling cancel-instance-refresh "
        f"--auto-scaling-group-name {GROUP}`, then run `pulumi up` again")


def test_unchanged_launch_settings_start_nothing(aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    olds = {**start_props(V7, "lt-1:7"), "refreshId": "r-old", "target": "lt-1:7"}
    outs = RolloutStartProvider().update(
        "id", olds, start_props(V7, "lt-1:7", preferences={**PREFS, "BakeTime": 0})).outs
    assert outs is not None
    assert outs["refreshId"] == "r-old"
    assert not aws.refreshes


def test_a_deleted_group_fails_the_gate_with_one_line(aws: AutoScalingDouble) -> None:
    aws.add_group(GROUP, V7)
    outs = roll(aws)
    del aws.groups[GROUP]
    with pytest.raises(Exception, match=r"^Auto Scaling group") as err:
        RolloutGateProvider().update("id", gate_props(""), gate_props(outs["refreshId"]))
    assert str(err.value) == (
        f"Auto Scaling group {GROUP} no longer exists (deleted outside Pulumi?) while watching "
        f"instance refresh {outs['refreshId']}: run `pulumi refresh`, then `pulumi up`")


@pytest.mark.parametrize("mixed", [
    {"instanceTypes": ["t3.micro", "t3a.micro"], "onDemandBaseCapacity": 1},
    {"instanceRequirements": {"vcpu": {"min": 2}, "memoryMiB": {"min": 4096, "max": 8192}}},
], ids=["instance-types", "instance-requirements"])
def test_the_requests_built_from_the_settings_are_ones_aws_accepts(mixed: dict[str, Any]) -> None:
    # botocore's validator holds the request to the API's shapes (what a real call would check
    # before sending), for the whole mixed policy and the preferences.
    from botocore.validate import ParamValidator

    from components.fleet import refresh_request
    from tests.settings.test_settings import parse as settings_of

    s = settings_of("production", {"webtier:capacity.mixedInstances": mixed,
                                   "webtier:capacity.protectFromScaleIn": True,
                                   "webtier:rollout.checkpoints": [50, 100]})
    request = {
        "AutoScalingGroupName": GROUP, "Strategy": "Rolling",
        "DesiredConfiguration": refresh_request.mixed_instances(s.capacity, "lt-1", "8"),
        "Preferences": refresh_request.preferences(
            s.rollout, warmup=300, alarms=["a", "b"], protect_from_scale_in=True,
            template=True)}
    shape = boto3.client("autoscaling", region_name="ap-northeast-1").meta.service_model \
        .operation_model("StartInstanceRefresh").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_check_and_diff_make_no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(_region: str) -> Any:
        raise AssertionError("a preview must not build an AWS client")

    monkeypatch.setattr(rollout_start, "client", no_client)
    olds, news = start_props(V7, "lt-1:7"), start_props(V8, "lt-1:8")
    RolloutStartProvider().check(olds, news)
    assert RolloutStartProvider().diff("id", olds, news).changes is True
    assert RolloutStartProvider().diff("id", olds, olds).changes is False
    RolloutGateProvider().check(gate_props("a"), gate_props("b"))
    assert RolloutGateProvider().diff("id", gate_props("a"), gate_props("b")).changes is True
    assert RolloutGateProvider().diff("id", gate_props("a"), gate_props("a")).changes is False
