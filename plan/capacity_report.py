"""`python -m plan STACK --capacity [--compare OTHER]`: the capacity report as Markdown.

Reads the committed stack file into settings (no program run, no cloud) and prints what
plan/capacity.py's formulas make of them, with the price table's date and the assumptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.settings import STACKS, StackSettings, parse_settings, stack_file_kv_keys
from mock_engine import ROOT, stack_config
from plan import capacity as cap

PRICES = Path(__file__).resolve().parent / "prices.json"
CHECKPOINTS = (5, 10, 30)  # minutes after the spike


@dataclass(frozen=True)
class Row:
    label: str
    reaction: tuple[int, int]  # (worst, best) seconds to the first new instance in service
    at: tuple[int, ...]  # capacity in service at each checkpoint
    scale_in: int


@dataclass(frozen=True)
class Report:
    stack: str
    settings: StackSettings
    rows: list[Row]
    floor: float | None
    ceiling: float | None
    price_note: str
    notes: list[str]


def load(stack: str, root: Path = ROOT) -> StackSettings:
    """The stack's committed settings, validated as the program would (placeholder secrets)."""
    config, secrets = stack_config(stack, root=root)
    others = {s: stack_file_kv_keys(root / f"Pulumi.{s}.yaml") for s in STACKS
              if s != stack and (root / f"Pulumi.{s}.yaml").exists()}
    return parse_settings(stack, config, secrets, others)


def _minutes(seconds: int) -> str:
    m, s = divmod(seconds, 60)
    return f"{m} min {s:02d} s" if s else f"{m} min"


def report(stack: str, settings: StackSettings, prices: dict[str, Any],
           a: cap.Assumptions | None = None) -> Report:
    a = a or cap.Assumptions()
    f, c = settings.fleet, settings.capacity
    pool = cap.warm_pool_size(c.warm_pool, f.min_size, f.max_size)
    launch = cap.launch_seconds(c, pool, a)
    ready = cap.ready_after_launch()
    rows, curves = [], []
    for policy in cap.policies(settings, a):
        times = cap.timeline(policy, f.min_size, f.max_size, launch, ready)
        curves.append(times)
        rows.append(_row(policy.label, times, policy.detection, launch, ready, f.min_size,
                         policy.scale_in))
    if len(rows) > 1:
        both = cap.combined(curves)
        best = min(r.reaction[1] for r in rows)
        rows.append(Row("All policies together", (both[0] if both else 0, best),
                        tuple(cap.capacity_at(both, f.min_size, m * 60) for m in CHECKPOINTS),
                        # Each policy's low alarm fires on its own; the first one takes the group
                        # down, so the fastest scale-in is the group's (AWS resolves policies only
                        # when they fire at the same moment: as-scale-based-on-demand.html).
                        min(r.scale_in for r in rows)))

    region = prices.get("onDemandHourly", {}).get(settings.region, {})
    reference = c.mixed.instance_types[0] if c.mixed and c.mixed.instance_types \
        else f.instance_type
    price = region.get(reference)
    floor = ceiling = None
    price_note = (f"no price for {reference} in {settings.region} in plan/prices.json "
                  f"(dated {prices.get('date')}): add it")
    if price is not None:
        gb_month = prices.get("ebsGp3MonthlyPerGb", {}).get(settings.region, 0.0)
        pool_floor = cap.warm_pool_hourly(pool, f.root_volume_size, gb_month)
        pool_ceiling = cap.warm_pool_hourly(c.warm_pool.min_size if c.warm_pool else 0,
                                            f.root_volume_size, gb_month)
        floor = cap.hourly_cost(f.min_size, price, c.mixed) + pool_floor
        ceiling = cap.hourly_cost(f.max_size, price, c.mixed) + pool_ceiling
        price_note = (f"{reference} on demand ${price:g}/h in {settings.region}, plan/prices.json "
                      f"dated {prices.get('date')}")
    return Report(stack, settings, rows, floor, ceiling, price_note, _notes(settings, pool, a))


def _row(label: str, times: list[int], detection: tuple[int, int],
         launch: Callable[[int], int], ready: int,
         min_size: int, scale_in: int) -> Row:
    first_best = detection[1] + launch(0) + ready
    return Row(label, (times[0] if times else 0, first_best),
               tuple(cap.capacity_at(times, min_size, m * 60) for m in CHECKPOINTS), scale_in)


