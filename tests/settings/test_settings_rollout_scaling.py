"""webtier:rollout and webtier:scaling (with its schedules and predictive scaling), parsed
directly: every field read, every refusal's exact line, and the limits AWS and CloudWatch set."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.capacity_schedule import (
    MAX_SCHEDULED_ACTIONS,
    PredictiveSettings,
    ScheduledAction,
)
from components.settings.reader import ConfigObject, Problems
from components.settings.rollout import RolloutSettings, parse_rollout
from components.settings.scaling import ScalingSettings, parse_scaling

R = "webtier:rollout"
S = "webtier:scaling"


def rollout(raw: dict[str, Any]) -> tuple[RolloutSettings, list[str]]:
    problems = Problems()
    return parse_rollout(ConfigObject(R, raw, problems)), problems.items


def scaling(raw: dict[str, Any]) -> tuple[ScalingSettings, list[str]]:
    problems = Problems()
    return parse_scaling(ConfigObject(S, raw, problems)), problems.items


# --- rollout -----------------------------------------------------------------------------------

def test_rollout_reads_every_field() -> None:
    r, problems = rollout({
        "minHealthyPercentage": 90, "maxHealthyPercentage": 110, "checkpoints": [20, 100],
        "checkpointDelay": 60, "skipMatching": False, "alarmRollback": False, "wait": False,
        "gateTimeout": 600, "pollInterval": 5, "rollBack": False, "bakeTime": 0,
        "launchHeartbeatTimeout": 900,
        "terminateHeartbeatTimeout": 120, "errorRatePercent": 2.5, "alarmPeriods": 4})
    assert problems == []
    assert r == RolloutSettings(90, 110, (20, 100), 60, False, False, False, 600, 5, False, 0,
                                900, 120, 2.5, 4)


def test_rollout_healthy_window_refusals() -> None:
    assert rollout({"minHealthyPercentage": 99, "maxHealthyPercentage": 200})[1] == [
        "webtier:rollout.maxHealthyPercentage = 200: may exceed minHealthyPercentage (99) by at "
        "most 100 (AWS's rule)"]
    assert rollout({"minHealthyPercentage": 100, "maxHealthyPercentage": 100})[1] == [
        "webtier:rollout.maxHealthyPercentage = 100: must be above minHealthyPercentage (100) or "
        "no instance can be replaced"]
    assert rollout({"minHealthyPercentage": 0, "maxHealthyPercentage": 100})[1] == []


@pytest.mark.parametrize("points", [[100], [1, 100], [50, 99, 100]])
def test_rollout_checkpoints_that_rise_to_100_are_kept(points: list[int]) -> None:
    r, problems = rollout({"checkpoints": points})
    assert (problems, r.checkpoints) == ([], tuple(points))


@pytest.mark.parametrize("points", [[0, 100], [50, 101], [50, "100"], [True, 100], [50.5, 100]])
def test_rollout_checkpoints_must_be_whole_percentages(points: list[Any]) -> None:
    _, problems = rollout({"checkpoints": points})
    shown = str(points).replace("'", '"').replace("True", "true")
    assert problems == [f"webtier:rollout.checkpoints = {shown}: must be whole percentages "
                        "between 1 and 100"]


@pytest.mark.parametrize("points", [[50], [100, 50], [50, 50, 100], [50, 100, 100]])
def test_rollout_checkpoints_must_rise_and_end_at_100(points: list[int]) -> None:
    _, problems = rollout({"checkpoints": points})
    assert problems == [f"webtier:rollout.checkpoints = {points}: must rise strictly and end at "
                        "100, so the refresh replaces every instance (e.g. [50, 100])"]


# --- scaling -----------------------------------------------------------------------------------

def test_scaling_reads_every_field() -> None:
    s, problems = scaling({
        "mode": "step", "period": 60, "evaluationPeriods": 3, "scaleOutThreshold": 70.5,
        "scaleInThreshold": 10, "scaleOutAdjustment": 2, "scaleInAdjustment": -2,
        "cooldown": 120, "targetCpu": 60, "requestCountTarget": 500})
    assert problems == []
    assert s == ScalingSettings("step", 60, 3, 70.5, 10, 2, -2, 120, 60, 500, None, ())


def test_scaling_request_count_target_is_off_unless_given() -> None:
    s, problems = scaling({"requestCountTarget": None})
    assert (problems, s.request_count_target) == ([], None)
    s, problems = scaling({"requestCountTarget": 1})
    assert (problems, s.request_count_target) == ([], 1)


def test_scaling_refusals() -> None:
    _, problems = scaling({"period": 90, "scaleOutThreshold": 40, "scaleInThreshold": 40.5,
                           "requestCountTarget": 0})
    assert problems == [
        "webtier:scaling.period = 90: CloudWatch accepts 10, 20, 30, or a multiple of 60 seconds",
        "webtier:scaling.scaleInThreshold = 40.5: must be below scaleOutThreshold (40) or the "
        "alarms fight",
        "webtier:scaling.requestCountTarget = 0: must be between 1 and 1e+06",
    ]
    _, problems = scaling({"period": 3600, "evaluationPeriods": 25})
    assert problems == ["webtier:scaling.evaluationPeriods = 25: period x evaluationPeriods must "
                        "not exceed one day (period is 3600)"]


def test_predictive_defaults_follow_the_metric() -> None:
    s, problems = scaling({"predictive": {}})
    assert problems == []
    assert s.predictive == PredictiveSettings("ForecastOnly", "cpu", 50, 300, "HonorMaxCapacity",
                                              0)
    s, problems = scaling({"predictive": {"metric": "requests"}})
    assert problems == []
    assert s.predictive == PredictiveSettings("ForecastOnly", "requests", 1000, 300,
                                              "HonorMaxCapacity", 0)


def test_predictive_reads_every_field() -> None:
    s, problems = scaling({"predictive": {
        "mode": "ForecastAndScale", "metric": "requests", "target": 1_000_000,
        "schedulingBufferTime": 3600, "maxCapacityBreachBehavior": "IncreaseMaxCapacity",
        "maxCapacityBuffer": 100}})
    assert problems == []
    assert s.predictive == PredictiveSettings("ForecastAndScale", "requests", 1_000_000, 3600,
                                              "IncreaseMaxCapacity", 100)


def test_predictive_limits_depend_on_the_metric() -> None:
    s, problems = scaling({"predictive": {"target": 100, "schedulingBufferTime": 0}})
    assert problems == []
    assert s.predictive is not None
    assert (s.predictive.target, s.predictive.scheduling_buffer_time) == (100, 0)
    _, problems = scaling({"predictive": {"target": 101, "maxCapacityBuffer": 101}})
    assert problems == [
        "webtier:scaling.predictive.target = 101: must be between 1 and 100",
        "webtier:scaling.predictive.maxCapacityBuffer = 101: must be between 0 and 100"]
    _, problems = scaling({"predictive": {"metric": "requests", "target": 1_000_001}})
    assert problems == [
        "webtier:scaling.predictive.target = 1000001: must be between 1 and 1e+06"]
    _, problems = scaling({"predictive": {"target": 0.5, "schedulingBufferTime": 3601,
                                          "mode": "Scale", "maxCapacityBreachBehavior": "x"}})
    assert problems == [
        'webtier:scaling.predictive.mode = "Scale": must be one of ForecastOnly, ForecastAndScale',
        "webtier:scaling.predictive.target = 0.5: must be between 1 and 100",
        "webtier:scaling.predictive.schedulingBufferTime = 3601: must be between 0 and 3600",
        'webtier:scaling.predictive.maxCapacityBreachBehavior = "x": must be one of '
        "HonorMaxCapacity, IncreaseMaxCapacity"]


def test_an_unknown_predictive_field_lists_the_known_ones() -> None:
    _, problems = scaling({"predictive": {"horizon": 2}})
    assert problems == [
        "webtier:scaling.predictive.horizon is not a known setting (known: "
        "maxCapacityBreachBehavior, maxCapacityBuffer, metric, mode, schedulingBufferTime, "
        "target); its value is not shown"]


# --- scheduled actions -------------------------------------------------------------------------

ENTRY = {"name": "morning", "cron": "0 8 * * MON-FRI"}


def schedules(*entries: dict[str, Any]) -> tuple[tuple[ScheduledAction, ...], list[str]]:
    s, problems = scaling({"schedules": list(entries)})
    return s.schedules, problems


def test_a_schedule_is_read_with_utc_by_default() -> None:
    actions, problems = schedules({**ENTRY, "minSize": 0},
                                  {"name": "b", "cron": "0 20 * * *", "timeZone": "Asia/Tokyo",
                                   "minSize": 1, "maxSize": 1000, "desiredCapacity": 1000})
    assert problems == []
    assert actions == (ScheduledAction("morning", "0 8 * * MON-FRI", "Etc/UTC", 0, None, None),
                       ScheduledAction("b", "0 20 * * *", "Asia/Tokyo", 1, 1000, 1000))


def test_a_schedule_may_set_sizes_equal() -> None:
    actions, problems = schedules({**ENTRY, "minSize": 3, "maxSize": 3, "desiredCapacity": 3})
    assert (problems, actions[0].desired_capacity) == ([], 3)
    actions, problems = schedules({**ENTRY, "desiredCapacity": 0})
    assert (problems, actions[0].desired_capacity) == ([], 0)


def test_a_schedule_entry_refusals() -> None:
    _, problems = schedules(
        {"name": "-bad", "cron": "0 8 * *", "timeZone": "Tokyo", "minSize": 5, "maxSize": 3},
        {"cron": "0 8 * * *", "desiredCapacity": 1001},
        {"name": "c", "minSize": 2, "desiredCapacity": 1, "note": "x"},
        {"name": "d", "cron": "0 8 * * *", "maxSize": 2, "desiredCapacity": 3},
        {"name": "e", "cron": "0 8 * * *"})
    assert problems == [
        'webtier:scaling.schedules[0].name = "-bad": must be 1-255 letters, digits, \'.\', \'_\' '
        "or '-'",
        'webtier:scaling.schedules[0].cron = "0 8 * *": has 4 fields: give the 5-field Unix form '
        "'minute hour day-of-month month day-of-week', e.g. '0 8 * * MON-FRI'",
        'webtier:scaling.schedules[0].timeZone = "Tokyo": must be an IANA time zone name like '
        "Asia/Tokyo or Etc/UTC",
        "webtier:scaling.schedules[0].minSize = 5: must not exceed maxSize (3)",
        "webtier:scaling.schedules[1].name is missing: it is required",
        "webtier:scaling.schedules[1].desiredCapacity = 1001: must be between 0 and 1000",
        "webtier:scaling.schedules[2].cron is missing: it is required",
        "webtier:scaling.schedules[2].desiredCapacity = 1: must be within this entry's "
        "[minSize, maxSize]",
        "webtier:scaling.schedules[2].note is not a known setting (known: cron, desiredCapacity, "
        "maxSize, minSize, name, timeZone); its value is not shown",
        "webtier:scaling.schedules[3].desiredCapacity = 3: must be within this entry's "
        "[minSize, maxSize]",
        "webtier:scaling.schedules[4] sets none of minSize, maxSize, desiredCapacity: a scheduled "
        "action must change at least one",
    ]


def test_a_zone_outside_the_list_that_zoneinfo_still_knows_is_accepted() -> None:
    # available_timezones() leaves out some aliases ZoneInfo resolves, e.g. "UTC" on some hosts.
    actions, problems = schedules({**ENTRY, "minSize": 1, "timeZone": "UTC"})
    assert (problems, actions[0].time_zone) == ([], "UTC")


def test_schedule_names_are_unique() -> None:
    _, problems = schedules({**ENTRY, "minSize": 1}, {**ENTRY, "minSize": 2},
                            {"name": "b", "cron": "0 9 * * *", "minSize": 1},
                            {"name": "b", "cron": "0 9 * * *", "minSize": 1})
    assert problems == [
        'webtier:scaling.schedules = "b": scheduled action names must be unique within the group',
        'webtier:scaling.schedules = "morning": scheduled action names must be unique within the '
        "group"]


def test_at_most_125_schedules() -> None:
    many = [{"name": f"s{i}", "cron": "0 8 * * *", "minSize": 1}
            for i in range(MAX_SCHEDULED_ACTIONS + 1)]
    actions, problems = schedules(*many[:-1])
    assert (problems, len(actions)) == ([], 125)
    _, problems = schedules(*many)
    assert problems == ['webtier:scaling.schedules = "126 entries": AWS allows at most 125 '
                        "scheduled actions per group"]
