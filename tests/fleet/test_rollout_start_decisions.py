"""The rollout start's Pulumi-facing decisions (components/fleet/rollout_start.py), each input
both ways: which change is a diff (a new refresh may start), what check hands back, and the
client it builds. The refreshes themselves: tests/fleet/test_rollout_gate.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.fleet import rollout_start
from components.fleet.refresh_watch import RolloutFailed
from components.fleet.rollout_start import RolloutStartProvider

OLDS: dict[str, Any] = {
    "region": "ap-northeast-1", "groupName": "webapp-staging-fleet-1",
    "desired": {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}},
    "launch": "lt-1:7", "preferences": {"MinHealthyPercentage": 100},
    "refreshId": "r-1", "target": "lt-1:7"}


@pytest.mark.parametrize(("key", "value", "changes"), [
    ("groupName", "webapp-staging-fleet-2", True), ("region", "us-east-1", True),
    ("preferences", {"MinHealthyPercentage": 90}, True),
    ("desired", {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}, True),
    ("launch", "lt-1:8", True),
    # Outputs the provider records, not inputs: never a reason to start again.
    ("refreshId", "r-2", False), ("target", "lt-1:8", False)])
def test_each_input_is_a_diff_and_the_recorded_outputs_are_not(
        key: str, value: Any, changes: bool) -> None:
    diff = RolloutStartProvider().diff("id", OLDS, {**OLDS, key: value})
    assert diff.changes is changes
    assert diff.replaces == []
    assert diff.delete_before_replace is False


def test_check_accepts_the_inputs_as_they_are() -> None:
    news = {**OLDS, "launch": "lt-1:8"}
    checked = RolloutStartProvider().check(OLDS, news)
    assert checked.inputs == news
    assert checked.failures == []


def test_the_client_is_auto_scalings_in_the_stacks_region() -> None:
    client = rollout_start.client("eu-west-1")
    assert client.meta.service_model.service_name == "autoscaling"
    assert client.meta.region_name == "eu-west-1"


def test_the_client_is_asked_of_boto3_for_auto_scaling_in_the_region(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The same as above without building one (botocore's model load takes ~0.3 s): what is
    # asked of boto3, so the mutation run's fast tests reach it too.
    import boto3

    asked: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def client(*args: Any, **kwargs: Any) -> str:
        asked.append((args, kwargs))
        return "client"

    monkeypatch.setattr(boto3, "client", client)
    assert rollout_start.client("eu-west-1") == "client"
    assert asked == [(("autoscaling",), {"region_name": "eu-west-1"})]


@pytest.mark.parametrize(("group", "launch"), [
    ({"LaunchConfigurationName": "lc-2"}, "lc-2"),
    ({"LaunchConfigurationName": "lc-2",
      "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}, "lc-2"),
    ({"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}, "lt-1:7"),
    ({"LaunchConfigurationName": "", "LaunchTemplate": {"LaunchTemplateId": "lt-1",
                                                        "Version": "7"}}, "lt-1:7"),
    ({"MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": {
        "LaunchTemplateId": "lt-3", "Version": "12"}}}}, "lt-3:12"),
    ({"MixedInstancesPolicy": {}}, ":"),
    ({}, ":"),
])
def test_what_a_group_launches_reads_as_the_launch_input(group: dict[str, Any],
                                                        launch: str) -> None:
    assert rollout_start.live_launch(group) == launch


def test_create_is_named_by_group_and_a_failure_is_one_plain_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fleet.autoscaling_endpoint import in_process_client
    from tests.fleet.refresh_double import AutoScalingDouble, AwsError

    double = AutoScalingDouble()
    double.add_group(OLDS["groupName"], {"LaunchTemplate": {"LaunchTemplateId": "lt-1",
                                                            "Version": "7"}})
    client = in_process_client(double)
    monkeypatch.setattr(rollout_start, "client", lambda _region: client)
    monkeypatch.setattr(rollout_start, "log", lambda _m: None)
    news = {k: v for k, v in OLDS.items() if k not in ("refreshId", "target")}
    made = RolloutStartProvider().create(news)
    assert made.id == "rollout-webapp-staging-fleet-1"
    assert made.outs == {**news, "refreshId": "", "target": "lt-1:7"}  # it launches that already
    double.faults["DescribeAutoScalingGroups"] = [AwsError("ExpiredToken", "expired")]
    with pytest.raises(Exception) as err:  # noqa: PT011 - the engine shows any exception's text
        RolloutStartProvider().create(news)
    assert type(err.value) is Exception
    assert str(err.value).startswith("the AWS session expired (ExpiredToken) while reading the "
                                     "group's launch settings on webapp-staging-fleet-1")


V7 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}
V8 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    from tests.fleet.autoscaling_endpoint import in_process_client
    from tests.fleet.refresh_double import AutoScalingDouble

    double = AutoScalingDouble()
    client = in_process_client(double)
    monkeypatch.setattr(rollout_start, "client", lambda _region: client)
    monkeypatch.setattr(rollout_start, "log", lambda _m: None)
    return double


def props(group: str, launch: str, desired: dict[str, Any]) -> dict[str, Any]:
    return {"region": "ap-northeast-1", "groupName": group, "desired": desired,
            "launch": launch, "preferences": {"MinHealthyPercentage": 100}}


def test_a_new_group_starts_nothing_and_records_no_refresh(aws: Any) -> None:
    aws.add_group("webapp-staging-fleet-2", V7)  # launching something else than asked
    olds = {**props("webapp-staging-fleet-1", "lt-1:7", V7), "refreshId": "r-old"}
    outs = rollout_start.start(props("webapp-staging-fleet-2", "lt-1:8", V8), olds)
    assert (outs["refreshId"], outs["target"]) == ("", "lt-1:8")
    assert not aws.refreshes


@pytest.mark.parametrize(("recorded", "kept"), [({"refreshId": "r-old"}, "r-old"), ({}, "")])
def test_nothing_to_roll_keeps_the_recorded_refresh_of_the_same_group(
        aws: Any, recorded: dict[str, str], kept: str) -> None:
    aws.add_group("webapp-staging-fleet-1", V7)
    olds = {**props("webapp-staging-fleet-1", "lt-1:7", V7), **recorded}
    outs = rollout_start.start(props("webapp-staging-fleet-1", "lt-1:7", V7), olds)
    assert (outs["refreshId"], outs["target"]) == (kept, "lt-1:7")
    assert not aws.refreshes


def test_a_refresh_in_progress_names_the_one_this_stack_started(aws: Any) -> None:
    aws.add_group("webapp-staging-fleet-1", V7)
    aws.start_instance_refresh({"AutoScalingGroupName": "webapp-staging-fleet-1"})
    olds = {**props("webapp-staging-fleet-1", "lt-1:7", V7), "refreshId": "r-mine"}
    with pytest.raises(RolloutFailed, match=r"\(the last one this stack "
                       r"started: r-mine\): wait for it to end"):
        rollout_start.start(props("webapp-staging-fleet-1", "lt-1:8", V8), olds)


def test_any_other_refusal_to_start_is_named_with_its_cause(aws: Any) -> None:
    from tests.fleet.refresh_double import AwsError

    aws.add_group("webapp-staging-fleet-1", V7)
    aws.faults["StartInstanceRefresh"] = [AwsError("ExpiredToken", "expired")]
    olds = props("webapp-staging-fleet-1", "lt-1:7", V7)
    with pytest.raises(RolloutFailed) as err:
        rollout_start.start(props("webapp-staging-fleet-1", "lt-1:8", V8), olds)
    assert str(err.value).startswith("the AWS session expired (ExpiredToken) while starting an "
                                     "instance refresh on webapp-staging-fleet-1")