def _notes(settings: StackSettings, pool: int, a: cap.Assumptions) -> list[str]:
    s, c = settings.scaling, settings.capacity
    notes = []
    if c.warm_pool:
        notes.append(f"Warm pool: {pool} instance(s) {c.warm_pool.state}, launching in "
                     f"{a.launch[c.warm_pool.state]} s instead of {a.launch['cold']} s.")
    if c.mixed:
        spot = c.mixed.uses_spot(settings.fleet.max_size)
        notes.append(f"Mixed instances: on-demand base {c.mixed.on_demand_base}, "
                     f"{c.mixed.on_demand_percentage}% on demand above it"
                     + (f", spot {c.mixed.spot_strategy}" if spot else "") + ".")
    if s.predictive:
        notes.append("Predictive scaling " + (
            "forecasts only: no capacity change until mode is ForecastAndScale."
            if s.predictive.mode == "ForecastOnly" else
            f"launches forecast capacity {s.predictive.scheduling_buffer_time} s ahead: "
            "recurring load finds it in service; an unforecast spike waits as above."))
    for action in s.schedules:
        sizes = ", ".join(f"{k} {v}" for k, v in (("min", action.min_size),
                                                   ("max", action.max_size),
                                                   ("desired", action.desired_capacity))
                          if v is not None)
        notes.append(f"Scheduled `{action.name}`: `{action.cron}` ({action.time_zone}): {sizes}.")
    return notes


ASSUMPTIONS = ("Worst case: a sustained spike needing the whole fleet starts at t = 0, just after "
               "an alarm period began, with the group at minSize. Estimates: datapoint delay "
               "{d} s, launch {cold} s cold, app healthy after 2 x 15 s target-group checks. "
               "Formulas and sources: docs/capacity.md.")


def render(r: Report) -> str:
    f = r.settings.fleet
    a = cap.Assumptions()
    lines = [f"### Capacity of `{r.stack}`: {f.min_size}..{f.max_size} x {f.instance_type} in "
             f"{r.settings.region}", "",
             "| policy | first new capacity in service (worst / best) | in service after "
             + " / ".join(f"{m} min" for m in CHECKPOINTS) + " | back to min after the load |",
             "|---|---|---|---|"]
    for row in r.rows:
        lines.append(f"| {row.label} | {_minutes(row.reaction[0])} / {_minutes(row.reaction[1])}"
                     f" | {' / '.join(str(n) for n in row.at)} | {_minutes(row.scale_in)} |")
    lines.append("")
    if r.floor is not None and r.ceiling is not None:
        lines.append(f"Cost per hour: floor ${r.floor:.4f}, ceiling ${r.ceiling:.4f} "
                     f"({r.price_note}).")
    else:
        lines.append(f"Cost per hour: unknown ({r.price_note}).")
    lines += [f"- {n}" for n in r.notes]
    lines += ["", ASSUMPTIONS.format(d=a.metric_delay, cold=a.launch["cold"]), ""]
    return "\n".join(lines)


def render_compare(left: Report, right: Report) -> str:
    """The headline numbers of two stacks side by side (the fastest policy of each)."""
    def head(r: Report) -> Row:
        return r.rows[-1]

    def cost(v: float | None) -> str:
        return "unknown" if v is None else f"${v:.4f}"

    lo, ro = head(left), head(right)
    rows = [
        ("policies", "; ".join(x.label for x in left.rows if x is not lo or len(left.rows) == 1),
         "; ".join(x.label for x in right.rows if x is not ro or len(right.rows) == 1)),
        ("size", f"{left.settings.fleet.min_size}..{left.settings.fleet.max_size} x "
                 f"{left.settings.fleet.instance_type}",
         f"{right.settings.fleet.min_size}..{right.settings.fleet.max_size} x "
         f"{right.settings.fleet.instance_type}"),
        ("first new capacity (worst)", _minutes(lo.reaction[0]), _minutes(ro.reaction[0])),
        ("first new capacity (best)", _minutes(lo.reaction[1]), _minutes(ro.reaction[1])),
        *[(f"in service after {m} min", str(lo.at[i]), str(ro.at[i]))
          for i, m in enumerate(CHECKPOINTS)],
        ("back to min after the load", _minutes(lo.scale_in), _minutes(ro.scale_in)),
        ("cost floor per hour", cost(left.floor), cost(right.floor)),
        ("cost ceiling per hour", cost(left.ceiling), cost(right.ceiling)),
    ]
    lines = [f"### Capacity: `{left.stack}` and `{right.stack}`", "",
             f"| | `{left.stack}` | `{right.stack}` |", "|---|---|---|"]
    lines += [f"| {k} | {a} | {b} |" for k, a, b in rows]
    a = cap.Assumptions()
    lines += ["", ASSUMPTIONS.format(d=a.metric_delay, cold=a.launch["cold"]), ""]
    return "\n".join(lines)


def capacity_markdown(stacks: Sequence[str], root: Path = ROOT) -> str:
    prices = json.loads(PRICES.read_text())
    reports = [report(s, load(s, root), prices) for s in stacks]
    if len(reports) == 2:
        return render_compare(*reports)
    return render(reports[0])
