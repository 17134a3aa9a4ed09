"""What the rollout gate asks AWS for: StartInstanceRefresh's DesiredConfiguration and
Preferences, in the API's own shape, built from the settings. Pure: no Pulumi, no AWS.

Launch-template mode names the whole desired configuration (the template and version, or the
whole mixed instances policy), so AWS moves the group only when the refresh succeeds and rolls it
back natively (AutoRollback) otherwise. Launch-configuration mode has no desired configuration:
AWS allows neither auto rollback nor skip matching with a new launch configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.settings import CapacitySettings, RolloutSettings


def _range(low: int, high: int | None) -> dict[str, int]:
    return {"Min": low} if high is None else {"Min": low, "Max": high}


def launch_template(template_id: Any, version: Any) -> dict[str, Any]:
    return {"LaunchTemplate": {"LaunchTemplateId": template_id, "Version": version}}


def mixed_instances(capacity: CapacitySettings, template_id: Any,
                    version: Any) -> dict[str, Any]:
    """The group's whole mixed instances policy: a rollback restores all of it, spot split too."""
    m = capacity.mixed
    assert m is not None
    if m.vcpu is not None and m.memory_mib is not None:
        overrides: list[dict[str, Any]] = [{"InstanceRequirements": {
            "VCpuCount": _range(m.vcpu.min, m.vcpu.max),
            "MemoryMiB": _range(m.memory_mib.min, m.memory_mib.max)}}]
    else:
        overrides = [{"InstanceType": t} for t in m.instance_types]
    return {"MixedInstancesPolicy": {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": version},
            "Overrides": overrides,
        },
        "InstancesDistribution": {
            "OnDemandBaseCapacity": m.on_demand_base,
            "OnDemandPercentageAboveBaseCapacity": m.on_demand_percentage,
            "SpotAllocationStrategy": m.spot_strategy,
        },
    }}


def preferences(r: RolloutSettings, *, warmup: int, alarms: Sequence[Any],
                protect_from_scale_in: bool, template: bool) -> dict[str, Any]:
    prefs: dict[str, Any] = {
        "MinHealthyPercentage": r.min_healthy_percentage,
        "MaxHealthyPercentage": r.max_healthy_percentage,
        "InstanceWarmup": warmup,
        "BakeTime": r.bake_time,
    }
    if r.checkpoints:
        prefs["CheckpointPercentages"] = list(r.checkpoints)
        prefs["CheckpointDelay"] = r.checkpoint_delay
    if template:
        prefs["SkipMatching"] = r.skip_matching
        prefs["AutoRollback"] = r.roll_back
    if r.alarm_rollback and alarms:
        prefs["AlarmSpecification"] = {"Alarms": list(alarms)}
    if protect_from_scale_in:
        # AWS's default (Wait) would stall an hour and fail; Ignore would skip every instance of
        # a fully protected group and report success having replaced nothing.
        prefs["ScaleInProtectedInstances"] = "Refresh"
    return prefs
