"""The plan tells when the rollout gate's instance refresh rolls the fleet, including changes the
group itself ignores (the refresh, not the provider, applies them)."""

from __future__ import annotations

from plan import cli as plan
from plan import model

GROUP = "aws:autoscaling/group:Group"
MIXED = {"instanceTypes": ["t3.micro", "t3a.micro"], "onDemandBaseCapacity": 1}


def group_change(base: dict[str, object], edit: dict[str, object],
                 stack: str = "staging") -> model.Change:
    found = model.diff(plan.plan(stack, config_overrides=base),
                       plan.plan(stack, config_overrides={**base, **edit}))
    [change] = [c for c in found if c.type == GROUP]
    return change


def test_a_new_image_rolls_by_the_gates_refresh_with_aws_rollback() -> None:
    change = group_change({}, {"webtier:fleet.instanceType": "m5.large"})
    assert str(change.rolls).startswith(
        "instance refresh (Rolling, keeping 0% healthy) started by the rollout gate, rolled back "
        "by AWS if it fails: every running instance is replaced"), change


def test_a_spot_split_change_the_group_ignores_still_shows_the_roll() -> None:
    base = {"webtier:capacity.mixedInstances": MIXED}
    change = group_change(base, {"webtier:capacity.mixedInstances": {
        **MIXED, "spotAllocationStrategy": "capacity-optimized"}}, stack="production")
    assert change.inputs == []  # the group's mixedInstancesPolicy is ignored after creation
    assert str(change.rolls).startswith("instance refresh (Rolling"), change
