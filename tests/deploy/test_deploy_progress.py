"""The rollout progress bar: redrawn in place on a terminal, one line per change elsewhere."""

from __future__ import annotations

import io

from deploy.progress import RolloutProgress


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


def test_a_pipe_gets_one_line_per_change_and_nothing_at_finish() -> None:
    out = Pipe()
    bar = RolloutProgress("rollout r2", out)
    bar.update(0, 3, "on r2, healthy")
    bar.update(0, 3, "on r2, healthy")
    bar.update(1, 3, "on r2, healthy")
    bar.update(3, 3)
    bar.finish()
    assert out.getvalue() == (
        "rollout r2 [........................] 0/3  on r2, healthy\n"
        "rollout r2 [########................] 1/3  on r2, healthy\n"
        "rollout r2 [########################] 3/3\n")
    assert out.flushes == 3


def test_a_terminal_redraws_the_line_in_place_and_ends_it_at_finish() -> None:
    out = Terminal()
    bar = RolloutProgress("canary r2", out)
    bar.update(1, 2, "on r2")
    bar.update(1, 2, "on r2")
    bar.update(2, 2, "on r2")
    assert out.getvalue() == ("\r\x1b[Kcanary r2 [############............] 1/2  on r2"
                              "\r\x1b[Kcanary r2 [########################] 2/2  on r2")
    assert out.flushes == 2
    bar.finish()
    assert out.getvalue().endswith("2/2  on r2\n")
    assert out.flushes == 3


def test_the_bar_rounds_down_and_an_empty_fleet_draws_an_empty_bar() -> None:
    out = Pipe()
    bar = RolloutProgress("x", out)
    bar.update(2, 3)
    bar.update(0, 0)
    assert out.getvalue() == ("x [################........] 2/3\n"
                              "x [........................] 0/0\n")


def test_finish_on_a_terminal_without_a_drawn_line_writes_nothing() -> None:
    out = Terminal()
    RolloutProgress("x", out).finish()
    assert out.getvalue() == ""
    assert out.flushes == 0
