"""The offline plan's roll estimate: batches, time and the lowest in-service capacity."""

from __future__ import annotations

import pytest

from plan.rollout_estimate import Estimate, estimate


@pytest.mark.parametrize(("args", "expected"), [
    # production: 2 instances, launch before terminate, checkpoint at 50 %, 300 s delay
    ((2, 100, 200, 300, (50, 100), 300), Estimate(2, 300, 900, 2)),
    # staging: 1 instance, terminate then launch
    ((1, 0, 100, 300), Estimate(1, 300, 300, 0)),
    # the old default: 90 % healthy of 10 -> one at a time, 9 stay in service
    ((10, 90, 100, 300), Estimate(10, 300, 3000, 9)),
    # 10 instances, 100/150: five new before five old go
    ((10, 100, 150, 120), Estimate(2, 120, 240, 10)),
    ((0, 100, 200, 300), Estimate(0, 300, 0, 0)),
])
def test_estimate_table(args: tuple[int, ...], expected: Estimate) -> None:
    assert estimate(*args) == expected


def test_estimate_text_names_batches_time_and_capacity() -> None:
    assert estimate(2, 100, 200, 300, (50, 100), 300).text(2) == \
        "about 2 batch(es) of ~5 min, ~15 min in all; lowest in service 2 of 2"


@pytest.mark.parametrize(("stack", "line"), [
    ("production", "rolls instances: about 2 batch(es) of ~5 min, ~15 min in all; "
                   "lowest in service 2 of 2"),
    ("staging", "rolls instances: about 1 batch(es) of ~5 min, ~5 min in all; "
                "lowest in service 0 of 1"),
])
def test_offline_plan_prints_the_roll_estimate_for_each_stack(stack: str, line: str) -> None:
    from plan.model import resources
    from plan.render import tree
    from tests.mocks import run_program

    text = tree(stack, resources(run_program(stack).registrations))
    assert line in text


@pytest.mark.parametrize(("args", "expected"), [
    # two checkpoints without a delay: no pause between the segments
    ((10, 100, 150, 120, (50, 100)), Estimate(2, 120, 240, 10)),
    # a delay but no checkpoints: one segment, never a pause
    ((2, 100, 200, 300, (), 300), Estimate(1, 300, 300, 2)),
    # 10 % and 20 % of 2 are both the first instance: one pause, not two
    ((2, 100, 200, 300, (10, 20, 100), 300), Estimate(2, 300, 900, 2)),
    # 67 % of 6 is 4.02, so the checkpoint waits for the 5th instance: 2 + 2 + 1, then 1
    ((6, 100, 134, 300, (67, 100)), Estimate(4, 300, 1200, 6)),
])
def test_checkpoints_split_the_roll(args: tuple[int, ...], expected: Estimate) -> None:
    assert estimate(*args) == expected


def test_estimate_text_rounds_the_total_up_to_whole_minutes() -> None:
    # a 61 s warmup is "~1 min" a batch, but the roll as a whole takes into its second minute
    assert estimate(1, 0, 100, 61).text(1) == \
        "about 1 batch(es) of ~1 min, ~2 min in all; lowest in service 0 of 1"
