"""A refused value is named once, as given: a cross-field check never blames the default that
stood in for it (`maxHealthyPercentage 250` must not also report `200`, which the user never set).
"""

from __future__ import annotations

from typing import Any

from components.settings.reader import ConfigObject, Problems
from components.settings.rollout import parse_rollout

R = "webtier:rollout"


def problems_of(raw: dict[str, Any]) -> list[str]:
    problems = Problems()
    parse_rollout(ConfigObject(R, raw, problems))
    return problems.items


def test_an_out_of_range_max_is_reported_as_given_and_only_once() -> None:
    assert problems_of({"minHealthyPercentage": 90, "maxHealthyPercentage": 250}) == [
        "webtier:rollout.maxHealthyPercentage = 250: must be between 100 and 200"]


def test_an_out_of_range_min_does_not_blame_the_max_the_user_set() -> None:
    assert problems_of({"minHealthyPercentage": 150, "maxHealthyPercentage": 100}) == [
        "webtier:rollout.minHealthyPercentage = 150: must be between 0 and 100"]


def test_a_max_of_the_wrong_type_is_not_compared_as_its_default() -> None:
    assert problems_of({"minHealthyPercentage": 90, "maxHealthyPercentage": "lots"}) == [
        'webtier:rollout.maxHealthyPercentage = "lots": must be a whole number']


def test_valid_values_are_still_cross_checked() -> None:
    assert problems_of({"minHealthyPercentage": 90, "maxHealthyPercentage": 195}) == [
        "webtier:rollout.maxHealthyPercentage = 195: may exceed minHealthyPercentage (90) by at "
        "most 100 (AWS's rule)"]


def section_problems(parse: Any, key: str, raw: dict[str, Any]) -> list[str]:
    problems = Problems()
    parse(ConfigObject(key, raw, problems))
    return problems.items


def test_fleet_sizes_blame_only_what_was_set() -> None:
    from components.settings.fleet import parse_fleet
    # maxSize 5000 is refused; its default (20) must not make minSize 30 "exceed maxSize (20)".
    assert section_problems(parse_fleet, "webtier:fleet", {"minSize": 30, "maxSize": 5000}) == [
        "webtier:fleet.maxSize = 5000: must be between 1 and 1000"]
    # desiredCapacity "x" is refused; no second line about its default.
    assert section_problems(parse_fleet, "webtier:fleet",
                            {"minSize": 3, "maxSize": 4, "desiredCapacity": "x"}) == [
        'webtier:fleet.desiredCapacity = "x": must be a whole number']
    assert section_problems(parse_fleet, "webtier:fleet", {"minSize": 5, "maxSize": 4}) == [
        "webtier:fleet.minSize = 5: must not exceed maxSize (4)"]


def test_scaling_thresholds_blame_only_what_was_set() -> None:
    from components.settings.scaling import parse_scaling
    assert section_problems(parse_scaling, "webtier:scaling", {"scaleInThreshold": 60,
                                                                "scaleOutThreshold": 150}) == [
        "webtier:scaling.scaleOutThreshold = 150: must be between 0 and 100"]
    assert section_problems(parse_scaling, "webtier:scaling",
                            {"period": 86400, "evaluationPeriods": 500}) == [
        "webtier:scaling.evaluationPeriods = 500: must be between 1 and 100"]


def test_consul_check_timeout_is_not_compared_with_a_refused_interval() -> None:
    from components.settings.consul import parse_consul
    problems = Problems()
    parse_consul(ConfigObject("webtier:consul", {"serviceCheck": {"interval": 0, "timeout": 20}},
                              problems), "staging", "webtier")
    # (The other lines are about the required address and cluster source, not set here.)
    assert [p for p in problems.items if "serviceCheck" in p] == [
        "webtier:consul.serviceCheck.interval = 0: must be between 1 and 300"]
