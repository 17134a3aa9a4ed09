"""cron_error: the exact reason a scheduled action's cron is refused, and each field's limits."""

from __future__ import annotations

import pytest

from components.settings.capacity_schedule import cron_error


@pytest.mark.parametrize("cron", [
    "59 23 31 12 6", "0 0 1 1 0",          # every field at its highest, then its lowest
    "0 0 * DEC SAT", "0 0 * jan sun",      # the last names, and names in any case
    "0 0 * * 7",                           # 7 is Sunday too
    "*/1 * * * *", "*/59 */23 */31 */12 */6",  # steps from 1 up to the field's highest
    "0-59 0-23 1-31 JAN-DEC SUN-SAT",
])
def test_accepted_at_the_limits(cron: str) -> None:
    assert cron_error(cron) is None


def test_a_wrong_field_count_names_the_five_field_form() -> None:
    assert cron_error("0 8 * *") == (
        "has 4 fields: give the 5-field Unix form 'minute hour day-of-month month day-of-week', "
        "e.g. '0 8 * * MON-FRI'")


@pytest.mark.parametrize(("cron", "error"), [
    ("60 * * * *", "minute '60': allowed are *, 0-59, ranges a-b, lists and /step"),
    ("0 24 * * *", "hour '24': allowed are *, 0-23, ranges a-b, lists and /step"),
    ("0 0 32 * *", "day of month '32': allowed are *, 1-31, ranges a-b, lists and /step"),
    ("0 0 * 13 *", "month '13': allowed are *, 1-12 or JAN-DEC, ranges a-b, lists and /step"),
    ("0 0 * * 8", "day of week '8': allowed are *, 0-6 or SUN-SAT, ranges a-b, lists and /step"),
    ("1-2-3 * * * *", "minute '1-2-3': allowed are *, 0-59, ranges a-b, lists and /step"),
    # `*` allows the field, not the rest of its list
    ("*,61 * * * *", "minute '61': allowed are *, 0-59, ranges a-b, lists and /step"),
])
def test_a_value_past_its_field_is_refused_with_what_is_allowed(cron: str, error: str) -> None:
    assert cron_error(cron) == error


@pytest.mark.parametrize(("cron", "error"), [
    ("*/0 * * * *", "minute '*/0': the step after / must be 1..59"),
    ("*/60 * * * *", "minute '*/60': the step after / must be 1..59"),
    ("0 */24 * * *", "hour '*/24': the step after / must be 1..23"),
])
def test_a_step_outside_one_to_the_field_highest_is_refused(cron: str, error: str) -> None:
    assert cron_error(cron) == error
