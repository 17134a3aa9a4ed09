"""The lifecycle double's documented rules, checked without a fleet (each cites its doc rule in
lifecycle_double.py)."""

from __future__ import annotations

import pytest

from tests.fleet_harness.lifecycle_double import LifecycleDouble, NoActiveAction

GROUP, LAUNCH, TERMINATE = "g", "webtier-launch", "webtier-terminate"


def double() -> LifecycleDouble:
    return LifecycleDouble(GROUP, LAUNCH, TERMINATE)


def test_launch_waits_in_pending_wait_until_completed() -> None:
    d = double()
    d.launch("i-1")
    assert (d.instances["i-1"].state, d.instances["i-1"].target) == ("Pending:Wait", "InService")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    assert d.instances["i-1"].history == ["Pending", "Pending:Wait", "Pending:Proceed",
                                          "InService"]


def test_completion_before_the_action_is_active_is_refused() -> None:
    d = double()
    d.launch("i-1", delay=3600)
    with pytest.raises(NoActiveAction, match="No active Lifecycle Action found with instance "
                                             "ID i-1"):
        d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    assert d.instances["i-1"].state == "Pending:Wait"


def test_completion_of_the_wrong_hook_or_twice_is_refused() -> None:
    d = double()
    d.launch("i-1")
    with pytest.raises(NoActiveAction):
        d.complete(GROUP, TERMINATE, "i-1", "CONTINUE")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    with pytest.raises(NoActiveAction):
        d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    with pytest.raises(NoActiveAction):
        d.heartbeat(GROUP, LAUNCH, "i-1")


def test_warm_pool_launch_pauses_twice() -> None:
    d = double()
    d.launch("i-1", into_pool=True)
    assert (d.instances["i-1"].state, d.instances["i-1"].target) == ("Warmed:Pending:Wait",
                                                                      "Warmed:Stopped")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    assert d.instances["i-1"].state == "Warmed:Stopped"
    d.leave_pool("i-1")
    assert (d.instances["i-1"].state, d.instances["i-1"].target) == ("Pending:Wait", "InService")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    assert d.instances["i-1"].state == "InService"


def test_scale_in_drains_before_terminating_wait() -> None:
    d = double()
    d.launch("i-1")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    d.scale_in("i-1")
    assert [c.api for c in d.calls][-1] == "AutoScaling:DeregisterFromLoadBalancer"
    assert (d.instances["i-1"].state, d.instances["i-1"].target) == ("Terminating:Wait",
                                                                      "Terminated")
    d.complete(GROUP, TERMINATE, "i-1", "CONTINUE")
    assert d.instances["i-1"].state == "Terminated"


def test_scale_in_to_the_pool_waits_on_the_terminate_hook_in_warmed_pending_wait() -> None:
    d = double()
    d.launch("i-1")
    d.complete(GROUP, LAUNCH, "i-1", "CONTINUE")
    d.scale_in("i-1", to_pool=True)
    assert (d.instances["i-1"].state, d.instances["i-1"].target) == ("Warmed:Pending:Wait",
                                                                      "Warmed:Stopped")
    d.complete(GROUP, TERMINATE, "i-1", "CONTINUE")
    assert d.instances["i-1"].state == "Warmed:Stopped"
