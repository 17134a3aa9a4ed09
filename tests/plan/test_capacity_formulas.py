"""Table tests of the capacity report's formulas (plan/capacity.py) against AWS's documented
semantics, and of `python -m plan STACK --capacity`. Sources (docs/capacity.md has the list):

- Alarms are evaluated every minute (every 10 s for a 10, 20 or 30 s period), over windows that
  slide by one evaluation, so a window can cross the threshold before it is filled with the spike:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
- Alarm actions: "Except for Auto Scaling actions, the actions happen only on state transitions"
  (Auto Scaling actions repeat while the alarm stays in ALARM):
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html
- Simple scaling waits for the activity and then the cooldown before the next:
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scaling-cooldowns.html
- Warm pool size = MaxGroupPreparedCapacity (default max size) - desired, at least MinSize:
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html
- Target tracking (proportional, AWS-managed alarms, instance warmup):
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import yaml

from components.settings import MixedInstances, StackSettings, WarmPool
from components.settings.capacity import CapacitySettings
from plan import capacity as cap
from plan import capacity_report as report
from plan.cli import main
from tests.mocks import run_program
from tests.settings.test_settings import parse

A = cap.Assumptions()
BEST, WORST = A.case(False), A.case(True)
PRICES = json.loads(report.PRICES.read_text())


def mixed(base: int = 0, pct: int = 100, discount: float | None = None) -> MixedInstances:
    return MixedInstances(("t3.medium",), None, None, base, pct, "price-capacity-optimized",
                          True, discount)


@pytest.mark.parametrize(("period", "evaluations", "share", "best", "worst"), [
    # The original: half the 300 s window is enough from idle, in whole minutes: 3 minutes.
    (300, 1, 0.5, 180 + 60, 300 + 60 + 180),
    (300, 1, 0.8, 240 + 60, 300 + 60 + 180),
    (60, 3, 0.5, 2 * 60 + 60 + 60, 3 * 60 + 60 + 180),
    (10, 6, 0.5, 5 * 10 + 10 + 60, 6 * 10 + 10 + 180),  # evaluated every 10 s
    (20, 1, 0.5, 10 + 60, 20 + 10 + 180),  # a 20 s high-resolution alarm
    (30, 2, 0.1, 30 + 10 + 60, 60 + 10 + 180),
])
def test_alarm_detection_ranges_from_a_part_filled_window_to_whole_periods_and_a_late_start(
        period: int, evaluations: int, share: float, best: int, worst: int) -> None:
    assert cap.alarm_detection(period, evaluations, share, BEST) == best
    assert cap.alarm_detection(period, evaluations, share, WORST) == worst


def test_ready_after_launch_is_one_to_healthy_threshold_target_group_checks() -> None:
    tg = next(r for r in run_program("production").registrations
              if r.type == "aws:lb/targetGroup:TargetGroup")
    check = tg.inputs["healthCheck"]
    assert WORST.ready == check["healthyThreshold"] * check["interval"] == 30
    assert BEST.ready == (check["healthyThreshold"] - 1) * check["interval"] == 15


def test_a_cold_launch_is_the_ec2_launch_plus_the_one_boot_constant() -> None:
    assert (BEST.launch["cold"], WORST.launch["cold"]) == (30 + cap.BOOT_SECONDS,
                                                           120 + cap.BOOT_SECONDS)
    assert BEST.launch["Stopped"] == WORST.launch["Stopped"] == 60


@pytest.mark.parametrize(("pool", "lo", "hi", "expected"), [
    (None, 2, 20, 0),
    (WarmPool("Stopped", 0, None, False), 2, 20, 18),  # default: maxSize - desired
    (WarmPool("Stopped", 1, None, True), 1, 4, 3),
    (WarmPool("Stopped", 0, 5, False), 2, 20, 3),  # MaxGroupPreparedCapacity - desired
    (WarmPool("Stopped", 4, 5, False), 2, 20, 4),  # never below the pool's MinSize
])
def test_warm_pool_size(pool: WarmPool | None, lo: int, hi: int, expected: int) -> None:
    assert cap.warm_pool_size(pool, lo, hi) == expected


def test_launch_is_warm_while_the_pool_lasts_then_cold() -> None:
    capacity = CapacitySettings(warm_pool=WarmPool("Hibernated", 0, None, False))
    launch = cap.launch_seconds(capacity, 2, BEST)
    assert [launch(i) for i in range(4)] == [45, 45, 180, 180]
    assert cap.launch_seconds(CapacitySettings(), 0, WORST)(0) == 270


def test_original_production_policy_takes_seven_to_fourteen_minutes_and_adds_three_per_cycle(
) -> None:
    s = parse("production")
    worst = cap.timeline(cap.simple_policy(s.scaling, 2, 20, 300, WORST), 2, 20,
                         cap.launch_seconds(s.capacity, 0, WORST), WORST.ready)
    best = cap.timeline(cap.simple_policy(s.scaling, 2, 20, 300, BEST), 2, 20,
                        cap.launch_seconds(s.capacity, 0, BEST), BEST.ready)
    cycle = 270 + 300 + 60  # launch, cooldown, the alarm's next minute
    assert worst[:6] == [840] * 3 + [840 + cycle] * 3
    assert best[:6] == [435] * 3 + [435 + 180 + 300] * 3
    assert 7 * 60 <= best[0] < worst[0] <= 15 * 60  # the honest 7 to 15 minutes
    assert [cap.capacity_at(worst, 2, m * 60) for m in (5, 10, 30)] == [2, 2, 8]
    assert [cap.capacity_at(best, 2, m * 60) for m in (5, 10, 30)] == [2, 5, 11]
    assert len(worst) == len(best) == 18  # reaches maxSize, never beyond


@pytest.mark.parametrize(("threshold", "step"), [(50, 6), (80, 6), (85, 3)])
def test_step_policy_takes_the_step_a_saturated_cpu_reaches(threshold: float, step: int) -> None:
    s = replace(parse("production").scaling, mode="step", scale_out_threshold=threshold)
    policy = cap.step_policy(s, 2, 20, 300, 30, WORST)
    assert policy.grow(2) == 2 + step
    assert policy.gap == 300 + 60  # warmup, then the alarm's next minute; no cooldown
    assert cap.step_policy(s, 2, 20, 300, 30, BEST).gap == 300


@pytest.mark.parametrize(("ratio", "current", "expected"), [
    (2.0, 2, 4), (2.0, 3, 6), (100 / 70, 4, 6), (None, 2, 20)])
def test_target_tracking_asks_for_current_times_metric_over_target(
        ratio: float | None, current: int, expected: int) -> None:
    assert cap.target_tracking_policy("t", ratio, 20, 300, 30, A.case(False)).grow(current) \
        == expected


def test_target_tracking_detects_after_three_one_minute_datapoints() -> None:
    assert cap.target_tracking_policy("t", None, 20, 300, 30, WORST).detection == \
        3 * 60 + 60 + 180
    assert cap.target_tracking_policy("t", None, 20, 300, 30, BEST).detection == 3 * 60 + 60
    # Back to min: 15 quiet minutes, the delay, one deregistration.
    assert cap.target_tracking_policy("t", None, 20, 300, 30, BEST).scale_in == \
        15 * 60 + 60 + 30
    assert cap.target_tracking_policy("t", None, 20, 300, 30, WORST).scale_in == \
        15 * 60 + 60 + 180 + 30


def test_request_tracking_with_a_warm_pool_is_faster_than_the_original() -> None:
    staging = report.report("staging", parse("staging"), PRICES)
    production = report.report("production", parse("production"), PRICES)
    fastest, original = staging.rows[-1].reaction, production.rows[0].reaction
    assert fastest == (3 * 60 + 60 + 60 + 15, 4 * 60 + 180 + 60 + 30)  # detection, warm, healthy
    assert fastest[1] < 600 < original[1]
    assert fastest[0] < original[0]


def test_simple_scale_in_waits_for_draining_and_cooldown_per_step() -> None:
    s = parse("production").scaling
    # Down from 100% CPU to idle, the window averages under 20% once 80% of it is quiet.
    assert cap.simple_policy(s, 2, 20, 30, BEST).scale_in == 240 + 60 + 18 * 30 + 17 * 300
    assert cap.simple_policy(s, 2, 20, 30, WORST).scale_in == \
        540 + 18 * 30 + 17 * (300 + 60)


def test_combined_policies_take_whichever_reached_more_at_each_moment() -> None:
    assert cap.combined([[100, 200, 300], [50]]) == [50, 200, 300]
    assert cap.combined([]) == []


@pytest.mark.parametrize(("n", "distribution", "expected"), [
    (10, None, 10), (10, mixed(), 10), (10, mixed(base=1, pct=25), 4), (10, mixed(pct=0), 0),
    (1, mixed(base=2, pct=0), 1), (3, mixed(base=0, pct=50), 2),
])
def test_on_demand_count(n: int, distribution: MixedInstances | None, expected: int) -> None:
    assert cap.on_demand_count(n, distribution) == expected


@pytest.mark.parametrize(("n", "distribution", "expected"), [
    (2, None, 0.2), (10, mixed(pct=0), 1.0), (10, mixed(pct=0, discount=70), 0.3),
    (10, mixed(base=2, pct=0, discount=50), 0.2 + 0.4),
])
def test_hourly_cost(n: int, distribution: MixedInstances | None, expected: float) -> None:
    assert cap.hourly_cost(n, 0.1, distribution) == pytest.approx(expected)


def test_stopped_warm_pool_costs_only_its_volumes() -> None:
    assert cap.warm_pool_hourly(3, 16, 0.096) == pytest.approx(3 * 16 * 0.096 / 730)


def test_price_table_is_dated_and_covers_the_committed_stacks() -> None:
    assert PRICES["date"]
    for stack in ("staging", "production"):
        s = parse(stack)
        assert s.fleet.instance_type in PRICES["onDemandHourly"][s.region]


def test_missing_price_is_reported_not_guessed() -> None:
    s = parse("production", {"webtier:fleet.instanceType": "x9.huge"})
    r = report.report("production", s, PRICES)
    assert (r.floor, r.ceiling) == (None, None)
    assert "no price for x9.huge" in report.render(r)


def test_capacity_flag_prints_the_report(capsys: Any) -> None:
    assert main(["production", "--capacity", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s | 7 min 15 s to 14 min |" in out
    assert "floor $0.1088, ceiling $1.0880" in out


def test_capacity_compare_puts_both_stacks_side_by_side(capsys: Any) -> None:
    assert main(["staging", "--capacity", "--compare", "production", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| first new capacity in service | 5 min 15 s to 8 min 30 s | 7 min 15 s to 14 min |" \
        in out


@pytest.mark.parametrize("argv", [["nosuch", "--capacity"],
                                  ["staging", "--capacity", "--compare", "nosuch"]])
def test_unknown_stack_is_a_one_line_error(argv: list[str], capsys: Any) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("plan: no stack file")
    assert err.count("\n") == 1


def test_capacity_refuses_base_and_policy(capsys: Any) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["staging", "--capacity", "--policy"])
    assert caught.value.code == 2


def test_pr_job_summary_carries_the_capacity_report() -> None:
    workflow = yaml.safe_load((report.ROOT / ".github/workflows/pull-request.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["offline-plan"]["steps"]]
    assert 'venv/bin/python -m plan "$STACK" --capacity >> "$GITHUB_STEP_SUMMARY"' in runs


def test_capacity_counts_an_instance_in_service_at_the_very_second_it_arrives() -> None:
    assert [cap.capacity_at([300, 600], 2, s) for s in (299, 300, 600)] == [2, 3, 4]


@pytest.mark.parametrize(("n", "distribution", "expected"), [
    (10, mixed(base=2, pct=50), 6),  # the base, then half of the other 8
    (21, mixed(pct=48), 11),  # 10.08 rounds up
])
def test_on_demand_share_is_of_the_instances_beyond_the_base_rounded_up(
        n: int, distribution: MixedInstances, expected: int) -> None:
    assert cap.on_demand_count(n, distribution) == expected


@pytest.fixture(scope="module")
def production() -> StackSettings:
    """Parsed once, outside the tests' own time (the mutation runs skip slow tests)."""
    return parse("production")


