"""The rollout gate's decisions (components/fleet/rollout_gate_wait.py), each both ways: which
input changes are a diff, which make an update wait again, and the wait on one refresh."""

from __future__ import annotations

from typing import Any

import pytest

from components.fleet import rollout_start
from components.fleet.refresh_watch import RolloutFailed
from components.fleet.rollout_gate_wait import changed_inputs, waits_again, watch
from tests.fleet.autoscaling_endpoint import in_process_client
from tests.fleet.refresh_double import AutoScalingDouble

GROUP = "webapp-staging-fleet-1"
OLD = {"region": "ap-northeast-1", "groupName": GROUP, "refreshId": "r-1", "timeout": 600,
       "poll": 15}


@pytest.mark.parametrize(("key", "value"), [
    ("groupName", "webapp-staging-fleet-2"), ("refreshId", "r-2"), ("timeout", 60),
    ("poll", 5), ("region", "us-east-1")])
def test_each_input_is_a_change_of_its_own(key: str, value: Any) -> None:
    assert changed_inputs(OLD, {**OLD, key: value}) == [key]
    assert changed_inputs(OLD, dict(OLD)) == []


def test_changes_are_listed_in_a_stable_order() -> None:
    news = {"region": "x", "groupName": "g", "refreshId": "r", "timeout": 1, "poll": 2}
    assert changed_inputs(OLD, news) == ["groupName", "refreshId", "timeout", "poll", "region"]


@pytest.mark.parametrize(("key", "value", "waits"), [
    ("groupName", "webapp-staging-fleet-2", True), ("refreshId", "r-2", True),
    ("refreshId", "", True), ("timeout", 60, False), ("poll", 5, False),
    ("region", "us-east-1", False)])
def test_only_another_group_or_refresh_waits_again(key: str, value: Any, waits: bool) -> None:
    assert waits_again(OLD, {**OLD, key: value}) is waits
    assert waits_again(OLD, dict(OLD)) is False


def test_no_refresh_to_wait_for_builds_no_client_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(rollout_start, "log", said.append)

    def no_client(_region: str) -> Any:
        raise AssertionError("nothing to wait for: no AWS client")

    monkeypatch.setattr(rollout_start, "client", no_client)
    for none in ("", None):
        props = {**OLD, "refreshId": none}
        assert watch(props) == props
    assert said == [f"no instance refresh to wait for on {GROUP}"] * 2


def started(double: AutoScalingDouble) -> str:
    double.add_group(GROUP, {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}})
    refresh = double.start_instance_refresh({"AutoScalingGroupName": GROUP})
    return str(refresh["InstanceRefreshId"])


def test_the_wait_polls_at_the_poll_interval_on_the_given_refresh_until_it_succeeds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    double = AutoScalingDouble()
    refresh_id = started(double)
    said: list[str] = []
    monkeypatch.setattr(rollout_start, "log", said.append)
    monkeypatch.setattr(rollout_start, "client", lambda region: in_process_client(double, region))
    slept: list[float] = []
    props = {**OLD, "refreshId": refresh_id, "timeout": 600.0, "poll": 15.0}  # wire doubles
    assert watch(props, sleep=slept.append, clock=lambda: 0.0) == props
    assert slept
    assert set(slept) == {15}
    assert all(type(s) is int for s in slept)
    assert double.refreshes[0].status == "Successful"
    assert said[-1].startswith(f"instance refresh {refresh_id}: Successful, 100% done")
    assert {call[1]["InstanceRefreshIds"][0] for call in double.calls
            if call[0] == "DescribeInstanceRefreshes"} == {refresh_id}


def test_the_wait_gives_up_at_the_timeout_and_names_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    double = AutoScalingDouble()
    refresh_id = started(double)
    monkeypatch.setattr(rollout_start, "log", lambda _m: None)
    now = iter([0.0, 29.0, 30.0, 31.0])
    with pytest.raises(RolloutFailed) as err:
        watch({**OLD, "refreshId": refresh_id, "timeout": 30.0, "poll": 1.0},
              in_process_client(double), sleep=lambda _s: None, clock=lambda: next(now))
    assert str(err.value).startswith(f"instance refresh {refresh_id} on {GROUP} is still ")
    assert "after 30s (webtier:rollout.gateTimeout)" in str(err.value)
