"""The upload's progress line: bytes, percent and rate, with the time elapsed and an estimate of
the time left from the rate so far, on an injected clock."""

from __future__ import annotations

import io

from deploy.s3 import Progress

MIB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def now(self) -> float:
        return self.t


def test_each_line_says_the_time_elapsed_and_about_how_long_is_left() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress("webapp r7", 100 * MIB, out, now=clock.now)
    clock.t += 10
    progress.advance(20 * MIB)  # 2 MiB/s: 80 MiB to go take about 40 s
    clock.t += 70
    progress.total_known(90 * MIB)
    progress.advance(70 * MIB)
    assert out.getvalue() == (
        "uploading webapp r7: 20.0 MiB / ~100.0 MiB (20%), 2.0 MiB/s, 10 s elapsed, about "
        "40 s left\n"
        "uploading webapp r7: 90.0 MiB / 90.0 MiB (100%), 1.1 MiB/s, 1 min 20 s elapsed\n")