def test_policies_follow_the_scaling_mode_with_request_tracking_after_the_cpu_one(
        production: StackSettings) -> None:
    s = production
    step = replace(s, scaling=replace(s.scaling, mode="step"))
    target = replace(s, scaling=replace(s.scaling, mode="target", target_cpu=40,
                                        request_count_target=1000))
    assert [p.label for p in cap.policies(s, WORST)] == [
        "CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s"]
    assert [p.label for p in cap.policies(step, WORST)] == [
        f"CPU step: >= 50% for 1 x 300s, +6 when saturated, warmup {s.fleet.instance_warmup}s"]
    cpu, requests = cap.policies(target, WORST)
    assert (cpu.label, requests.label) == ("CPU target tracking: 40%",
                                           "Request count target tracking: 1000 per target")
    assert (cpu.grow(4), requests.grow(4)) == (10, 20)  # 4 x 100/40 rounded up; the whole fleet


def test_scale_in_steps_are_the_range_over_the_scale_in_adjustment(
        production: StackSettings) -> None:
    s = replace(production.scaling, scale_in_adjustment=-2)
    worst_in = 300 + 60 + 180  # the whole period, a late start, the datapoint's delay
    # (20 - 2) / 2 = 9 steps, each draining 30 s; simple waits cooldown + a minute between them
    assert cap.simple_policy(s, 2, 20, 30, WORST).scale_in == worst_in + 9 * 30 + 8 * (300 + 60)
    assert cap.step_policy(s, 2, 20, 300, 30, WORST).scale_in == worst_in + 9 * 30 + 8 * 60


