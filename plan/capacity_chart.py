"""A Mermaid `xychart-beta` of capacity over the first 30 minutes, for the PR job summary.

GitHub renders Mermaid blocks in Markdown, job summaries included. xychart-beta draws no legend,
so each policy gets its own chart with two lines: the worst case (lower) and the best (upper).
"""

from __future__ import annotations

from collections.abc import Sequence

from plan import capacity as cap

MINUTES = 30


def series(times: Sequence[int], min_size: int, minutes: int = MINUTES) -> list[int]:
    """Instances in service at each whole minute 0..minutes."""
    return [cap.capacity_at(list(times), min_size, m * 60) for m in range(minutes + 1)]


def mermaid(title: str, curves: tuple[Sequence[int], Sequence[int]], min_size: int,
            max_size: int) -> list[str]:
    """A fenced ```mermaid block: minutes after the spike against instances in service."""
    worst, best = (series(c, min_size) for c in curves)
    # Mermaid's quoted strings end at a double quote; a label never needs one.
    label = title.replace('"', "'")
    return ["```mermaid", "xychart-beta",
            f'    title "{label}: in service, worst and best case"',
            f"    x-axis \"minutes after the spike\" [{', '.join(map(str, range(MINUTES + 1)))}]",
            f'    y-axis "instances" 0 --> {max_size}',
            f"    line [{', '.join(map(str, worst))}]",
            f"    line [{', '.join(map(str, best))}]",
            "```"]
