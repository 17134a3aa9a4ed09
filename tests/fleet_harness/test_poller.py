"""The scenario pollers record what the server held when the watched block ended, however slow
their thread: a canary run once lost the last node's report because the deploy returned between
two polls, and the test read a node that had switched as one that never did."""

from __future__ import annotations

import time

from tests.fleet_harness.deploy_view import Poller


class Counter(Poller):
    INTERVAL = 3600.0  # the thread looks once at the start, then never again within the block

    def __init__(self, source: list[int]) -> None:
        super().__init__()
        self.source = source
        self.seen: list[int] = []

    def _look(self, now: float) -> None:
        if self.source[0] < 0:
            raise OSError("timed out")
        self.seen.append(self.source[0])


def test_the_last_value_before_the_block_ends_is_recorded() -> None:
    source = [1]
    with Counter(source) as poller:
        deadline = time.monotonic() + 5
        while not poller.seen and time.monotonic() < deadline:
            time.sleep(0.01)
        source[0] = 2  # what the deploy saw last, between two polls
    assert poller.seen[0] == 1
    assert poller.seen[-1] == 2


def test_a_failed_look_is_kept_as_an_error_not_raised() -> None:
    source = [-1]
    with Counter(source) as poller:
        pass
    assert poller.errors
    assert all(e == "timed out" for e in poller.errors)
    assert poller.seen == []
