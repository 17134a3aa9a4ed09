"""The spot rule (`autoscaling-spot-capacity-rebalance`) against passing and failing groups, through
the SDK's ``validate`` as in tests/policy/test_policy.py, and its advisory level in every stack."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime import config as runtime_config
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from plan.policy_check import pack_config
from policy import rules
from policy.offline import UNKNOWN, policy_config, resource_args, run_resource_policy
from policy.pack import POLICIES

NAME = "autoscaling-spot-capacity-rebalance"
SPOT_GROUP: dict[str, Any] = {
    "minSize": 2, "maxSize": 10, "capacityRebalance": True,
    "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandBaseCapacity": 1,
                                  "onDemandPercentageAboveBaseCapacity": 25,
                                  "spotAllocationStrategy": "price-capacity-optimized"},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1",
                                                           "version": "3"}},
    },
}


@pytest.fixture(autouse=True)
def no_stack_config() -> Iterator[None]:
    token = runtime_config.CONFIG.set({})
    yield
    runtime_config.CONFIG.reset(token)


def violations(props: dict[str, Any], resource_type: str = rules.GROUP) -> list[str]:
    subject = next(p for p in POLICIES if p.name == NAME)
    assert isinstance(subject, ResourceValidationPolicy)
    return [v.message for v in run_resource_policy(subject, resource_args(resource_type, props))]


def with_(path: list[str], value: Any) -> dict[str, Any]:
    props = copy.deepcopy(SPOT_GROUP)
    node = props
    for part in path[:-1]:
        node = node[part]
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return props


def test_spot_group_with_capacity_rebalance_passes() -> None:
    assert violations(SPOT_GROUP) == []


def test_spot_group_without_capacity_rebalance_is_reported() -> None:
    found = violations(with_(["capacityRebalance"], False))
    assert found == ["the group launches spot instances (onDemandPercentageAboveBaseCapacity 25) "
                     "without capacityRebalance: set it true so spot instances at risk are "
                     "replaced before they are interrupted"]


def test_spot_group_leaving_capacity_rebalance_unset_is_reported() -> None:
    assert len(violations(with_(["capacityRebalance"], None))) == 1


def test_all_on_demand_mixed_group_needs_no_rebalance() -> None:
    props = with_(["mixedInstancesPolicy", "instancesDistribution",
                   "onDemandPercentageAboveBaseCapacity"], 100)
    props["capacityRebalance"] = False
    assert violations(props) == []


def test_base_covering_max_size_needs_no_rebalance() -> None:
    props = with_(["mixedInstancesPolicy", "instancesDistribution", "onDemandBaseCapacity"], 10)
    props["capacityRebalance"] = False
    assert violations(props) == []


def test_group_without_mixed_instances_passes() -> None:
    assert violations({"minSize": 2, "maxSize": 20, "launchTemplate": {"id": "lt-1"}}) == []


def test_unknown_rebalance_during_preview_cannot_be_verified() -> None:
    found = violations(with_(["capacityRebalance"], UNKNOWN))
    assert len(found) == 1
    assert found[0].startswith("cannot verify during preview")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_spot_rule_only_warns_in_every_stack(stack: str) -> None:
    subject = next(p for p in POLICIES if p.name == NAME)
    level, _ = policy_config(pack_config(stack), subject)
    assert (level or subject.enforcement_level) == EnforcementLevel.ADVISORY
