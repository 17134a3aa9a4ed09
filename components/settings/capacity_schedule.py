"""Parts of webtier:scaling beyond the CPU alarms: scheduled actions and predictive scaling.

Parsed here and held by ScalingSettings, so webtier:scaling stays one section with one reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from components.settings.reader import ConfigObject

# AWS: at most 125 scheduled actions per Auto Scaling group (service quota, not adjustable).
MAX_SCHEDULED_ACTIONS = 125
SIZE_FIELDS = ("minSize", "maxSize", "desiredCapacity")
PredictiveMode = Literal["ForecastOnly", "ForecastAndScale"]
PredictiveMetric = Literal["cpu", "requests"]
MaxCapacityBreach = Literal["HonorMaxCapacity", "IncreaseMaxCapacity"]
ACTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\Z")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (field name, lowest, highest, names standing for lowest, lowest+1, ...)
CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS), ("day of week", 0, 6, DAYS),
)


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    cron: str
    time_zone: str
    min_size: int | None
    max_size: int | None
    desired_capacity: int | None


@dataclass(frozen=True)
class PredictiveSettings:
    mode: PredictiveMode
    metric: PredictiveMetric
    target: float
    scheduling_buffer_time: int
    max_capacity_breach: MaxCapacityBreach
    max_capacity_buffer: int


def _cron_value_ok(text: str, lo: int, hi: int, names: tuple[str, ...]) -> bool:
    # Day of week: AWS (like Unix cron) also takes 7 for Sunday.
    return (text.upper() in names or (text.isdigit() and lo <= int(text) <= hi)
            or (names is DAYS and text == "7"))


def cron_error(expression: str) -> str | None:
    """Why ``expression`` is not a 5-field Unix cron expression (None when it is one)."""
    fields = expression.split()
    if len(fields) != 5:
        return (f"has {len(fields)} fields: give the 5-field Unix form "
                "'minute hour day-of-month month day-of-week', e.g. '0 8 * * MON-FRI'")
    for text, (label, lo, hi, names) in zip(fields, CRON_FIELDS, strict=True):
        for part in text.split(","):
            body, _, step = part.partition("/")
            if step and not (step.isdigit() and 1 <= int(step) <= hi):
                return f"{label} '{part}': the step after / must be 1..{hi}"
            if body == "*":
                continue
            ends = body.split("-")
            if len(ends) > 2 or not all(_cron_value_ok(e, lo, hi, names) for e in ends):
                allowed = f"{lo}-{hi}" + (f" or {names[0]}-{names[-1]}" if names else "")
                return f"{label} '{part}': allowed are *, {allowed}, ranges a-b, lists and /step"
    return None


@cache
def _known_zones() -> frozenset[str]:
    # Walks the tz database (~0.2 s): once per process, and only when a schedule names a zone.
    return frozenset(available_timezones())


def parse_schedules(obj: ConfigObject, name: str) -> tuple[ScheduledAction, ...]:
    raw = obj.items(name)
    key = f"{obj.key}.{name}"
    if len(raw) > MAX_SCHEDULED_ACTIONS:
        obj.problems.add(key, f"{len(raw)} entries",
                         f"AWS allows at most {MAX_SCHEDULED_ACTIONS} scheduled actions per group")
    actions: list[ScheduledAction] = []
    for i, item in enumerate(raw):
        entry = ConfigObject(f"{key}[{i}]", item, obj.problems)
        action_name = entry.text("name", "", ACTION_NAME,
                                 "must be 1-255 letters, digits, '.', '_' or '-'") \
            if entry.required("name") else ""
        cron = entry.text("cron", "")
        if entry.required("cron") and (error := cron_error(cron)):
            entry.problems.add(f"{entry.key}.cron", cron, error)
        zone = entry.text("timeZone", "Etc/UTC")
        if zone not in _known_zones():
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                entry.problems.add(f"{entry.key}.timeZone", zone,
                                   "must be an IANA time zone name like Asia/Tokyo or Etc/UTC")
        sizes = {field: (entry.integer(field, -1, 0, 1000) if field in entry.raw else None)
                 for field in SIZE_FIELDS}
        entry.used.update(SIZE_FIELDS)  # known even when absent, for the unknown-field hint
        lo, hi, desired = sizes["minSize"], sizes["maxSize"], sizes["desiredCapacity"]
        if lo is None and hi is None and desired is None:
            entry.problems.note(f"{entry.key} sets none of minSize, maxSize, desiredCapacity: "
                                "a scheduled action must change at least one")
        # A refused size is named already: compare only the sizes that were set and valid.
        comparable = entry.valid(*SIZE_FIELDS)
        if comparable and lo is not None and hi is not None and lo > hi:
            entry.problems.add(f"{entry.key}.minSize", lo, f"must not exceed maxSize ({hi})")
        if comparable and desired is not None and ((lo is not None and desired < lo)
                                                   or (hi is not None and desired > hi)):
            entry.problems.add(f"{entry.key}.desiredCapacity", desired,
                               "must be within this entry's [minSize, maxSize]")
        entry.done()
        actions.append(ScheduledAction(action_name, cron, zone, lo, hi, desired))
    names = [a.name for a in actions if a.name]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        obj.problems.add(key, dup, "scheduled action names must be unique within the group")
    return tuple(actions)


def parse_predictive(obj: ConfigObject, name: str) -> PredictiveSettings | None:
    if obj.raw.get(name) is None:
        obj.used.add(name)
        return None
    p = obj.child(name)
    metric: PredictiveMetric = p.choice("metric", "cpu", PredictiveMetric)
    settings = PredictiveSettings(
        # Forecast-only until the forecast has been checked against real traffic.
        mode=p.choice("mode", "ForecastOnly", PredictiveMode),
        metric=metric,
        target=p.number("target", 50 if metric == "cpu" else 1000, 1,
                        100 if metric == "cpu" else 1_000_000),
        scheduling_buffer_time=p.integer("schedulingBufferTime", 300, 0, 3600),
        max_capacity_breach=p.choice("maxCapacityBreachBehavior", "HonorMaxCapacity",
                                     MaxCapacityBreach),
        max_capacity_buffer=p.integer("maxCapacityBuffer", 0, 0, 100),
    )
    p.done()
    return settings
