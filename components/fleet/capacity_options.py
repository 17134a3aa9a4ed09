"""The group's capacity options as provider args: mixed instances (spot) and the warm pool."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.settings import CapacitySettings


def mixed_instances_policy(capacity: CapacitySettings, template_id: pulumi.Input[str],
                           version: pulumi.Input[str]
                           ) -> aws.autoscaling.GroupMixedInstancesPolicyArgs:
    """Instance types (or vCPU/memory ranges) over the fleet's template, and the spot split."""
    m = capacity.mixed
    assert m is not None
    asg = aws.autoscaling
    if m.vcpu is not None and m.memory_mib is not None:
        overrides = [asg.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
            instance_requirements=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsArgs(
                vcpu_count=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsVcpuCountArgs(
                    min=m.vcpu.min, max=m.vcpu.max),
                memory_mib=asg.GroupMixedInstancesPolicyLaunchTemplateOverrideInstanceRequirementsMemoryMibArgs(
                    min=m.memory_mib.min, max=m.memory_mib.max),
            ))]
    else:
        overrides = [asg.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                     for t in m.instance_types]
    return asg.GroupMixedInstancesPolicyArgs(
        launch_template=asg.GroupMixedInstancesPolicyLaunchTemplateArgs(
            launch_template_specification=asg
            .GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                launch_template_id=template_id, version=version),
            overrides=overrides,
        ),
        instances_distribution=asg.GroupMixedInstancesPolicyInstancesDistributionArgs(
            on_demand_base_capacity=m.on_demand_base,
            on_demand_percentage_above_base_capacity=m.on_demand_percentage,
            spot_allocation_strategy=m.spot_strategy,
        ),
    )


def warm_pool(capacity: CapacitySettings) -> aws.autoscaling.GroupWarmPoolArgs | None:
    """Pre-initialised instances beside the group (the rollout's lifecycle hooks run on them too:
    an instance entering the pool goes through the launch hook before it stops)."""
    w = capacity.warm_pool
    if w is None:
        return None
    return aws.autoscaling.GroupWarmPoolArgs(
        pool_state=w.state,
        min_size=w.min_size,
        max_group_prepared_capacity=w.max_prepared,
        instance_reuse_policy=aws.autoscaling.GroupWarmPoolInstanceReusePolicyArgs(
            reuse_on_scale_in=w.reuse_on_scale_in),
    )
