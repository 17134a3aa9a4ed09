"""The group's capacity options as the provider receives them, built straight from settings.

The whole-program tests see these through the mock engine; here each builder is called alone and
its whole answer compared, so a dropped field or a swapped value names itself in a fast test.
"""

from __future__ import annotations

from typing import Any

import pulumi_aws.autoscaling

from components.fleet.capacity_options import mixed_instances_policy, warm_pool
from components.settings.capacity import CapacitySettings, MixedInstances, SizeRange, WarmPool

# The SDK's first args object costs ~0.5 s of one-time setup: pay it at collection, so each test
# stays under the mutation runs' 0.1 s cut (tests/mutation_plugin.py).
pulumi_aws.autoscaling.GroupWarmPoolInstanceReusePolicyArgs()


def plain(value: Any) -> Any:
    """Provider args as plain data: each args object becomes the dict of the fields it sets."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: plain(v) for k, v in vars(value).items()}
    return value


def mixed(types: tuple[str, ...] = (), vcpu: SizeRange | None = None,
          memory: SizeRange | None = None) -> CapacitySettings:
    return CapacitySettings(mixed=MixedInstances(
        instance_types=types, vcpu=vcpu, memory_mib=memory, on_demand_base=2,
        on_demand_percentage=25, spot_strategy="capacity-optimized", capacity_rebalance=True,
        spot_discount_percent=None))


DISTRIBUTION = {"on_demand_base_capacity": 2, "on_demand_percentage_above_base_capacity": 25,
                "spot_allocation_strategy": "capacity-optimized"}
SPEC = {"launch_template_id": "lt-0abc", "version": "7"}


def test_instance_types_become_one_override_each_over_the_fleets_template() -> None:
    args = mixed_instances_policy(mixed(("t3.small", "t3a.small")), "lt-0abc", "7")
    assert plain(args) == {
        "launch_template": {
            "launch_template_specification": SPEC,
            "overrides": [{"instance_type": "t3.small"}, {"instance_type": "t3a.small"}],
        },
        "instances_distribution": DISTRIBUTION,
    }


def test_instance_requirements_become_one_override_with_vcpu_and_memory_ranges() -> None:
    args = mixed_instances_policy(
        mixed(vcpu=SizeRange(2, 4), memory=SizeRange(4096, 16384)), "lt-0abc", "7")
    assert plain(args) == {
        "launch_template": {
            "launch_template_specification": SPEC,
            "overrides": [{"instance_requirements": {
                "vcpu_count": {"min": 2, "max": 4},
                "memory_mib": {"min": 4096, "max": 16384},
            }}],
        },
        "instances_distribution": DISTRIBUTION,
    }


def test_open_ended_ranges_send_no_maximum() -> None:
    args = mixed_instances_policy(mixed(vcpu=SizeRange(2, None), memory=SizeRange(1024, None)),
                                  "lt-0abc", "7")
    assert plain(args)["launch_template"]["overrides"] == [{"instance_requirements": {
        "vcpu_count": {"min": 2}, "memory_mib": {"min": 1024}}}]


def test_warm_pool_carries_every_setting() -> None:
    pool = WarmPool(state="Hibernated", min_size=1, max_prepared=5, reuse_on_scale_in=True)
    assert plain(warm_pool(CapacitySettings(warm_pool=pool))) == {
        "pool_state": "Hibernated", "min_size": 1, "max_group_prepared_capacity": 5,
        "instance_reuse_policy": {"reuse_on_scale_in": True},
    }


def test_warm_pool_without_a_prepared_limit_leaves_it_to_aws() -> None:
    pool = WarmPool(state="Stopped", min_size=0, max_prepared=None, reuse_on_scale_in=False)
    assert plain(warm_pool(CapacitySettings(warm_pool=pool))) == {
        "pool_state": "Stopped", "min_size": 0,
        "instance_reuse_policy": {"reuse_on_scale_in": False},
    }


def test_no_warm_pool_setting_means_no_warm_pool() -> None:
    assert warm_pool(CapacitySettings()) is None
