"""`python -m plan STACK --capacity [--compare OTHER | --base REF]`: the capacity report.

Reads the committed stack file into settings (no program run, no cloud) and prints what
plan/capacity.py's formulas make of them, as ranges from the best case to the worst, with the
price table's date and every assumption and its source: Markdown (with a Mermaid chart per
policy) for the PR job summary, plain text for a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.settings import STACKS, StackSettings, parse_settings, stack_file_kv_keys
from mock_engine import ROOT, stack_config
from plan import capacity as cap
from plan.capacity_chart import mermaid

PRICES = Path(__file__).resolve().parent / "prices.json"
CHECKPOINTS = (5, 10, 30)  # minutes after the spike


Span = tuple[int, int]  # (best, worst) seconds, or (worst, best) instance counts


@dataclass(frozen=True)
class Row:
    label: str
    reaction: Span  # (best, worst) seconds to the first new instance in service
    at: tuple[tuple[int, int], ...]  # (worst, best) instances in service at each checkpoint
    scale_in: Span  # (best, worst) seconds back to minSize after the load
    curves: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    """(worst, best): second at which each added instance is in service."""


@dataclass(frozen=True)
class Report:
    stack: str
    settings: StackSettings
    rows: list[Row]
    floor: float | None
    ceiling: float | None
    price_note: str
    notes: list[str]
    assumptions: cap.Assumptions = field(default_factory=cap.Assumptions)


def load(stack: str, root: Path = ROOT) -> StackSettings:
    """The stack's committed settings, validated as the program would (placeholder secrets)."""
    config, secrets = stack_config(stack, root=root)
    others = {s: stack_file_kv_keys(root / f"Pulumi.{s}.yaml") for s in STACKS
              if s != stack and (root / f"Pulumi.{s}.yaml").exists()}
    return parse_settings(stack, config, secrets, others)


def _minutes(seconds: int) -> str:
    m, s = divmod(seconds, 60)
    return f"{m} min {s:02d} s" if s else f"{m} min"


def _span(seconds: Span) -> str:
    """``7 min 15 s to 14 min``: best to worst; one figure when both ends agree."""
    best, worst = seconds
    return _minutes(best) if best == worst else f"{_minutes(best)} to {_minutes(worst)}"


def _count(n: tuple[int, int]) -> str:
    """Instances in service, worst-best."""
    return str(n[0]) if n[0] == n[1] else f"{n[0]}-{n[1]}"


def _at(curves: Sequence[Sequence[int]], min_size: int) -> tuple[tuple[int, int], ...]:
    worst, best = curves
    return tuple((cap.capacity_at(list(worst), min_size, m * 60),
                  cap.capacity_at(list(best), min_size, m * 60)) for m in CHECKPOINTS)


def report(stack: str, settings: StackSettings, prices: dict[str, Any],
           a: cap.Assumptions | None = None) -> Report:
    a = a or cap.Assumptions()
    f, c = settings.fleet, settings.capacity
    pool = cap.warm_pool_size(c.warm_pool, f.min_size, f.max_size)
    ends = (a.case(True), a.case(False))  # (worst, best), in the order Row.curves keeps
    per_case = [cap.policies(settings, end) for end in ends]
    rows = []
    for worst, best in zip(*per_case, strict=True):
        curves = tuple(tuple(cap.timeline(p, f.min_size, f.max_size,
                                          cap.launch_seconds(c, pool, end), end.ready))
                       for p, end in ((worst, ends[0]), (best, ends[1])))
        rows.append(Row(worst.label, (_first(curves[1]), _first(curves[0])),
                        _at(curves, f.min_size), (best.scale_in, worst.scale_in),
                        (curves[0], curves[1])))
    if len(rows) > 1:
        both = (tuple(cap.combined([list(r.curves[0]) for r in rows])),
                tuple(cap.combined([list(r.curves[1]) for r in rows])))
        # Each policy's low alarm fires on its own; the first one takes the group down, so the
        # fastest scale-in is the group's (AWS resolves policies only when they fire at the same
        # moment: as-scale-based-on-demand.html).
        rows.append(Row("All policies together", (_first(both[1]), _first(both[0])),
                        _at(both, f.min_size), (min(r.scale_in[0] for r in rows),
                                                min(r.scale_in[1] for r in rows)), both))

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
    return Report(stack, settings, rows, floor, ceiling, price_note, _notes(settings, pool, a),
                  a)


def _first(times: Sequence[int]) -> int:
    """Seconds to the first new instance in service; 0 when the fleet cannot grow."""
    return times[0] if times else 0


def _notes(settings: StackSettings, pool: int, a: cap.Assumptions) -> list[str]:
    s, c = settings.scaling, settings.capacity
    notes = []
    if s.period < cap.MINUTE:
        notes.append(f"Alarm period {s.period} s: a high-resolution alarm, evaluated every "
                     f"{cap.evaluation_interval(s.period)} s. EC2's CPUUtilization has one "
                     "datapoint a minute at best, so it needs a metric published at one-second "
                     "resolution, or it lapses into INSUFFICIENT_DATA (PutMetricAlarm, Period).")
    if c.warm_pool:
        cold = a.case(False).launch["cold"], a.case(True).launch["cold"]
        notes.append(f"Warm pool: {pool} instance(s) {c.warm_pool.state}, launching in "
                     f"{a.warm[c.warm_pool.state]} s instead of {cold[0]}-{cold[1]} s. The warm "
                     "times are estimates (AWS publishes none); that an instance leaving the "
                     "pool pulls the current release and completes its launch hook is run on "
                     "the fleet harness (tests/fleet_harness/test_scenario_warm_pool.py).")
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


