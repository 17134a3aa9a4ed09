"""The push, canary, rollback and `status --wait` flows over fake ports: no Consul, no waiting.

The fleet is a small simulation: firing a manifest at nodes makes them report the release it
names with the health that release has (`outcome`); a manifest without an outcome changes nothing
(the nodes never act on it). The clock only moves when the flow sleeps.
"""

from __future__ import annotations

import io

import pytest

from deploy.canary import CanaryError, CanaryRecord, Clock
from deploy.canary_lock import CanaryLock
from deploy.fleet_status import FleetError, NodeStatus
from deploy.pointer import PointerState, Release
from deploy.progress import duration
from deploy.rollout import (
    REVERT_TIMEOUT,
    CanaryFailed,
    Ports,
    RolloutUnhealthy,
    finish_canary,
    fleet_lines,
    follow,
    refuse_if_canary,
    release_of,
    resume_or_abort,
    revert,
    start_canary,
    wait_fleet,
)
from tests.deploy.fake_consul import FakeConsul

M1 = "s3://b/releases/shop/r1/manifest.yml"
M2 = "s3://b/releases/shop/r2/manifest.yml"
STATE = PointerState(M1, 5, None, (Release("r1", M1, "t1", "alice"),), 6)
R2 = Release("r2", M2, "2026-01-02T00:00:00Z", "bob")
RECORD = CanaryRecord("r2", M2, M1, "r1", ("a", "b"), 1.0, R2.at, R2.by)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class FakePointers:
    def __init__(self, state: PointerState) -> None:
        self.state = state
        self.published: list[tuple[Release, PointerState]] = []
        self.announced: list[str] = []

    def read(self) -> PointerState:
        return self.state

    def publish(self, release: Release, expected: PointerState) -> None:
        self.published.append((release, expected))

    def announce(self, manifest: str) -> str:
        self.announced.append(manifest)
        return "ev-all"


class Fleet:
    def __init__(self, outcome: dict[str, tuple[str, str, str]], **nodes: str) -> None:
        self.outcome = outcome
        self.nodes = {name: (release, "passing", "") for name, release in nodes.items()}
        self.fired: list[tuple[str, tuple[str, ...]]] = []

    def status(self) -> list[NodeStatus]:
        return [NodeStatus(n, r, "t", h, o) for n, (r, h, o) in sorted(self.nodes.items())]

    def fire_to(self, manifest: str, nodes: object) -> str:
        names = tuple(nodes)
        self.fired.append((manifest, names))
        if manifest in self.outcome:
            for name in names:
                self.nodes[name] = self.outcome[manifest]
        return f"ev-{len(self.fired)}"


GOOD = {M1: ("r1", "passing", ""), M2: ("r2", "passing", "")}
BROKEN = {M1: ("r1", "passing", ""), M2: ("r2", "critical", "500 broken")}


class World:
    """Ports over fakes; `poll` 1 s unless a test says otherwise, `err` a pipe."""

    def __init__(self, fleet: Fleet, state: PointerState = STATE, poll: float | None = 1.0,
                 err: io.StringIO | None = None) -> None:
        self.clock = FakeClock()
        self.consul = FakeConsul()
        self.fleet = fleet
        self.pointers = FakePointers(state)
        self.lock = CanaryLock(self.consul, "shop/prod", "shop")
        self.err = err or io.StringIO()
        extra = {} if poll is None else {"poll": poll}
        self.ports = Ports(self.pointers, self.lock, fleet.status, fleet.fire_to,
                           Clock(lambda: self.clock.t, self.clock.sleep), self.err, **extra)


def world(outcome: dict[str, tuple[str, str, str]] = GOOD, **kw: object) -> World:
    return World(Fleet(outcome, a="r1", b="r1", c="r0"), **kw)


# --- release_of --------------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "release"), [
    (STATE, "r1"),
    (PointerState(M1, 5, None, (Release("named-in-history", M1, "t", "x"),), 6),
     "named-in-history"),
    (PointerState(M2, 5, None, (Release("r1", M1, "t", "x"),), 6), "r2"),
    (PointerState(None, 0, None, (), 0), None),
    (PointerState("s3://b/r5/m.yml", 1, None, (), 0), "r5"),
    (PointerState("s3://b/only-one", 1, None, (), 0), "s3://b/only-one"),
    (PointerState("s3://b/a/r7/m.yml/", 1, None, (), 0), "r7"),
    (PointerState("s3://b/X/m.yml", 1, None, (), 0), "X"),
])
def test_the_pointers_release_comes_from_the_history_else_the_manifest_url(
        state: PointerState, release: str | None) -> None:
    assert release_of(state) == release


