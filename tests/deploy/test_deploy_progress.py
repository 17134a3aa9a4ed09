"""The rollout progress bar: redrawn in place on a terminal, one line per change elsewhere, with
the elapsed time, the time left before the timeout and a heartbeat line every 30 s when nothing
changes on a pipe (CI), all on an injected clock."""

from __future__ import annotations

import io

from deploy.progress import HEARTBEAT, RolloutProgress, duration


class Terminal(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        self.flushes += 1


class Pipe(Terminal):
    def isatty(self) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def test_a_pipe_gets_one_line_per_change_with_elapsed_and_time_left() -> None:
    out, clock = Pipe(), Clock()
    bar = RolloutProgress("rollout r2", out, now=clock.now, timeout=600)
    bar.update(0, 3, "on r2, healthy")
    clock.t += 5
    bar.update(0, 3, "on r2, healthy")  # nothing changed, no heartbeat due: no line
    clock.t += 7.9
    bar.update(1, 3, "on r2, healthy")
    clock.t += 61
    bar.update(3, 3)
    bar.finish()
    assert out.getvalue() == (
        "rollout r2 [........................] 0/3  on r2, healthy  (0 s elapsed, up to "
        "10 min left)\n"
        "rollout r2 [########................] 1/3  on r2, healthy  (12 s elapsed, up to "
        "9 min 48 s left)\n"
        "rollout r2 [########################] 3/3  (1 min 13 s elapsed, up to 8 min 47 s "
        "left)\n")
    assert out.flushes == 3


def test_a_pipe_gets_a_heartbeat_every_30_s_while_nothing_changes() -> None:
    out, clock = Pipe(), Clock()
    bar = RolloutProgress("canary r2", out, now=clock.now, timeout=100)
    bar.update(1, 2)
    for _ in range(int(2 * HEARTBEAT)):  # a poll a second for a minute
        clock.t += 1
        bar.update(1, 2)
    lines = out.getvalue().splitlines()
    assert [line.split("(")[1] for line in lines] == [
        "0 s elapsed, up to 1 min 40 s left)", "30 s elapsed, up to 1 min 10 s left)",
        "1 min elapsed, up to 40 s left)"]
    clock.t += 100  # past the timeout: never a negative time left
    bar.update(1, 2)
    assert out.getvalue().endswith("(2 min 40 s elapsed, up to 0 s left)\n")


def test_bake_time_left_is_shown_without_counting_as_a_change() -> None:
    out, clock = Pipe(), Clock()
    bar = RolloutProgress("canary r2", out, now=clock.now)
    bar.update(0, 1, "on r2, healthy for 60s", bake_left=60)
    clock.t += 10
    bar.update(0, 1, "on r2, healthy for 60s", bake_left=50)
    assert out.getvalue() == ("canary r2 [........................] 0/1  on r2, healthy for "
                              "60s  (0 s elapsed, bake 1 min left)\n")


def test_a_terminal_redraws_the_line_in_place_as_the_clock_moves_and_ends_it_at_finish(
) -> None:
    out, clock = Terminal(), Clock()
    bar = RolloutProgress("canary r2", out, now=clock.now, timeout=60)
    bar.update(1, 2, "on r2")
    bar.update(1, 2, "on r2")  # same line: not redrawn
    clock.t += 1
    bar.update(1, 2, "on r2")  # the elapsed time moved: redrawn
    bar.update(2, 2, "on r2")
    assert out.getvalue() == (
        "\r\x1b[Kcanary r2 [############............] 1/2  on r2  (0 s elapsed, up to 1 min left)"
        "\r\x1b[Kcanary r2 [############............] 1/2  on r2  (1 s elapsed, up to 59 s left)"
        "\r\x1b[Kcanary r2 [########################] 2/2  on r2  (1 s elapsed, up to 59 s left)")
    assert out.flushes == 3
    bar.finish()
    assert out.getvalue().endswith("59 s left)\n")
    assert out.flushes == 4


def test_the_bar_rounds_down_and_an_empty_fleet_draws_an_empty_bar() -> None:
    out, clock = Pipe(), Clock()
    bar = RolloutProgress("x", out, now=clock.now)
    bar.update(2, 3)
    bar.update(0, 0)
    assert out.getvalue() == ("x [################........] 2/3  (0 s elapsed)\n"
                              "x [........................] 0/0  (0 s elapsed)\n")


def test_finish_on_a_terminal_without_a_drawn_line_writes_nothing() -> None:
    out = Terminal()
    RolloutProgress("x", out).finish()
    assert out.getvalue() == ""
    assert out.flushes == 0


def test_elapsed_rounds_down_and_time_left_rounds_up() -> None:
    assert [duration(s) for s in (0, 0.9, 59.99, 60, 61, 600, -5)] == [
        "0 s", "0 s", "59 s", "1 min", "1 min 01 s", "10 min", "0 s"]
    assert [duration(s, up=True) for s in (0, 0.1, 59.01, 60, -5)] == [
        "0 s", "1 s", "1 min", "1 min", "0 s"]