SCENARIO = ("Scenario: at t = 0 a sustained spike needing the whole fleet starts, with the group "
            "at minSize. Times run from the best case to the worst, instance counts from the "
            "worst to the best. Formulas: docs/capacity.md.")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> list[str]:
    """A Markdown table, or on a terminal the same cells in aligned columns."""
    if markdown:
        return [f"| {' | '.join(header)} |", "|" + "---|" * len(header),
                *(f"| {' | '.join(row)} |" for row in rows)]
    cells = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
            for r in cells]


def _code(text: str, markdown: bool) -> str:
    return f"`{text}`" if markdown else text


def _cost(r: Report) -> str:
    if r.floor is not None and r.ceiling is not None:
        return f"Cost per hour: floor ${r.floor:.4f}, ceiling ${r.ceiling:.4f} ({r.price_note})."
    return f"Cost per hour: unknown ({r.price_note})."


def _assumptions(a: cap.Assumptions, markdown: bool) -> list[str]:
    found = cap.assumption_lines(a)
    if markdown:
        return ["Assumptions:", "", *_table(("timing", "best", "worst", "source"), found, True)]
    # A terminal: one line each, the source last (a table of URLs would wrap).
    return ["Assumptions (best; worst; source):",
            *(f"- {what}: {best}; {worst}; {source}" for what, best, worst, source in found)]


def render(r: Report, markdown: bool = True) -> str:
    f = r.settings.fleet
    title = (f"Capacity of {_code(r.stack, markdown)}: {f.min_size}..{f.max_size} x "
             f"{f.instance_type} in {r.settings.region}")
    lines = [f"### {title}" if markdown else title, ""]
    lines += _table(("policy", "first new capacity in service", "in service after "
                     + " / ".join(f"{m} min" for m in CHECKPOINTS), "back to min after the load"),
                    [(row.label, _span(row.reaction), " / ".join(_count(n) for n in row.at),
                      _span(row.scale_in)) for row in r.rows], markdown)
    lines += ["", _cost(r)]
    lines += [f"- {n}" for n in r.notes]
    lines += ["", SCENARIO, "", *_assumptions(r.assumptions, markdown), ""]
    if markdown:
        for row in r.rows:
            lines += [*mermaid(row.label, row.curves, f.min_size, f.max_size), ""]
    return "\n".join(lines)


def render_compare(left: Report, right: Report, markdown: bool = True,
                   names: tuple[str, str] | None = None) -> str:
    """The headline numbers of two reports side by side (all policies together, or the one).

    ``names`` labels the columns (default: the stack names), e.g. a git revision and the working
    tree for `--capacity --base REF`.
    """
    def head(r: Report) -> Row:
        return r.rows[-1]

    def cost(v: float | None) -> str:
        return "unknown" if v is None else f"${v:.4f}"

    def size(r: Report) -> str:
        f = r.settings.fleet
        return f"{f.min_size}..{f.max_size} x {f.instance_type}"

    lo, ro = head(left), head(right)
    a, b = names or (_code(left.stack, markdown), _code(right.stack, markdown))
    rows = [
        ("policies", "; ".join(x.label for x in left.rows if x is not lo or len(left.rows) == 1),
         "; ".join(x.label for x in right.rows if x is not ro or len(right.rows) == 1)),
        ("size", size(left), size(right)),
        ("first new capacity in service", _span(lo.reaction), _span(ro.reaction)),
        *[(f"in service after {m} min", _count(lo.at[i]), _count(ro.at[i]))
          for i, m in enumerate(CHECKPOINTS)],
        ("back to min after the load", _span(lo.scale_in), _span(ro.scale_in)),
        ("cost floor per hour", cost(left.floor), cost(right.floor)),
        ("cost ceiling per hour", cost(left.ceiling), cost(right.ceiling)),
    ]
    title = f"Capacity: {a} and {b}"
    lines = [f"### {title}" if markdown else title, ""]
    lines += _table(("", a, b), rows, markdown)
    lines += ["", SCENARIO, "", *_assumptions(left.assumptions, markdown), ""]
    if markdown:
        for name, r in ((a, left), (b, right)):
            f = r.settings.fleet
            lines += [*mermaid(f"{name.replace('`', '')}, {head(r).label}", head(r).curves,
                               f.min_size, f.max_size), ""]
    return "\n".join(lines)


def capacity_markdown(stacks: Sequence[str], root: Path = ROOT, markdown: bool = True) -> str:
    """One stack's report, or two side by side; Markdown, or plain text for a terminal."""
    prices = json.loads(PRICES.read_text())
    reports = [report(s, load(s, root), prices) for s in stacks]
    if len(reports) == 2:
        return render_compare(reports[0], reports[1], markdown)
    return render(reports[0], markdown)


def capacity_before_after(stack: str, before_root: Path, before_name: str, root: Path = ROOT,
                          markdown: bool = True) -> str:
    """`--capacity --base REF`: the stack's numbers at a git revision and in the working tree."""
    prices = json.loads(PRICES.read_text())
    before = report(stack, load(stack, before_root), prices)
    after = report(stack, load(stack, root), prices)
    return render_compare(before, after, markdown,
                          (before_name, "this tree"))
