"""Capacity settings (webtier:scaling extras, webtier:capacity, webtier:notifications): every
option parses when valid and every misconfiguration is refused by key, before any resource."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings import SettingsError
from components.settings.capacity_schedule import MAX_SCHEDULED_ACTIONS, cron_error
from tests.mocks import run_program
from tests.settings.test_settings import CountingMocks, parse

MIXED = {"instanceTypes": ["t3.small", "t3a.small"], "onDemandPercentageAboveBase": 50}
ONE_SCHEDULE = {"name": "morning", "cron": "0 8 * * MON-FRI", "timeZone": "Asia/Tokyo",
                "minSize": 2}


def test_production_enables_none_of_the_capacity_features() -> None:
    s = parse("production")
    assert (s.scaling.request_count_target, s.scaling.predictive, s.scaling.schedules) == \
        (None, None, ())
    c = s.capacity
    assert (c.mixed, c.warm_pool, c.termination_policies, c.max_instance_lifetime,
            c.protect_from_scale_in, s.notifications) == (None, None, (), 0, False, None)


def test_every_option_parses_with_its_defaults() -> None:
    s = parse("staging", {
        "webtier:scaling.schedules": [ONE_SCHEDULE],
        "webtier:scaling.predictive": {},
        "webtier:capacity": {"mixedInstances": {"instanceTypes": ["t3.small"]},
                             "terminationPolicies": ["OldestInstance", "Default"],
                             "maxInstanceLifetime": 86400, "protectFromScaleIn": True},
        "webtier:notifications": {"subscriptions": [
            {"protocol": "https", "endpoint": "https://hooks.example.com/x"}]},
    })
    assert s.scaling.predictive is not None
    assert (s.scaling.predictive.mode, s.scaling.predictive.metric) == ("ForecastOnly", "cpu")
    assert s.scaling.schedules[0].time_zone == "Asia/Tokyo"
    m = s.capacity.mixed
    assert m is not None
    assert (m.spot_strategy, m.capacity_rebalance, m.on_demand_percentage) == \
        ("price-capacity-optimized", True, 100)
    assert s.capacity.termination_policies == ("OldestInstance", "Default")
    assert s.notifications is not None
    assert s.notifications.kms_key_id == "create"


def test_empty_notifications_section_is_a_topic_without_subscriptions() -> None:
    s = parse("production", {"webtier:notifications": {}})
    assert s.notifications is not None
    assert s.notifications.subscriptions == ()


@pytest.mark.parametrize("cron", ["0 8 * * MON-FRI", "*/15 * * * *", "0 0 1 JAN,JUL *",
                                  "30 6-18/2 * * 1-5", "0 0 * * 7"])
def test_cron_accepts_the_unix_five_field_form(cron: str) -> None:
    assert cron_error(cron) is None


@pytest.mark.parametrize(("cron", "phrase"), [
    ("0 8 * *", "4 fields"), ("0 8 * * * 2026", "6 fields"), ("60 * * * *", "minute '60'"),
    ("0 24 * * *", "hour '24'"), ("0 0 0 * *", "day of month '0'"), ("0 0 * 13 *", "month"),
    ("0 0 * * FUN", "day of week"), ("*/0 * * * *", "step"), ("0 8 ? * MON", "day of month"),
])
def test_cron_refuses_what_aws_would(cron: str, phrase: str) -> None:
    error = cron_error(cron)
    assert error is not None
    assert phrase in error


S, C, N = "webtier:scaling", "webtier:capacity", "webtier:notifications"
BAD: list[tuple[dict[str, Any], str, str]] = [
    ({f"{S}.requestCountTarget": 0}, f"{S}.requestCountTarget", "between 1"),
    ({f"{S}.predictive": {"mode": "Scale"}}, f"{S}.predictive.mode", "ForecastOnly"),
    ({f"{S}.predictive": {"metric": "memory"}}, f"{S}.predictive.metric", "cpu, requests"),
    ({f"{S}.predictive": {"schedulingBufferTime": 7200}}, f"{S}.predictive.schedulingBufferTime",
     "between 0 and 3600"),
    ({f"{S}.schedules": [{**ONE_SCHEDULE, "cron": "0 8 * *"}]}, f"{S}.schedules[0].cron",
     "5-field"),
    ({f"{S}.schedules": [{**ONE_SCHEDULE, "timeZone": "Tokyo"}]}, f"{S}.schedules[0].timeZone",
     "IANA time zone"),
    ({f"{S}.schedules": [{"name": "x", "cron": "0 8 * * *"}]}, f"{S}.schedules[0]",
     "none of minSize, maxSize, desiredCapacity"),
    ({f"{S}.schedules": [{**ONE_SCHEDULE, "minSize": 5, "maxSize": 3}]},
     f"{S}.schedules[0].minSize", "must not exceed maxSize"),
    ({f"{S}.schedules": [{**ONE_SCHEDULE, "desiredCapacity": 1}]},
     f"{S}.schedules[0].desiredCapacity", "within this entry's"),
    ({f"{S}.schedules": [ONE_SCHEDULE, ONE_SCHEDULE]}, f"{S}.schedules", "unique"),
    ({f"{S}.schedules": [{**ONE_SCHEDULE, "name": f"s{i}"}
                         for i in range(MAX_SCHEDULED_ACTIONS + 1)]},
     f"{S}.schedules", "at most 125"),
    ({f"{S}.schedules": [{"cron": "0 8 * * *", "minSize": 1}]}, f"{S}.schedules[0].name",
     "is missing"),
    ({f"{C}.mixedInstances": {}}, f"{C}.mixedInstances", "exactly one of instanceTypes"),
    ({f"{C}.mixedInstances": {**MIXED, "instanceRequirements": {"vcpu": {"min": 2},
                                                                "memoryMiB": {"min": 4096}}}},
     f"{C}.mixedInstances", "exactly one of instanceTypes"),
    ({f"{C}.mixedInstances": {"instanceTypes": ["large"]}}, f"{C}.mixedInstances.instanceTypes[0]",
     "instance type"),
    ({f"{C}.mixedInstances": {"instanceRequirements": {"vcpu": {"min": 4, "max": 2},
                                                       "memoryMiB": {"min": 1}}}},
     f"{C}.mixedInstances.instanceRequirements.vcpu.max", "at least min"),
    ({f"{C}.mixedInstances": {**MIXED, "spotAllocationStrategy": "cheapest"}},
     f"{C}.mixedInstances.spotAllocationStrategy", "price-capacity-optimized"),
    ({f"{C}.mixedInstances": {**MIXED, "onDemandPercentageAboveBase": 150}},
     f"{C}.mixedInstances.onDemandPercentageAboveBase", "between 0 and 100"),
    ({f"{C}.mixedInstances": MIXED, "webtier:fleet.launchKind": "configuration"},
     f"{C}.mixedInstances", "launchKind template"),
    ({f"{C}.warmPool": {"poolState": "Running"}}, f"{C}.warmPool.poolState", "Stopped, Hibernated"),
    ({f"{C}.warmPool": {}, f"{C}.mixedInstances": MIXED}, f"{C}.warmPool",
     "cannot add a warm pool"),
    ({f"{C}.warmPool": {"minSize": 3, "maxGroupPreparedCapacity": 2}},
     f"{C}.warmPool.maxGroupPreparedCapacity", "at least warmPool.minSize"),
    ({f"{C}.warmPool": {"poolState": "Hibernated"}, "webtier:fleet.instanceType": "t4g.small"},
     f"{C}.warmPool.poolState", "cannot hibernate"),
    ({f"{C}.warmPool": {"poolState": "Hibernated"}, "webtier:fleet.launchKind": "configuration"},
     f"{C}.warmPool.poolState", "launchKind template"),
    ({f"{C}.terminationPolicies": ["Newest"]}, f"{C}.terminationPolicies[0]", "OldestInstance"),
    ({f"{C}.terminationPolicies": ["Default", "OldestInstance"]}, f"{C}.terminationPolicies",
     "only come last"),
    ({f"{C}.terminationPolicies": ["OldestInstance", "OldestInstance"]},
     f"{C}.terminationPolicies[1]", "twice"),
    ({f"{C}.terminationPolicies": ["OldestLaunchConfiguration"]}, f"{C}.terminationPolicies",
     "never matches"),
    ({f"{C}.terminationPolicies": ["AllocationStrategy"]}, f"{C}.terminationPolicies",
     "needs webtier:capacity.mixedInstances"),
    ({f"{C}.maxInstanceLifetime": 3600}, f"{C}.maxInstanceLifetime", "86400..31536000"),
    ({f"{C}.maxInstanceLifetime": 40000000}, f"{C}.maxInstanceLifetime", "between 0"),
    ({f"{C}.protectFromScaleIn": "yes"}, f"{C}.protectFromScaleIn", "true or false"),
    ({f"{C}.spot": True}, f"{C}.spot", "not a known setting"),
    ({N: {"kmsKeyId": "alias/aws/sns"}}, f"{N}.kmsKeyId", "cannot publish"),
    ({N: {"kmsKeyId": "my key"}}, f"{N}.kmsKeyId", "key id, alias"),
    ({N: {"subscriptions": [{"protocol": "sms", "endpoint": "+81"}]}},
     f"{N}.subscriptions[0].protocol", "email, https"),
    ({N: {"subscriptions": [{"protocol": "email", "endpoint": "ops"}]}},
     f"{N}.subscriptions[0].endpoint", "email address"),
    ({N: {"subscriptions": [{"protocol": "https", "endpoint": "http://x.example"}]}},
     f"{N}.subscriptions[0].endpoint", "https:// URL"),
    ({N: {"subscriptions": [{"protocol": "email"}]}}, f"{N}.subscriptions[0].endpoint",
     "is missing"),
]
IDS = [f"{key}:{phrase}" for _, key, phrase in BAD]


@pytest.mark.parametrize(("overrides", "key", "phrase"), BAD, ids=IDS)
def test_misconfiguration_is_refused_naming_the_key(overrides: dict[str, Any], key: str,
                                                    phrase: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse("staging", overrides)
    matching = [p for p in caught.value.problems if p.startswith(key)]
    assert matching, f"no problem names {key}: {caught.value.problems}"
    assert any(phrase in p for p in matching), f"{key}: {matching} lacks {phrase!r}"


@pytest.mark.parametrize(("overrides", "key", "phrase"), BAD[::6], ids=IDS[::6])
def test_misconfiguration_stops_the_program_before_any_resource(
        overrides: dict[str, Any], key: str, phrase: str) -> None:
    mocks = CountingMocks()
    with pytest.raises(SettingsError) as caught:
        run_program("staging", config_overrides=overrides, mocks=mocks)
    assert mocks.created == []
    assert key in str(caught.value)
