"""The capacity report's Markdown and numbers, whole, on settings built by hand.

plan/capacity.py's formulas have their own tests (test_capacity_formulas.py); these pin what
the report makes of them: which price it picks, what the warm pool adds to each bound, the notes
an operator reads, and the table's exact shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from components.settings import MixedInstances, StackSettings, WarmPool
from components.settings.capacity_schedule import PredictiveSettings, ScheduledAction
from components.settings.reader import SettingsError
from mock_engine import ROOT
from plan import capacity as cap
from plan import capacity_report as report
from tests.settings.test_settings import parse

REGION = "ap-northeast-1"
PRICES: dict[str, Any] = {
    "date": "2030-01-02",
    "onDemandHourly": {REGION: {"t3.medium": 0.1, "t3.small": 0.05, "m5.large": 0.2}},
    "ebsGp3MonthlyPerGb": {REGION: 0.073},
}
PRODUCTION = parse("production")
STAGING = parse("staging")
# The warm launch times are estimates; the hook path they rely on is a fleet scenario.
WARM = (" The warm times are estimates (AWS publishes none); that an instance leaving the pool "
        "pulls the current release and completes its launch hook is run on the fleet harness "
        "(tests/fleet_harness/test_scenario_warm_pool.py).")
HEADER = ("| policy | first new capacity in service | in service after 5 min / 10 min / 30 min | "
          "back to min after the load |\n|---|---|---|---|\n")


def everything(settings: StackSettings = PRODUCTION) -> StackSettings:
    """Production with a hibernated pool, spot above one on-demand instance, predictive
    scaling that acts, and two scheduled actions."""
    capacity = replace(settings.capacity, warm_pool=WarmPool("Hibernated", 2, 5, False),
                       mixed=MixedInstances(("m5.large", "t3.medium"), None, None, 1, 50,
                                            "capacity-optimized", True, 40.0))
    scaling = replace(settings.scaling, predictive=PredictiveSettings(
        "ForecastAndScale", "cpu", 50.0, 600, "HonorMaxCapacity", 0), schedules=(
        ScheduledAction("night", "0 22 * * *", "Asia/Tokyo", 1, None, 1),
        ScheduledAction("day", "0 8 * * *", "UTC", None, 10, None)))
    return replace(settings, capacity=capacity, scaling=scaling)


def test_production_report_reads_as_one_policy_with_its_range_and_cost_bounds() -> None:
    text = report.render(report.report("production", PRODUCTION, PRICES))
    assert text.startswith(
        f"### Capacity of `production`: 2..20 x t3.medium in {REGION}\n\n" + HEADER +
        # 3 min of spike fill half the 300 s window + 60 s delay + 30 + 150 s + one 15 s check,
        # to the whole period + a late minute + 180 s delay + 120 + 150 s + two checks.
        "| CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s | 7 min 15 s to 14 min | "
        "2 / 2-5 / 8-11 | 99 min to 120 min |\n\n"
        f"Cost per hour: floor $0.2000, ceiling $2.0000 (t3.medium on demand $0.1/h in {REGION}, "
        "plan/prices.json dated 2030-01-02).\n\n" + report.SCENARIO + "\n\nAssumptions:\n\n"
        "| timing | best | worst | source |\n|---|---|---|---|\n")
    # Every assumption is printed with its source, and the one chart follows.
    for what, best, worst, source in cap.assumption_lines(cap.Assumptions()):
        assert f"| {what} | {best} | {worst} | {source} |\n" in text
    assert text.count("```mermaid\nxychart-beta\n") == 1
    assert text.endswith("```\n")


def test_several_policies_get_a_row_for_all_of_them_together() -> None:
    r = report.report("staging", STAGING, PRICES)
    assert [(x.label, x.reaction, x.at, x.scale_in) for x in r.rows] == [
        ("CPU simple: >= 50% for 1 x 300s, +1, cooldown 300s", (315, 630),
         ((1, 1), (1, 2), (4, 4)), (990, 1350)),
        ("Request count target tracking: 1000 per target", (315, 510), ((1, 1), (4, 4), (4, 4)),
         (990, 1170)),
        # The curve of whichever reached more at each moment, and the FASTEST scale-in: each
        # policy's low alarm fires on its own, and the first to fire takes the group down
        # (target tracking: to the minimum in one step), whatever the other asks later.
        ("All policies together", (315, 510), ((1, 1), (4, 4), (4, 4)), (990, 1170)),
    ]


def test_checkpoints_count_what_is_in_service_at_exactly_five_ten_and_thirty_minutes() -> None:
    # Warm launches of 155 s put the request policy's instances in service at 605 s worst
    # (240 s + 180 s delay + 155 s + 30 s): not yet at 10 minutes (600 s); best at 410 s. The
    # simple policy's second instance: best at 240 + 155 + 300 + 155 + 15 = 865 s.
    a = cap.Assumptions(warm={"Stopped": 155, "Hibernated": 155})
    rows = report.report("staging", STAGING, PRICES, a).rows
    assert [(r.reaction, r.at) for r in rows] == [
        ((410, 725), ((1, 1), (1, 2), (4, 4))), ((410, 605), ((1, 1), (1, 4), (4, 4))),
        ((410, 605), ((1, 1), (1, 4), (4, 4)))]


def test_the_first_instance_launches_from_the_warm_pool_at_both_ends() -> None:
    # A pool of one: the first instance is warm (60 s), the rest cold.
    pool = WarmPool("Stopped", 1, PRODUCTION.fleet.min_size, True)
    settings = replace(PRODUCTION, capacity=replace(PRODUCTION.capacity, warm_pool=pool))
    assert report.report("production", settings, PRICES).rows[0].reaction == (
        240 + 60 + 15, 540 + 60 + 30)


def test_all_policies_together_wait_only_for_the_first_instance() -> None:
    # A pool of one: the request policy's first instance is warm, the others cold.
    pool = WarmPool("Stopped", 1, 2, True)
    settings = replace(STAGING, capacity=replace(STAGING.capacity, warm_pool=pool))
    row = report.report("staging", settings, PRICES).rows[-1]
    assert (row.reaction, row.at, row.scale_in) == ((315, 510), ((1, 1), (2, 4), (4, 4)),
                                                    (990, 1170))
    assert row.curves == ((510, 720, 720), (315, 435, 435))


def test_a_fleet_that_cannot_grow_adds_nothing_at_any_checkpoint() -> None:
    settings = replace(STAGING, fleet=replace(STAGING.fleet, max_size=1))
    rows = report.report("staging", settings, PRICES).rows
    # No instance to wait for: no wait at either end; every checkpoint stays at min.
    assert [(r.reaction, r.at) for r in rows] == [((0, 0), ((1, 1),) * 3)] * 3


def test_warm_pool_mixed_instances_predictive_and_schedules_show_in_cost_and_notes() -> None:
    r = report.report("production", everything(), PRICES)
    # The first listed type sets the price. On demand: 2 at the floor, 1 + half of 19 rounded
    # up = 11 at the ceiling, the 9 others at 40% off. The pool at minSize holds 5 - 2 = 3
    # volumes; at maxSize only its own minimum of 2.
    volume = 16 * 0.073 / 730
    assert r.floor == pytest.approx(2 * 0.2 + 3 * volume)
    assert r.ceiling == pytest.approx(11 * 0.2 + 9 * 0.2 * 0.6 + 2 * volume)
    assert r.price_note == f"m5.large on demand $0.2/h in {REGION}, plan/prices.json dated " \
        "2030-01-02"
    assert r.notes == [
        "Warm pool: 3 instance(s) Hibernated, launching in 45 s instead of 180-270 s." + WARM,
        "Mixed instances: on-demand base 1, 50% on demand above it, spot capacity-optimized.",
        "Predictive scaling launches forecast capacity 600 s ahead: recurring load finds it in "
        "service; an unforecast spike waits as above.",
        "Scheduled `night`: `0 22 * * *` (Asia/Tokyo): min 1, desired 1.",
        "Scheduled `day`: `0 8 * * *` (UTC): max 10.",
    ]
    assert r.rows[0].reaction == (300, 615)  # a warm launch: 45 s instead of 180-270 s


def test_notes_are_listed_between_the_cost_and_the_assumptions() -> None:
    lines = report.render(report.report("production", everything(), PRICES)).split("\n")
    assert lines[5:14] == [
        "",
        f"Cost per hour: floor $0.4048, ceiling $3.2832 (m5.large on demand $0.2/h in {REGION}, "
        "plan/prices.json dated 2030-01-02).",
        "- Warm pool: 3 instance(s) Hibernated, launching in 45 s instead of 180-270 s." + WARM,
        "- Mixed instances: on-demand base 1, 50% on demand above it, spot capacity-optimized.",
        "- Predictive scaling launches forecast capacity 600 s ahead: recurring load finds it in "
        "service; an unforecast spike waits as above.",
        "- Scheduled `night`: `0 22 * * *` (Asia/Tokyo): min 1, desired 1.",
        "- Scheduled `day`: `0 8 * * *` (UTC): max 10.",
        "", report.SCENARIO]


def test_forecast_only_predictive_scaling_says_it_changes_no_capacity() -> None:
    assert report.report("staging", STAGING, PRICES).notes == [
        "Warm pool: 3 instance(s) Stopped, launching in 60 s instead of 180-270 s." + WARM,
        "Predictive scaling forecasts only: no capacity change until mode is ForecastAndScale.",
    ]


def test_mixed_instances_all_on_demand_mention_no_spot() -> None:
    mixed = MixedInstances(("t3.medium",), None, None, 0, 100, "lowest-price", False, None)
    settings = replace(PRODUCTION, capacity=replace(PRODUCTION.capacity, mixed=mixed))
    r = report.report("production", settings, PRICES)
    assert r.notes == ["Mixed instances: on-demand base 0, 100% on demand above it."]
    assert (r.floor, r.ceiling) == (pytest.approx(0.2), pytest.approx(2.0))


def test_attribute_based_mixed_instances_are_priced_by_the_fleets_type() -> None:
    mixed = MixedInstances((), None, None, 0, 100, "lowest-price", False, None)
    settings = replace(PRODUCTION, capacity=replace(PRODUCTION.capacity, mixed=mixed))
    assert report.report("production", settings, PRICES).price_note.startswith("t3.medium ")


def test_a_warm_pool_without_a_volume_price_costs_nothing_extra() -> None:
    prices = {k: v for k, v in PRICES.items() if k != "ebsGp3MonthlyPerGb"}
    r = report.report("production", everything(), prices)
    assert (r.floor, r.ceiling) == (pytest.approx(0.4), pytest.approx(3.28))


def test_missing_price_leaves_the_cost_unknown_and_says_what_to_add() -> None:
    r = report.report("production", everything(), {"date": "2030-01-02"})
    assert (r.floor, r.ceiling) == (None, None)
    assert report.render(r).split("\n")[6] == (
        f"Cost per hour: unknown (no price for m5.large in {REGION} in plan/prices.json "
        "(dated 2030-01-02): add it).")


def test_prices_for_other_regions_only_leave_the_cost_unknown() -> None:
    prices = {"date": "2030-01-02", "onDemandHourly": {"us-east-1": {"t3.medium": 0.1}},
              "ebsGp3MonthlyPerGb": {"us-east-1": 0.08}}
    r = report.report("production", PRODUCTION, prices)
    assert (r.floor, r.ceiling, r.price_note) == (
        None, None, f"no price for t3.medium in {REGION} in plan/prices.json (dated 2030-01-02): "
                    "add it")


def test_a_region_without_a_volume_price_counts_the_pool_volumes_free() -> None:
    prices = {**PRICES, "ebsGp3MonthlyPerGb": {"us-east-1": 0.08}}
    r = report.report("production", everything(), prices)
    assert (r.floor, r.ceiling) == (pytest.approx(0.4), pytest.approx(3.28))


def test_a_report_with_only_one_cost_bound_prints_neither() -> None:
    r = replace(report.report("production", PRODUCTION, PRICES), ceiling=None)
    assert report.render(r).split("\n")[6] == (
        f"Cost per hour: unknown (t3.medium on demand $0.1/h in {REGION}, plan/prices.json dated "
        "2030-01-02).")


def test_compare_sets_two_stacks_side_by_side_on_the_fastest_policy() -> None:
    left = report.report("staging", STAGING, PRICES)
    right = report.report("production", everything(), {"date": "d"})
    text = report.render_compare(left, right)
    assert text.startswith(
        "### Capacity: `staging` and `production`\n\n"
        "|  | `staging` | `production` |\n|---|---|---|\n"
        "| policies | CPU simple: >= 50% for 1 x 300s, +1, cooldown 300s; Request count target "
        "tracking: 1000 per target | CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s |\n"
        "| size | 1..4 x t3.small | 2..20 x t3.medium |\n"
        "| first new capacity in service | 5 min 15 s to 8 min 30 s | 5 min to 10 min 15 s |\n"
        "| in service after 5 min | 1 | 2-5 |\n"
        "| in service after 10 min | 4 | 2-5 |\n"
        "| in service after 30 min | 4 | 8-14 |\n"
        "| back to min after the load | 16 min 30 s to 19 min 30 s | 99 min to 120 min |\n"
        "| cost floor per hour | $0.0548 | unknown |\n"
        "| cost ceiling per hour | $0.2016 | unknown |\n\n" + report.SCENARIO + "\n")
    # One chart per side, titled with the side and its headline policy.
    assert '    title "staging, All policies together: in service, worst and best case"' in text
    assert ('    title "production, CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s: in '
            'service, worst and best case"') in text


def test_before_and_after_label_the_columns_with_the_revision_and_the_tree() -> None:
    before = report.report("production", PRODUCTION, PRICES)
    after = report.report("production", replace(PRODUCTION, scaling=replace(
        PRODUCTION.scaling, mode="target-tracking")), PRICES)
    text = report.render_compare(before, after, names=("`main` (abc123)", "this tree"))
    assert text.startswith("### Capacity: `main` (abc123) and this tree\n\n"
                           "|  | `main` (abc123) | this tree |\n")
    assert "| policies | CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s | CPU target " \
        "tracking: 50% |\n" in text
    assert ('    title "main (abc123), CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s: in '
            'service') in text
    assert '    title "this tree, CPU target tracking: 50%: in service' in text


def test_a_terminal_gets_plain_text_without_tables_pipes_or_charts() -> None:
    text = report.render(report.report("production", PRODUCTION, PRICES), markdown=False)
    lines = text.split("\n")
    assert lines[0] == f"Capacity of production: 2..20 x t3.medium in {REGION}"
    assert re.split(r"  +", lines[3]) == ["CPU simple: >= 50% for 1 x 300s, +3, cooldown 300s",
                                          "7 min 15 s to 14 min", "2 / 2-5 / 8-11",
                                          "99 min to 120 min"]
    # Aligned: each column starts where its header does.
    assert lines[3].index("7 min") == lines[2].index("first new capacity")
    for markup in ("|", "`", "mermaid", "#"):
        assert markup not in text
    assert "- datapoint delay to the alarm: 60 s; 180 s; not published by AWS: an estimate; " \
        "measure it with --calibrate" in lines


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 min"), (59, "0 min 59 s"), (60, "1 min"), (61, "1 min 01 s"), (7320, "122 min")])
def test_minutes_show_seconds_only_when_there_are_some(seconds: int, text: str) -> None:
    assert report._minutes(seconds) == text


def _stack_root(tmp_path: Path, *stacks: str) -> Path:
    for name in ("Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in stacks)):
        (tmp_path / name).write_text((ROOT / name).read_text())
    return tmp_path


def test_load_reads_the_stack_file_under_the_given_root(tmp_path: Path) -> None:
    assert report.load("production", _stack_root(tmp_path, "production")) == PRODUCTION


def test_load_checks_kv_parity_against_the_other_stack_files_there(tmp_path: Path) -> None:
    root = _stack_root(tmp_path, "staging", "production")
    text = (root / "Pulumi.staging.yaml").read_text()
    (root / "Pulumi.staging.yaml").write_text(text.replace("app/log-level", "app/log-levels"))
    with pytest.raises(SettingsError, match="KV key 'app/log-levels' is defined in stack "
                       "'staging' but not in 'production'"):
        report.load("production", root)


def test_capacity_markdown_of_one_stack_is_its_report_with_the_committed_prices() -> None:
    prices = json.loads(report.PRICES.read_text())
    assert report.capacity_markdown(["production"]) == \
        report.render(report.report("production", PRODUCTION, prices))


def test_capacity_markdown_of_two_stacks_is_their_comparison() -> None:
    assert report.capacity_markdown(["staging", "production"]).startswith(
        "### Capacity: `staging` and `production`\n")


@pytest.mark.parametrize(("period", "fill"), [(10, 10), (20, 10), (30, 20)])
def test_a_high_resolution_period_is_reported_with_what_it_needs(period: int, fill: int) -> None:
    settings = replace(PRODUCTION, scaling=replace(PRODUCTION.scaling, period=period))
    r = report.report("production", settings, PRICES)
    assert r.notes == [
        f"Alarm period {period} s: a high-resolution alarm, evaluated every 10 s. EC2's "
        "CPUUtilization has one datapoint a minute at best, so it needs a metric published at "
        "one-second resolution, or it lapses into INSUFFICIENT_DATA (PutMetricAlarm, Period)."]
    # Evaluated every 10 s: best case, half the window filled, in whole evaluations.
    assert r.rows[0].reaction[0] == fill + 60 + 30 + cap.BOOT_SECONDS + 15
    assert report.report("production", PRODUCTION, PRICES).notes == []