def test_target_tracking_waits_out_the_warmup_then_the_next_alarm_minute() -> None:
    assert cap.target_tracking_policy("t", 2.0, 20, 300, 30, WORST).gap == 300 + 60
    assert cap.target_tracking_policy("t", 2.0, 20, 300, 30, BEST).gap == 300


def test_timeline_uses_the_warm_pool_for_the_first_launches_across_activities() -> None:
    # +2 per activity from 2 to 6 with a pool of 3: launches 0-2 warm (45 s), the 4th cold.
    policy = cap.Policy("p", 600, 100, lambda c: c + 2, 0)
    launch = cap.launch_seconds(CapacitySettings(warm_pool=WarmPool("Hibernated", 0, None,
                                                                    False)), 3, BEST)
    second = 600 + 45 + 100  # the first activity's last launch, then the gap
    assert cap.timeline(policy, 2, 6, launch, 30) == [
        600 + 45 + 30, 600 + 45 + 30, second + 45 + 30, second + 180 + 30]


def test_timeline_of_a_policy_adding_one_at_a_time_reaches_the_maximum() -> None:
    policy = cap.Policy("p", 100, 10, lambda c: c + 1, 0)
    assert cap.timeline(policy, 1, 3, lambda i: 5, 0) == [105, 120]


def test_cpu_target_of_100_percent_never_asks_for_more() -> None:
    # CPU cannot exceed the target, so desired = ceil(current x 1) = current: no activity.
    policy = cap.target_tracking_policy("t", cap.CPU_CEILING / 100, 20, 300, 30, WORST)
    assert cap.timeline(policy, 2, 20, lambda i: 180, 30) == []
