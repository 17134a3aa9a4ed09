"""How long an instance refresh takes and how low in-service capacity goes, from its settings.

An estimate, as AWS batches it: at most (max - min)% of desired is replaced at a time (at least
one instance), checkpoints split the roll, and each batch takes one warmup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Estimate:
    batches: int
    seconds_per_batch: int
    total_seconds: int
    lowest_in_service: int

    def text(self, desired: int) -> str:
        return (f"about {self.batches} batch(es) of ~{self.seconds_per_batch // 60} min, "
                f"~{math.ceil(self.total_seconds / 60)} min in all; lowest in service "
                f"{self.lowest_in_service} of {desired}")


def estimate(desired: int, min_pct: int, max_pct: int, warmup: int,
             checkpoints: Sequence[int] = (), checkpoint_delay: int = 0) -> Estimate:
    batch = min(desired, max(1, desired * (max_pct - min_pct) // 100))
    extra = desired * (max_pct - 100) // 100
    marks = [math.ceil(desired * p / 100) for p in (checkpoints or [100])]
    # No instances (desired 0): no segment, so no batch; nothing divides by ``batch``.
    segments = [b - a for a, b in pairwise([0, *marks]) if b > a]
    batches = sum(math.ceil(s / batch) for s in segments)
    pauses = max(0, len(segments) - 1) * checkpoint_delay
    return Estimate(batches=batches, seconds_per_batch=warmup,
                    total_seconds=batches * warmup + pauses,
                    lowest_in_service=desired - max(0, batch - extra))
