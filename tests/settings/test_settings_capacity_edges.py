"""webtier:capacity read field by field: defaults, exact refusals and the limits AWS sets.

Pure calls of parse_capacity (no stack, no engine), so each check is a few microseconds.
"""

from __future__ import annotations

from typing import Any

from components.settings.capacity import (
    MAX_INSTANCE_TYPES,
    CapacitySettings,
    MixedInstances,
    SizeRange,
    parse_capacity,
)
from components.settings.fleet import FleetSettings, parse_fleet
from components.settings.reader import ConfigObject, Problems

C = "webtier:capacity"
M = f"{C}.mixedInstances"
R = f"{M}.instanceRequirements"


def fleet(**raw: Any) -> FleetSettings:
    problems = Problems()
    settings = parse_fleet(ConfigObject("webtier:fleet", raw, problems))
    assert problems.items == []
    return settings


def read(raw: dict[str, Any], on: FleetSettings | None = None) -> tuple[CapacitySettings,
                                                                        list[str]]:
    problems = Problems()
    settings = parse_capacity(ConfigObject(C, raw, problems), on or fleet())
    return settings, problems.items


def requirements(**ranges: Any) -> dict[str, Any]:
    return {"mixedInstances": {"instanceRequirements": ranges}}


def test_mixed_instances_defaults_are_on_demand_only() -> None:
    s, problems = read({"mixedInstances": {"instanceTypes": ["t3.small"]}})
    assert problems == []
    assert s.mixed == MixedInstances(
        instance_types=("t3.small",), vcpu=None, memory_mib=None, on_demand_base=0,
        on_demand_percentage=100, spot_strategy="price-capacity-optimized",
        capacity_rebalance=True, spot_discount_percent=None)


def test_on_demand_base_capacity_is_read() -> None:
    s, problems = read({"mixedInstances": {"instanceTypes": ["t3.small"],
                                           "onDemandBaseCapacity": 2}})
    assert problems == []
    assert s.mixed is not None
    assert s.mixed.on_demand_base == 2


def test_explicit_null_sections_are_off_and_not_unknown() -> None:
    s, problems = read({"mixedInstances": None, "warmPool": None})
    assert (problems, s) == ([], CapacitySettings())


def test_an_unknown_capacity_field_lists_the_known_ones() -> None:
    _, problems = read({"spot": True})
    assert problems == [
        f"{C}.spot is not a known setting (known: maxInstanceLifetime, mixedInstances, "
        "protectFromScaleIn, terminationPolicies, warmPool); its value is not shown"]


def test_an_unknown_mixed_instances_field_lists_the_known_ones() -> None:
    _, problems = read({"mixedInstances": {"instanceTypes": ["t3.small"], "spotPrice": "0.1"}})
    assert problems == [
        f"{M}.spotPrice is not a known setting (known: capacityRebalance, instanceRequirements, "
        "instanceTypes, onDemandBaseCapacity, onDemandPercentageAboveBase, "
        "spotAllocationStrategy, spotDiscountPercent); its value is not shown"]


def test_mixed_instances_need_a_launch_template() -> None:
    _, problems = read({"mixedInstances": {"instanceTypes": ["t3.small"]}},
                       fleet(launchKind="configuration"))
    assert problems == [
        f'{M} = "{{...}}": needs webtier:fleet.launchKind template: AWS takes a mixed instances '
        "policy only with a launch template"]


def test_a_malformed_instance_type_is_refused_by_index() -> None:
    _, problems = read({"mixedInstances": {"instanceTypes": ["t3.small", "large"]}})
    assert problems == [
        f'{M}.instanceTypes[1] = "large": must be an EC2 instance type like t3.small']


def test_at_most_forty_instance_types() -> None:
    types = [f"c{n}.large" for n in range(MAX_INSTANCE_TYPES + 1)]
    s, problems = read({"mixedInstances": {"instanceTypes": types[:-1]}})
    assert problems == []
    assert s.mixed is not None
    assert len(s.mixed.instance_types) == 40
    _, problems = read({"mixedInstances": {"instanceTypes": types}})
    assert problems == [f'{M}.instanceTypes = "41 types": AWS takes at most 40']


def test_types_or_requirements_exactly_one() -> None:
    expected = [f"{M}: set exactly one of instanceTypes (a list of types) or "
                "instanceRequirements ({vcpu: {min, max}, memoryMiB: {min, max}})"]
    assert read({"mixedInstances": {}})[1] == expected
    both = {"instanceTypes": ["t3.small"], "instanceRequirements": {}}
    assert read({"mixedInstances": both})[1] == expected


def test_requirement_ranges_default_to_at_least_one_and_no_maximum() -> None:
    s, problems = read(requirements(vcpu={}, memoryMiB={}))
    assert problems == []
    assert s.mixed is not None
    assert (s.mixed.vcpu, s.mixed.memory_mib) == (SizeRange(1, None), SizeRange(1, None))
    assert s.mixed.attribute_based


def test_requirement_ranges_are_read() -> None:
    s, problems = read(requirements(vcpu={"min": 2, "max": 8}, memoryMiB={"min": 4096}))
    assert problems == []
    assert s.mixed is not None
    assert (s.mixed.vcpu, s.mixed.memory_mib) == (SizeRange(2, 8), SizeRange(4096, None))


def test_a_range_may_be_exactly_one_value_at_either_limit() -> None:
    s, problems = read(requirements(vcpu={"min": 1, "max": 1},
                                    memoryMiB={"min": 4_194_304, "max": 4_194_304}))
    assert problems == []
    assert s.mixed is not None
    assert (s.mixed.vcpu, s.mixed.memory_mib) == (SizeRange(1, 1),
                                                  SizeRange(4_194_304, 4_194_304))
    s, problems = read(requirements(vcpu={"min": 1024, "max": 1024}, memoryMiB={}))
    assert problems == []


def test_a_range_past_its_limits_is_refused() -> None:
    _, problems = read(requirements(vcpu={"min": 0, "max": 1025},
                                    memoryMiB={"min": 1, "max": 4_194_305}))
    assert problems == [f"{R}.vcpu.min = 0: must be between 1 and 1024",
                        f"{R}.vcpu.max = 1025: must be between 1 and 1024",
                        f"{R}.memoryMiB.max = 4194305: must be between 1 and 4194304"]


def test_a_range_max_below_min_is_refused_on_max() -> None:
    _, problems = read(requirements(vcpu={"min": 4, "max": 3}, memoryMiB={}))
    assert problems == [f"{R}.vcpu.max = 3: must be at least min (4)"]
