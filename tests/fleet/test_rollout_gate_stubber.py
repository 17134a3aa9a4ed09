"""The rollout gate against a double of the Auto Scaling API (botocore's Stubber: moto has no
instance refresh): pass, fail, cancel, rollback, timeout, and the rollback to the previous
template version. The provider's check and diff are shown to make no AWS call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from components.fleet import rollout_gate
from components.fleet.refresh_watch import RolloutFailed, Target, Watch, pick

GROUP = "webapp-production-fleet-abc"
NOW = datetime.now(UTC)


def refresh(status: str, *, rid: str = "r-new", version: str = "8", pct: int = 0,
            to_update: int = 2, reason: str = "", started: datetime = NOW) -> dict[str, Any]:
    r: dict[str, Any] = {"InstanceRefreshId": rid, "AutoScalingGroupName": GROUP,
                         "Status": status, "PercentageComplete": pct,
                         "InstancesToUpdate": to_update, "StartTime": started,
                         "DesiredConfiguration": {"LaunchTemplate": {
                             "LaunchTemplateId": "lt-1", "Version": version}}}
    if reason:
        r["StatusReason"] = reason
    return r


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("autoscaling", region_name="ap-northeast-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def listed(stub: Stubber, *refreshes: dict[str, Any]) -> None:
    stub.add_response("describe_instance_refreshes", {"InstanceRefreshes": list(refreshes)},
                      {"AutoScalingGroupName": GROUP, "MaxRecords": 10})


def polled(stub: Stubber, r: dict[str, Any]) -> None:
    stub.add_response("describe_instance_refreshes", {"InstanceRefreshes": [r]},
                      {"AutoScalingGroupName": GROUP,
                       "InstanceRefreshIds": [r["InstanceRefreshId"]]})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def watcher(client: Any, logs: list[str], timeout: int = 600) -> Watch:
    clock = FakeClock()
    return Watch(client=client, log=logs.append, sleep=clock.sleep, clock=clock,
                 timeout=timeout, poll=15)


TARGET = Target(group=GROUP, launch_version="8", template_id="lt-1", previous_version="7",
                started_after=NOW - timedelta(minutes=15))


def test_gate_with_stubbed_autoscaling_passes_when_the_refresh_succeeds_and_logs_progress(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    listed(stub, refresh("InProgress", pct=0))
    polled(stub, refresh("InProgress", pct=50, to_update=1))
    polled(stub, refresh("Successful", pct=100, to_update=0))
    logs: list[str] = []
    assert watcher(client, logs).run(TARGET, roll_back=True) == "r-new"
    assert "instance refresh r-new: InProgress, 50% done, 1 instance(s) to update" in logs
    assert logs[-1].startswith("instance refresh r-new: Successful, 100% done")


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "RollbackSuccessful",
                                    "RollbackFailed"])
def test_gate_with_stubbed_autoscaling_fails_naming_the_refresh_and_aws_reason(
        stubbed: tuple[Any, Stubber], status: str) -> None:
    client, stub = stubbed
    listed(stub, refresh("InProgress"))
    polled(stub, refresh(status, reason="Alarm webapp-production-health-5xx-rate in ALARM"))
    with pytest.raises(RolloutFailed) as err:
        watcher(client, []).run(TARGET, roll_back=False)
    assert str(err.value) == (f"instance refresh r-new ended {status}: "
                              "Alarm webapp-production-health-5xx-rate in ALARM")


def test_gate_with_stubbed_autoscaling_rolls_the_group_back_to_the_previous_version(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    listed(stub, refresh("InProgress"))
    polled(stub, refresh("Failed", reason="instances failed health checks"))
    stub.add_response("update_auto_scaling_group", {}, {
        "AutoScalingGroupName": GROUP,
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}})
    stub.add_response("start_instance_refresh", {"InstanceRefreshId": "r-back"}, {
        "AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": ANY})
    with pytest.raises(RolloutFailed) as err:
        watcher(client, []).run(TARGET, roll_back=True)
    message = str(err.value)
    assert message.startswith("instance refresh r-new ended Failed: instances failed health")
    assert "back on template version 7" in message
    assert "r-back" in message


def test_gate_with_stubbed_autoscaling_times_out_naming_the_setting(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    listed(stub, refresh("InProgress"))
    for _ in range(4):  # 60 s timeout, 15 s polls
        polled(stub, refresh("InProgress", pct=10))
    with pytest.raises(RolloutFailed) as err:
        watcher(client, [], timeout=60).run(TARGET, roll_back=True)
    assert "r-new" in str(err.value)
    assert "still InProgress after 60s (webtier:rollout.gateTimeout)" in str(err.value)


def test_gate_with_stubbed_autoscaling_passes_when_no_refresh_was_started(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    old = refresh("Successful", rid="r-old", version="6", started=NOW - timedelta(days=1))
    for _ in range(3):
        listed(stub, old)
    stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [{
        "AutoScalingGroupName": GROUP, "MinSize": 2, "MaxSize": 20, "DesiredCapacity": 2,
        "DefaultCooldown": 300, "AvailabilityZones": ["ap-northeast-1a"],
        "HealthCheckType": "ELB", "CreatedTime": NOW,
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}]},
        {"AutoScalingGroupNames": [GROUP]})
    logs: list[str] = []
    assert watcher(client, logs).run(TARGET, roll_back=True) == ""
    assert "nothing to wait for" in logs[-1]


def test_gate_with_stubbed_autoscaling_fails_when_the_group_was_pinned_back_earlier(
        stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    for _ in range(3):
        listed(stub)
    stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [{
        "AutoScalingGroupName": GROUP, "MinSize": 2, "MaxSize": 20, "DesiredCapacity": 2,
        "DefaultCooldown": 300, "AvailabilityZones": ["ap-northeast-1a"],
        "HealthCheckType": "ELB", "CreatedTime": NOW,
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}]},
        {"AutoScalingGroupNames": [GROUP]})
    with pytest.raises(RolloutFailed, match="pulumi up --refresh"):
        watcher(client, []).run(TARGET, roll_back=True)


def test_pick_prefers_the_refresh_aimed_at_the_new_version() -> None:
    mine = refresh("InProgress", rid="mine", version="8", started=NOW - timedelta(minutes=2))
    other = refresh("InProgress", rid="other", version="9", started=NOW - timedelta(minutes=1))
    stale = refresh("InProgress", rid="stale", version="8", started=NOW - timedelta(days=2))
    assert pick([other, stale, mine], TARGET) == mine


def test_pick_in_launch_configuration_mode_takes_the_newest_recent_refresh() -> None:
    target = Target(group=GROUP, launch_version="lc-2", template_id=None, previous_version=None,
                    started_after=NOW - timedelta(minutes=15))
    a = refresh("InProgress", rid="a", started=NOW - timedelta(minutes=5))
    b = refresh("InProgress", rid="b", started=NOW - timedelta(minutes=1))
    assert pick([a, b], target) == b


def test_gate_provider_check_and_diff_make_no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(_region: str) -> Any:
        raise AssertionError("a preview must not build an AWS client")

    monkeypatch.setattr(rollout_gate, "_client", no_client)
    provider = rollout_gate.RolloutGateProvider()
    olds = {"groupName": GROUP, "launchVersion": "7", "templateId": "lt-1", "region": "x"}
    news = {**olds, "launchVersion": "8"}
    provider.check(olds, news)
    assert provider.diff("id", olds, news).changes is True
    assert provider.diff("id", olds, olds).changes is False


def test_gate_update_rolls_back_to_the_version_in_its_old_state(
        stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = stubbed
    monkeypatch.setattr(rollout_gate, "_client", lambda _region: client)
    monkeypatch.setattr(rollout_gate.time, "sleep", lambda _s: None)
    listed(stub, refresh("InProgress"))
    polled(stub, refresh("RollbackSuccessful", reason="alarm"))
    stub.add_response("update_auto_scaling_group", {}, {
        "AutoScalingGroupName": GROUP,
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}})
    stub.add_response("start_instance_refresh", {"InstanceRefreshId": "r-back"}, {
        "AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": ANY})
    base = {"groupName": GROUP, "templateId": "lt-1", "region": "ap-northeast-1",
            "timeout": 600, "poll": 15, "rollBack": True}
    with pytest.raises(Exception, match=r"r-new ended RollbackSuccessful: alarm; .* version 7"):
        rollout_gate.RolloutGateProvider().update(
            "id", {**base, "launchVersion": "7"}, {**base, "launchVersion": "8"})
