"""The settings reader's promises: how a problem shows its value; a secret never shows."""

from __future__ import annotations

import datetime

from components.settings.reader import Problems, Secret


def test_a_secret_prints_as_a_placeholder_only() -> None:
    secret = Secret("hunter2")
    assert (str(secret), repr(secret), f"{secret}") == ("[secret]", "Secret([secret])", "[secret]")
    assert repr({"token": secret}) == "{'token': Secret([secret])}"


def test_a_problem_about_a_secret_value_never_shows_it() -> None:
    problems = Problems()
    problems.add("webtier:consulAgentToken", Secret("hunter2"), "must be a non-empty string")
    assert problems.items == ["webtier:consulAgentToken = [secret]: must be a non-empty string"]


def test_a_problem_shows_the_value_as_json() -> None:
    problems = Problems()
    problems.add("webtier:fleet.minSize", 5, "must not exceed maxSize (3)")
    problems.add("webtier:fleet.instanceType", "large", "must be an EC2 instance type")
    problems.add("webtier:loadBalancer.ingressCidrs", ["x", None], "must be CIDRs")
    assert problems.items == [
        "webtier:fleet.minSize = 5: must not exceed maxSize (3)",
        'webtier:fleet.instanceType = "large": must be an EC2 instance type',
        'webtier:loadBalancer.ingressCidrs = ["x", null]: must be CIDRs',
    ]


def test_a_value_json_cannot_encode_is_shown_as_text_not_a_crash() -> None:
    # YAML reads an unquoted 2026-01-01 as a date; the report must still say which key.
    problems = Problems()
    problems.add("webtier:release.since", datetime.date(2026, 1, 1), "must be a string")
    assert problems.items == ['webtier:release.since = "2026-01-01": must be a string']