# --- refusing to move the pointer under a canary -----------------------------------------------

def test_a_push_is_refused_while_a_canary_is_in_flight_naming_it() -> None:
    w = world()
    refuse_if_canary(w.lock)
    w.lock.take(RECORD)
    with pytest.raises(CanaryError) as caught:
        refuse_if_canary(w.lock)
    assert str(caught.value) == (
        "a canary of r2 is in flight on a, b (by bob since 2026-01-02T00:00:00Z); finish it "
        "with `push --resume` or clear it with `push --abort`")


# --- start ---------------------------------------------------------------------------------------

def test_a_canary_needs_a_release_to_return_to() -> None:
    w = world(state=PointerState(None, 0, None, (), 0))
    uploads: list[int] = []
    with pytest.raises(CanaryError) as caught:
        start_canary(w.ports, R2, "1", 1.0, lambda: uploads.append(1))
    assert str(caught.value) == (
        "--canary needs a current release for the canary nodes to return to; nothing is "
        "deployed yet: push once without --canary")
    assert (uploads, w.consul.kv) == ([], {})


def test_start_records_the_canary_and_its_way_back_then_uploads() -> None:
    w = world()
    uploads: list[dict[str, object]] = []
    record, index = start_canary(w.ports, R2, "2", 30.0,
                                 lambda: uploads.append(dict(w.consul.kv)))
    assert record == CanaryRecord("r2", M2, M1, "r1", ("a", "b"), 30.0, R2.at, "bob")
    assert w.lock.read() == (record, index)
    assert len(uploads) == 1
    assert uploads[0] != {}, "the lock is taken before the upload"


