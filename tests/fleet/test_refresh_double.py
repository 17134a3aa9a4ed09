"""The instance refresh double, held to AWS's documented rules through a real boto3 client over
HTTP (botocore serializes every request and parses every answer). Each test names the rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.fleet.autoscaling_endpoint import serving
from tests.fleet.refresh_double import AutoScalingDouble, AwsError

pytestmark = pytest.mark.integration

GROUP = "webapp-staging-fleet-1"
V7 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}
V8 = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}
PREFS = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "SkipMatching": True}


def mixed(version: str, spot: str = "price-capacity-optimized") -> dict[str, Any]:
    return {"MixedInstancesPolicy": {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1", "Version": version},
            "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3a.micro"}]},
        "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                  "OnDemandPercentageAboveBaseCapacity": 0,
                                  "SpotAllocationStrategy": spot}}}


@pytest.fixture
def aws() -> Iterator[tuple[AutoScalingDouble, Any]]:
    double = AutoScalingDouble()
    with serving(double) as url:
        client = boto3.client("autoscaling", region_name="ap-northeast-1", endpoint_url=url,
                              aws_access_key_id="x", aws_secret_access_key="x")
        yield double, client


def status(client: Any, rid: str) -> dict[str, Any]:
    found = client.describe_instance_refreshes(AutoScalingGroupName=GROUP,
                                               InstanceRefreshIds=[rid])["InstanceRefreshes"]
    return dict(found[0])


def run_to_end(client: Any, rid: str, polls: int = 60) -> list[str]:
    seen: list[str] = []
    for _ in range(polls):
        r = status(client, rid)
        if not seen or seen[-1] != r["Status"]:
            seen.append(r["Status"])
        if r["Status"] in ("Successful", "Failed", "Cancelled", "RollbackSuccessful",
                           "RollbackFailed"):
            return seen
    raise AssertionError(f"refresh {rid} never ended: {seen}")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_success_bakes_then_moves_the_group_to_the_desired_configuration(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7)
    rid = client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
                                        Preferences={**PREFS, "BakeTime": 120,
                                                     "AutoRollback": True})["InstanceRefreshId"]
    assert double.groups[GROUP].config == V7  # only on success
    assert run_to_end(client, rid)[-2:] == ["Baking", "Successful"]
    assert double.groups[GROUP].config == V8
    assert all(i.config == V8 for i in double.groups[GROUP].instances)
    listed = client.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"]
    assert listed[0]["DesiredConfiguration"] == V8
    assert listed[0]["Preferences"]["BakeTime"] == 120


def test_one_active_refresh_per_group(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7)
    client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8)
    with pytest.raises(ClientError) as err:
        client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8)
    assert code(err) == "InstanceRefreshInProgress"


def test_a_failed_refresh_with_auto_rollback_returns_group_and_instances(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7, desired=4)
    double.broken.append(V8)
    rid = client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
                                        Preferences={**PREFS, "AutoRollback": True}
                                        )["InstanceRefreshId"]
    assert run_to_end(client, rid)[-2:] == ["RollbackInProgress", "RollbackSuccessful"]
    assert "health checks" in status(client, rid)["StatusReason"]
    assert double.groups[GROUP].config == V7
    assert all(i.config == V7 for i in double.groups[GROUP].instances)


def test_a_failed_refresh_without_rollback_leaves_the_group_configuration(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7)
    double.broken.append(V8)
    rid = client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
                                        Preferences=PREFS)["InstanceRefreshId"]
    assert run_to_end(client, rid)[-1] == "Failed"
    assert double.groups[GROUP].config == V7


def test_an_alarm_in_alarm_fails_the_refresh_and_rolls_back(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7)
    rid = client.start_instance_refresh(
        AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
        Preferences={**PREFS, "AutoRollback": True, "BakeTime": 600,
                     "AlarmSpecification": {"Alarms": ["web-5xx"]}})["InstanceRefreshId"]
    status(client, rid)
    status(client, rid)
    double.in_alarm.add("web-5xx")
    assert run_to_end(client, rid)[-1] == "RollbackSuccessful"
    assert status(client, rid)["StatusReason"] == "Alarm web-5xx is in ALARM state"
    assert double.groups[GROUP].config == V7


def test_a_mixed_policy_round_trips_and_a_rollback_restores_the_previous_one(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, mixed("7"))
    new = mixed("8", spot="capacity-optimized")
    rid = client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=new,
                                        Preferences={**PREFS, "AutoRollback": True}
                                        )["InstanceRefreshId"]
    assert status(client, rid)["DesiredConfiguration"] == new
    double.broken.append(new)
    assert run_to_end(client, rid)[-1] == "RollbackSuccessful"
    assert double.groups[GROUP].config == mixed("7")


@pytest.mark.parametrize(("prefs", "desired", "launch"), [
    ({"SkipMatching": True}, None, {"LaunchConfigurationName": "lc-2"}),
    ({"AutoRollback": True}, None, V7),
    ({"AutoRollback": True}, {"LaunchTemplate": {"LaunchTemplateId": "lt-1",
                                                 "Version": "$Latest"}}, V7),
    ({"MinHealthyPercentage": 50, "MaxHealthyPercentage": 200}, V8, V7),
    ({"MaxHealthyPercentage": 150}, V8, V7),
    ({"CheckpointPercentages": [50, 20]}, V8, V7),
    ({"BakeTime": 172801}, V8, V7),
], ids=["skip-matching-with-launch-configuration", "rollback-needs-desired-configuration",
        "rollback-needs-a-numbered-version", "max-exceeds-min-by-more-than-100",
        "max-without-min", "checkpoints-not-ascending", "bake-time-over-two-days"])
def test_invalid_requests_are_refused(aws: Any, prefs: dict[str, Any],
                                      desired: dict[str, Any] | None,
                                      launch: dict[str, Any]) -> None:
    double, client = aws
    double.add_group(GROUP, launch)
    extra = {"DesiredConfiguration": desired} if desired else {}
    with pytest.raises(ClientError) as err:
        client.start_instance_refresh(AutoScalingGroupName=GROUP, Preferences=prefs, **extra)
    assert code(err) == "ValidationError"


@pytest.mark.parametrize(("rule", "replaced", "end"), [
    ("Ignore", False, "Successful"), ("Refresh", True, "Successful"), ("Wait", False, "Failed"),
])
def test_scale_in_protected_instances(aws: Any, rule: str, replaced: bool, end: str) -> None:
    double, client = aws
    double.add_group(GROUP, V7, protected=True)
    rid = client.start_instance_refresh(
        AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
        Preferences={**PREFS, "ScaleInProtectedInstances": rule})["InstanceRefreshId"]
    assert run_to_end(client, rid, polls=90)[-1] == end
    assert all((i.config == V8) is replaced for i in double.groups[GROUP].instances)


def test_cancel_and_manual_rollback(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, {"LaunchConfigurationName": "lc-1"})
    with pytest.raises(ClientError) as err:
        client.cancel_instance_refresh(AutoScalingGroupName=GROUP)
    assert code(err) == "ActiveInstanceRefreshNotFound"
    rid = client.start_instance_refresh(AutoScalingGroupName=GROUP)["InstanceRefreshId"]
    with pytest.raises(ClientError) as err:
        client.rollback_instance_refresh(AutoScalingGroupName=GROUP)
    assert code(err) == "IrreversibleInstanceRefresh"
    client.cancel_instance_refresh(AutoScalingGroupName=GROUP)
    assert run_to_end(client, rid)[-1] == "Cancelled"


def test_checkpoints_pause_the_refresh(aws: Any) -> None:
    double, client = aws
    double.add_group(GROUP, V7, desired=4)
    rid = client.start_instance_refresh(
        AutoScalingGroupName=GROUP, DesiredConfiguration=V8,
        Preferences={"MinHealthyPercentage": 75, "CheckpointPercentages": [25, 100],
                     "CheckpointDelay": 120})["InstanceRefreshId"]
    status(client, rid)  # Pending; each answer moves AWS's clock one step
    status(client, rid)  # InProgress, nothing replaced yet
    paused = status(client, rid)
    assert (paused["Status"], paused["PercentageComplete"]) == ("InProgress", 25)
    assert paused["StatusReason"] == "Waiting at checkpoint 25%"
    assert run_to_end(client, rid)[-1] == "Successful"


def test_a_deleted_group_and_injected_faults_answer_as_aws_does(aws: Any) -> None:
    double, client = aws
    with pytest.raises(ClientError) as err:
        client.describe_instance_refreshes(AutoScalingGroupName=GROUP)
    assert code(err) == "ValidationError"
    assert "AutoScalingGroup name not found" in str(err.value)
    double.add_group(GROUP, V7)
    double.faults["StartInstanceRefresh"] = [AwsError("ExpiredToken", "The security token "
                                                      "included in the request is expired")]
    with pytest.raises(ClientError) as err:
        client.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=V8)
    assert code(err) == "ExpiredToken"
    assert not double.refreshes
