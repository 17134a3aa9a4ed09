"""The refresh watch's decisions and messages, against a plain in-memory Auto Scaling double.

What an operator reads (progress lines, failure and timeout messages, the rollback note) is
compared whole; the calls the watch makes (how often it polls, what the rollback asks AWS for)
are compared as recorded. The boto3 Stubber tests in test_rollout_gate_stubber.py check the same
watch against botocore's request shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.fleet.refresh_watch import RolloutFailed, Target, Watch, failure, pick, progress

GROUP = "webapp-staging-fleet-1"
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TARGET = Target(group=GROUP, launch_version="8", template_id="lt-1", previous_version="7",
                started_after=NOW - timedelta(minutes=15))


class AutoScaling:
    """Answers queued per API call; every call is recorded with its arguments."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, api: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((api, kwargs))
        answer = self.answers[api].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def describe_instance_refreshes(self, **kwargs: Any) -> Any:
        return self._answer("describe_instance_refreshes", kwargs)

    def describe_auto_scaling_groups(self, **kwargs: Any) -> Any:
        return self._answer("describe_auto_scaling_groups", kwargs)

    def update_auto_scaling_group(self, **kwargs: Any) -> Any:
        return self._answer("update_auto_scaling_group", kwargs)

    def start_instance_refresh(self, **kwargs: Any) -> Any:
        return self._answer("start_instance_refresh", kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def watch(client: AutoScaling, logs: list[str], clock: Clock | None = None,
          timeout: int = 600) -> Watch:
    clock = clock or Clock()
    return Watch(client=client, log=logs.append, sleep=clock.sleep, clock=clock,
                 timeout=timeout, poll=15)


def refresh(status: str, rid: str = "r-1", **extra: Any) -> dict[str, Any]:
    return {"InstanceRefreshId": rid, "Status": status, "StartTime": NOW, **extra}


def aimed(version: str, rid: str, started: datetime) -> dict[str, Any]:
    return refresh("InProgress", rid, StartTime=started, DesiredConfiguration={
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": version}})


def listing(*refreshes: Mapping[str, Any]) -> dict[str, Any]:
    return {"InstanceRefreshes": list(refreshes)}


# --- pick -------------------------------------------------------------------------------------

def test_pick_takes_a_refresh_started_exactly_when_the_update_began() -> None:
    exactly = aimed("8", "r-edge", started=TARGET.started_after)
    assert pick([exactly], TARGET) == exactly


def test_pick_skips_refreshes_that_name_no_template_version_for_one_that_does() -> None:
    # Refreshes started by hand carry no DesiredConfiguration, or one without a launch
    # template (a mixed instances policy) or without a version: none of them is this update's.
    newest = NOW
    by_hand = refresh("InProgress", "r-hand", StartTime=newest)
    mixed = refresh("InProgress", "r-mixed", StartTime=newest - timedelta(seconds=1),
                    DesiredConfiguration={"MixedInstancesPolicy": {}})
    unversioned = refresh("InProgress", "r-unversioned", StartTime=newest - timedelta(seconds=2),
                          DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": "lt-1"}})
    mine = aimed("8", "r-mine", started=newest - timedelta(minutes=5))
    assert pick([by_hand, mixed, unversioned, mine], TARGET) == mine


def test_pick_falls_back_to_the_newest_recent_refresh_when_none_names_the_version() -> None:
    by_hand = refresh("InProgress", "r-hand", StartTime=NOW)
    older = refresh("InProgress", "r-older", StartTime=NOW - timedelta(minutes=1))
    assert pick([older, by_hand], TARGET) == by_hand
    assert pick([], TARGET) is None


# --- what the operator reads -------------------------------------------------------------------

def test_progress_of_a_pending_refresh_without_counts_yet() -> None:
    assert progress(refresh("Pending")) == ("instance refresh r-1: Pending, 0% done, "
                                            "? instance(s) to update")


def test_progress_with_counts() -> None:
    line = progress(refresh("InProgress", PercentageComplete=40, InstancesToUpdate=3))
    assert line == "instance refresh r-1: InProgress, 40% done, 3 instance(s) to update"


@pytest.mark.parametrize("reason", [None, ""])
def test_failure_without_a_reason_says_aws_gave_none(reason: str | None) -> None:
    r = refresh("Cancelled") if reason is None else refresh("Cancelled", StatusReason=reason)
    assert failure(r) == "instance refresh r-1 ended Cancelled: AWS gave no reason"


# --- the loop ---------------------------------------------------------------------------------

def test_no_refresh_found_polls_three_times_sleeping_between_tries_only() -> None:
    client = AutoScaling(describe_instance_refreshes=[listing(), {}, listing()],
                         describe_auto_scaling_groups=[{"AutoScalingGroups": [
                             {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "8"}}]}])
    clock, logs = Clock(), []
    assert watch(client, logs, clock).run(TARGET, roll_back=True) == ""
    assert clock.sleeps == [15, 15]
    assert [api for api, _ in client.calls] == ["describe_instance_refreshes"] * 3 + [
        "describe_auto_scaling_groups"]
    assert client.calls[0][1] == {"AutoScalingGroupName": GROUP, "MaxRecords": 10}
    assert client.calls[3][1] == {"AutoScalingGroupNames": [GROUP]}
    assert logs == [f"no instance refresh started on {GROUP}: nothing to wait for"]


@pytest.mark.parametrize("groups", [
    {}, {"AutoScalingGroups": []},
    {"AutoScalingGroups": [{"MixedInstancesPolicy": {}}]},
    {"AutoScalingGroups": [{"LaunchTemplate": {"LaunchTemplateId": "lt-1"}}]},
], ids=["no-answer", "no-group", "no-launch-template", "no-version"])
def test_no_refresh_passes_when_aws_shows_no_other_template_version(
        groups: dict[str, Any]) -> None:
    client = AutoScaling(describe_instance_refreshes=[listing()] * 3,
                         describe_auto_scaling_groups=[groups])
    assert watch(client, []).run(TARGET, roll_back=True) == ""


def test_no_refresh_on_a_group_pinned_back_says_how_to_start_again() -> None:
    client = AutoScaling(describe_instance_refreshes=[listing()] * 3,
                         describe_auto_scaling_groups=[{"AutoScalingGroups": [
                             {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}}]}])
    with pytest.raises(RolloutFailed) as err:
        watch(client, []).run(TARGET, roll_back=True)
    assert str(err.value) == (
        f"{GROUP} launches template version 7, not 8, and no instance refresh is moving it "
        "(an earlier rollout was rolled back): run `pulumi up --refresh` to start the "
        "rollout again")


def test_progress_is_logged_once_per_change_and_success_returns_the_id() -> None:
    first = aimed("8", "r-1", NOW)
    client = AutoScaling(describe_instance_refreshes=[
        listing(first), listing(first), listing({**first, "PercentageComplete": 50}),
        listing({**first, "Status": "Successful", "PercentageComplete": 100,
                 "InstancesToUpdate": 0})])
    logs: list[str] = []
    assert watch(client, logs).run(TARGET, roll_back=True) == "r-1"
    assert logs == ["instance refresh r-1: InProgress, 0% done, ? instance(s) to update",
                    "instance refresh r-1: InProgress, 50% done, ? instance(s) to update",
                    "instance refresh r-1: Successful, 100% done, 0 instance(s) to update"]
    assert client.calls[1][1] == {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": ["r-1"]}


def test_timeout_names_the_setting_and_the_command_to_keep_watching() -> None:
    running = aimed("8", "r-1", NOW)
    client = AutoScaling(describe_instance_refreshes=[listing(running)] * 5)
    with pytest.raises(RolloutFailed) as err:
        watch(client, [], timeout=60).run(TARGET, roll_back=True)
    assert str(err.value) == (
        f"instance refresh r-1 on {GROUP} is still InProgress after 60s "
        "(webtier:rollout.gateTimeout); it keeps running in AWS: watch it with `aws autoscaling "
        f"describe-instance-refreshes --auto-scaling-group-name {GROUP}`")


@pytest.mark.parametrize("answer", [{}, {"InstanceRefreshes": []}], ids=["no-key", "empty"])
def test_a_refresh_that_disappears_while_watched_fails_naming_it(answer: dict[str, Any]) -> None:
    client = AutoScaling(describe_instance_refreshes=[listing(aimed("8", "r-1", NOW)), answer])
    with pytest.raises(RolloutFailed) as err:
        watch(client, []).run(TARGET, roll_back=True)
    assert str(err.value) == f"instance refresh r-1 on {GROUP} disappeared"


def test_failed_refresh_rolls_back_with_a_refresh_that_skips_matching_instances() -> None:
    failed = {**aimed("8", "r-1", NOW), "Status": "Failed", "StatusReason": "health checks"}
    client = AutoScaling(describe_instance_refreshes=[listing(failed)],
                         update_auto_scaling_group=[{}],
                         start_instance_refresh=[{"InstanceRefreshId": "r-back"}])
    with pytest.raises(RolloutFailed) as err:
        watch(client, []).run(TARGET, roll_back=True)
    assert str(err.value) == (
        "instance refresh r-1 ended Failed: health checks; "
        f"{GROUP} is back on template version 7; instance refresh r-back replaces the "
        "instances the failed refresh launched")
    assert client.calls[1:] == [
        ("update_auto_scaling_group", {"AutoScalingGroupName": GROUP, "LaunchTemplate": {
            "LaunchTemplateId": "lt-1", "Version": "7"}}),
        ("start_instance_refresh", {"AutoScalingGroupName": GROUP, "Strategy": "Rolling",
                                    "Preferences": {"SkipMatching": True}}),
    ]


def test_a_rollback_aws_refuses_tells_the_operator_to_do_it_by_hand() -> None:
    failed = {**aimed("8", "r-1", NOW), "Status": "Failed", "StatusReason": "health checks"}
    client = AutoScaling(describe_instance_refreshes=[listing(failed)],
                         update_auto_scaling_group=[RuntimeError("AccessDenied")])
    with pytest.raises(RolloutFailed) as err:
        watch(client, []).run(TARGET, roll_back=True)
    assert str(err.value) == (
        "instance refresh r-1 ended Failed: health checks; putting "
        f"{GROUP} back on template version 7 failed (AccessDenied): do it by hand")