@pytest.mark.parametrize("error", [RuntimeError("upload failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_upload_drops_the_lock(error: BaseException) -> None:
    w = world()

    def upload() -> PointerState:
        raise error
    with pytest.raises(type(error)):
        start_canary(w.ports, R2, "1", 1.0, upload)
    assert w.lock.read() == (None, 0)


# --- finish: promote or revert -------------------------------------------------------------------

def test_a_healthy_canary_moves_the_pointer_fires_to_all_and_drops_the_lock() -> None:
    w = world()
    index = w.lock.take(RECORD)
    assert finish_canary(w.ports, RECORD, index, 60) == "ev-all"
    assert w.fleet.fired == [(M2, ("a", "b"))]
    assert w.pointers.published == [(R2, STATE)]
    assert w.pointers.announced == [M2]
    assert w.lock.read() == (None, 0)
    assert w.err.getvalue() == (
        "canary:   r2 -> a, b (event ev-1)\n"
        # The bake runs on the injected clock: its time left, then the timeout's.
        "canary r2 [........................] 0/2  on r2, healthy for 1s  (0 s elapsed, bake "
        "1 s left, up to 1 min left)\n"
        "canary r2 [########################] 2/2  on r2, healthy for 1s  (1 s elapsed, up to "
        "59 s left)\n")
    assert w.clock.sleeps == [1.0]


def test_the_canary_polls_every_half_second_by_default() -> None:
    w = world(poll=None)
    finish_canary(w.ports, RECORD, w.lock.take(RECORD), 60)
    assert w.clock.sleeps == [0.5, 0.5]


def test_a_failing_canary_is_sent_back_and_the_pointer_stays() -> None:
    w = world(BROKEN)
    record = CanaryRecord("r2", M2, M1, "r1", ("a", "b"), 3.0, R2.at, R2.by)
    with pytest.raises(CanaryFailed) as caught:
        finish_canary(w.ports, record, w.lock.take(record), 60)
    assert str(caught.value) == (
        "canary of r2 failed: health check not passing for 3s on r2: a (critical, runs r2): "
        "500 broken; b (critical, runs r2): 500 broken. a, b went back to r1; the deploy "
        "pointer was not changed")
    assert w.fleet.fired == [(M2, ("a", "b")), (M1, ("a", "b"))]
    assert (w.pointers.published, w.pointers.announced) == ([], [])
    assert w.lock.read() == (None, 0)
    assert w.err.getvalue().endswith(
        "canary r2 [........................] 0/2  on r2, healthy for 3s  (0 s elapsed, up to "
        "1 min left)\n"
        "revert r1 [########################] 2/2  on r1, healthy  (0 s elapsed, up to 1 min "
        "left)\n")


def test_a_canary_that_never_reports_times_out_after_the_given_timeout() -> None:
    w = world({M1: ("r1", "passing", "")})
    with pytest.raises(CanaryFailed, match=(
            r"^canary of r2 failed: timed out after 7s waiting for r2: a \(passing, runs r1\): "
            r"no check output; b \(passing, runs r1\): no check output\. a, b went back to r1;")):
        finish_canary(w.ports, RECORD, w.lock.take(RECORD), 7)
    assert w.clock.t == 7


def test_a_pointer_moved_during_the_canary_is_not_overwritten() -> None:
    w = world()
    index = w.lock.take(RECORD)
    w.pointers.state = PointerState("s3://b/releases/shop/r3/manifest.yml", 9, None, (), 6)
    with pytest.raises(CanaryError) as caught:
        finish_canary(w.ports, RECORD, index, 60)
    assert type(caught.value) is CanaryError
    assert str(caught.value) == (
        "the pointer moved to s3://b/releases/shop/r3/manifest.yml during the canary (it named "
        f"{M1}); not promoting r2. The canary record stays: `push --abort` clears it")
    assert (w.pointers.published, w.pointers.announced) == ([], [])
    assert w.lock.read() == (RECORD, index)


@pytest.mark.parametrize(("current", "current_release"), [(None, None), (M1, None), (None, "r1")])
def test_revert_without_a_release_to_return_to_only_drops_the_lock(
        current: str | None, current_release: str | None) -> None:
    w = world(state=PointerState(None, 0, None, (), 0))  # the pointer is unset now
    record = CanaryRecord("r2", M2, current, current_release, ("a",), 1.0, "t", "bob")
    index = w.lock.take(record)
    assert revert(w.ports, record, index, 60) == (
        "there is no current release to send the canary nodes back to")
    assert w.lock.read() == (None, 0)
    assert w.fleet.fired == []


@pytest.mark.parametrize(("timeout", "waited"), [(600, REVERT_TIMEOUT), (30, 30)])
def test_a_revert_the_nodes_ignore_gives_up_after_at_most_two_minutes(timeout: float,
                                                                       waited: float) -> None:
    w = world({})
    w.fleet.nodes["a"] = w.fleet.nodes["b"] = ("r2", "passing", "")
    index = w.lock.take(RECORD)
    assert revert(w.ports, RECORD, index, timeout) == (
        f"a, b were sent back to r1 but did not all report it healthy (timed out after "
        f"{waited:.0f}s waiting for r1: a (passing, runs r2): no check output; b (passing, runs "
        "r2): no check output)")
    assert w.clock.t == waited
    assert set(w.clock.sleeps) == {1.0}
    assert w.fleet.fired == [(M1, ("a", "b"))]
    assert w.lock.read() == (None, 0)
    # The revert's own timeout, at most two minutes, counts down; a heartbeat every 30 s.
    lines = w.err.getvalue().splitlines()
    assert lines[0] == ("revert r1 [........................] 0/2  on r1, healthy  (0 s elapsed, "
                        f"up to {duration(waited)} left)")
    assert [line.split("(")[1].split(" elapsed")[0] for line in lines] == [
        duration(t) for t in range(0, int(waited) + 1, 30)]


# --- after the pointer moved ---------------------------------------------------------------------

def test_wait_fleet_returns_once_every_node_runs_the_release_for_the_bake() -> None:
    w = World(Fleet(GOOD, a="r2", b="r2"))
    wait_fleet(w.ports, "r2", 60, bake=5)
    assert w.clock.t == 5
    assert w.err.getvalue() == (
        "rollout r2 [........................] 0/2  on r2, healthy for 5s  (0 s elapsed, bake "
        "5 s left, up to 1 min left)\n"
        "rollout r2 [########################] 2/2  on r2, healthy for 5s  (5 s elapsed, up to "
        "55 s left)\n")


def test_wait_fleet_without_bake_returns_at_once() -> None:
    w = World(Fleet(GOOD, a="r2"))
    wait_fleet(w.ports, "r2", 60)
    assert w.clock.t == 0
    assert w.err.getvalue() == ("rollout r2 [########################] 1/1  on r2, healthy  "
                                "(0 s elapsed, up to 1 min left)\n")


def test_wait_fleet_with_no_node_of_the_stack_never_reports_success() -> None:
    # Nodes refused registration by ACLs, or another stack's nodes filtered out: zero nodes of
    # this stack is not "every node runs r2, healthy".
    w = World(Fleet(GOOD))
    with pytest.raises(RolloutUnhealthy) as caught:
        wait_fleet(w.ports, "r2", 60)
    assert str(caught.value).startswith("the pointer names r2, but no node of this stack is "
                                        "in service (no node is registered in the service")


def test_wait_fleet_says_the_pointer_moved_but_the_fleet_is_not_healthy() -> None:
    w = World(Fleet(GOOD, a="r1"), poll=2.0)
    with pytest.raises(RolloutUnhealthy) as caught:
        wait_fleet(w.ports, "r2", 3)
    assert str(caught.value) == (
        "the pointer names r2, but the fleet is not healthy on it: timed out after 3s waiting "
        "for r2: a (passing, runs r1): no check output. Roll back with `python -m deploy "
        "rollback`")
    assert w.clock.sleeps == [2.0, 2.0]


def test_wait_fleet_that_loses_consul_says_where_to_look_and_ends_the_bar() -> None:
    w = World(Fleet(GOOD, a="r1"), err=Terminal())
    lost = FleetError("could not ask Consul where the nodes stand: refused")
    calls: list[int] = []

    def fleet() -> list[NodeStatus]:
        calls.append(1)
        if len(calls) > 1:
            raise lost
        return w.fleet.status()
    ports = Ports(w.pointers, w.lock, fleet, w.fleet.fire_to, w.ports.clock, w.err)
    with pytest.raises(RolloutUnhealthy) as caught:
        wait_fleet(ports, "r2", 60)
    assert str(caught.value) == (
        "the pointer names r2, but the rollout could not be followed: could not ask Consul "
        "where the nodes stand: refused; see `python -m deploy status`")
    assert caught.value.__cause__ is lost
    assert w.err.getvalue().endswith("0/1  on r2, healthy  (0 s elapsed, up to 1 min left)\n")


# --- push --resume / --abort ---------------------------------------------------------------------

def test_resume_or_abort_without_a_canary_says_there_is_none() -> None:
    with pytest.raises(CanaryError) as caught:
        resume_or_abort(world().ports, abort=False, timeout=60, out=io.StringIO())
    assert str(caught.value) == "no canary is in flight: nothing to resume or abort"


def test_abort_sends_the_canary_back_and_returns_nothing() -> None:
    w = world()
    w.fleet.nodes["a"] = w.fleet.nodes["b"] = ("r2", "passing", "")
    w.lock.take(RECORD)
    out = io.StringIO()
    assert resume_or_abort(w.ports, abort=True, timeout=60, out=out) is None
    assert out.getvalue() == "aborted:  a, b went back to r1\n"
    assert w.fleet.fired == [(M1, ("a", "b"))]
    assert w.pointers.published == []
    assert w.lock.read() == (None, 0)


def test_resume_finishes_the_canary_and_returns_its_release() -> None:
    w = world()
    w.lock.take(RECORD)
    out = io.StringIO()
    assert resume_or_abort(w.ports, abort=False, timeout=60, out=out) == "r2"
    assert out.getvalue() == "event:    ev-all\n"
    assert w.pointers.published == [(R2, STATE)]


# --- status --------------------------------------------------------------------------------------

def test_status_lists_the_nodes_then_explains_a_canary_in_flight() -> None:
    w = World(Fleet(GOOD, a="r1", b="r2"))
    table = ["nodes: 2 (2 healthy)",
             "   a  r1                        passing       since t",
             " ! b  r2                        passing       since t"]
    assert fleet_lines(w.ports, STATE, "production") == table
    w.lock.take(RECORD)
    assert fleet_lines(w.ports, STATE, "production") == [
        *table,
        "canary in flight: r2 on a, b since 2026-01-02T00:00:00Z (by bob); the pointer still "
        "names r1",
        "  finish it: python -m deploy push --stack production --resume",
        "  abandon it (the canary nodes go back to r1): python -m deploy push --stack "
        "production --abort"]


def test_status_wait_follows_only_the_healthy_nodes() -> None:
    w = World(Fleet(GOOD, a="r2", b="r1"))
    w.fleet.nodes["b"] = ("r1", "critical", "down")
    out = io.StringIO()
    follow(w.ports, "r2", 60, out)
    assert out.getvalue() == "every healthy node runs r2\n"
    assert w.err.getvalue() == ("rollout r2 [########################] 1/1  on r2, healthy  "
                                "(0 s elapsed, up to 1 min left)\n")


def test_status_wait_that_times_out_names_the_nodes_behind() -> None:
    w = World(Fleet(GOOD, a="r1"), poll=4.0)
    out = io.StringIO()
    with pytest.raises(RolloutUnhealthy) as caught:
        follow(w.ports, "r2", 6, out)
    assert str(caught.value) == ("timed out after 6s waiting for r2: a (passing, runs r1): no "
                                 "check output")
    assert out.getvalue() == ""
    assert w.clock.sleeps == [4.0, 4.0]


# --- on a terminal each bar is ended before the next line ---------------------------------------

def test_a_failed_canary_on_a_terminal_ends_each_bar_before_the_next() -> None:
    w = world(BROKEN, err=Terminal())
    record = CanaryRecord("r2", M2, M1, "r1", ("a", "b"), 1.0, R2.at, R2.by)
    with pytest.raises(CanaryFailed):
        finish_canary(w.ports, record, w.lock.take(record), 60)
    assert w.err.getvalue() == (
        "canary:   r2 -> a, b (event ev-1)\n"
        "\r\x1b[Kcanary r2 [........................] 0/2  on r2, healthy for 1s  (0 s elapsed, "
        "up to 1 min left)\n"
        "\r\x1b[Krevert r1 [########################] 2/2  on r1, healthy  (0 s elapsed, up to "
        "1 min left)\n")


def test_a_promoted_canary_on_a_terminal_ends_its_bar() -> None:
    w = world(err=Terminal())
    finish_canary(w.ports, RECORD, w.lock.take(RECORD), 60)
    assert w.err.getvalue().endswith("2/2  on r2, healthy for 1s  (1 s elapsed, up to 59 s "
                                     "left)\n")


@pytest.mark.parametrize("flow", ["wait_fleet", "follow"])
def test_a_finished_rollout_on_a_terminal_ends_its_bar(flow: str) -> None:
    w = World(Fleet(GOOD, a="r2"), err=Terminal())
    if flow == "wait_fleet":
        wait_fleet(w.ports, "r2", 60)
    else:
        follow(w.ports, "r2", 60, io.StringIO())
    assert w.err.getvalue() == ("\r\x1b[Krollout r2 [########################] 1/1  on r2, "
                                "healthy  (0 s elapsed, up to 1 min left)\n")


def test_a_failed_upload_drops_only_the_lock_it_took() -> None:
    w = world()
    other = CanaryRecord("r9", "s3://b/r9/m", M1, "r1", ("c",), 1.0, "t", "carol")

    def upload() -> PointerState:
        # Someone cleared this push's record and started their own canary meanwhile.
        w.consul.kv.clear()
        w.lock.take(other)
        raise RuntimeError("upload failed")
    with pytest.raises(RuntimeError):
        start_canary(w.ports, R2, "1", 1.0, upload)
    assert w.lock.read()[0] == other


# --- --abort after the pointer moved -----------------------------------------------------------

M3 = "s3://b/releases/shop/r3/manifest.yml"
MOVED = PointerState(M3, 9, M1, (Release("r3", M3, "t3", "eve"), Release("r1", M1, "t", "x")), 10)


def test_abort_after_the_pointer_moved_sends_the_canary_nodes_to_the_pointer_as_it_is_now(
        ) -> None:
    w = world({**GOOD, M3: ("r3", "passing", "")}, state=MOVED)
    record = CanaryRecord("r2", M2, M1, "r1", ("a",), 1.0, "t", "bob")
    index = w.lock.take(record)
    out = io.StringIO()
    assert resume_or_abort(w.ports, abort=True, timeout=60, out=out) is None
    assert w.fleet.fired == [(M3, ("a",))]  # not M1, which the rest of the fleet left
    assert "a went back to r3" in out.getvalue()
    assert w.lock.read() == (None, 0)
    assert index


def test_status_says_the_pointer_moved_under_a_canary_and_where_abort_sends_it() -> None:
    w = world(state=MOVED)
    w.lock.take(CanaryRecord("r2", M2, M1, "r1", ("a",), 1.0, "t", "bob"))
    lines = fleet_lines(w.ports, MOVED, "prod")
    assert "the pointer has moved since from r1 to r3" in lines[-2]
    assert lines[-1].startswith("  abandon it (the canary nodes go to r3)")
    assert not any("still names" in line or "--resume" in line for line in lines)
