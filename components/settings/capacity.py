"""webtier:capacity: what the group buys and keeps (mixed instances and spot, a warm pool) and how
it picks instances to remove (termination policies, lifetime, scale-in protection).

Combinations AWS refuses at apply time are refused here, by key, before any resource exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings.fleet import FleetSettings
from components.settings.reader import ConfigObject, choices
from contracts.aws_ids import INSTANCE_TYPE

SpotStrategy = Literal["price-capacity-optimized", "capacity-optimized",
                       "capacity-optimized-prioritized", "lowest-price"]
PoolState = Literal["Stopped", "Hibernated"]
TerminationPolicy = Literal["Default", "AllocationStrategy", "OldestLaunchTemplate",
                            "OldestLaunchConfiguration", "ClosestToNextInstanceHour",
                            "NewestInstance", "OldestInstance"]
# AWS: a mixed instances policy takes at most 40 instance type overrides.
MAX_INSTANCE_TYPES = 40
MIN_LIFETIME, MAX_LIFETIME = 86400, 31536000  # 1 day .. 365 days; 0 means no limit
# EC2 hibernation: instance families that support it (EC2 User Guide, "Hibernation
# prerequisites"). The RAM must also fit on the encrypted root volume (checked there, not here).
HIBERNATION_FAMILIES = frozenset({
    "c3", "c4", "c5", "c5d", "c6i", "c7i", "i3", "m3", "m4", "m5", "m5a", "m5ad", "m5d", "m6a",
    "m6i", "m7i", "r3", "r4", "r5", "r5a", "r5ad", "r5d", "r6i", "r7i", "t2", "t3", "t3a",
})


@dataclass(frozen=True)
class SizeRange:
    min: int
    max: int | None


@dataclass(frozen=True)
class MixedInstances:
    instance_types: tuple[str, ...]
    vcpu: SizeRange | None
    memory_mib: SizeRange | None
    on_demand_base: int
    on_demand_percentage: int
    spot_strategy: SpotStrategy
    capacity_rebalance: bool
    spot_discount_percent: float | None
    """Only for the capacity report: the expected spot saving; None prices spot as on-demand."""

    @property
    def attribute_based(self) -> bool:
        return self.vcpu is not None

    def uses_spot(self, max_size: int) -> bool:
        return self.on_demand_percentage < 100 and max_size > self.on_demand_base


@dataclass(frozen=True)
class WarmPool:
    state: PoolState
    min_size: int
    max_prepared: int | None
    """MaxGroupPreparedCapacity; None: the group's maxSize (AWS's default)."""
    reuse_on_scale_in: bool


@dataclass(frozen=True)
class CapacitySettings:
    mixed: MixedInstances | None = None
    warm_pool: WarmPool | None = None
    termination_policies: tuple[TerminationPolicy, ...] = ()
    max_instance_lifetime: int = 0
    protect_from_scale_in: bool = False


def _range(obj: ConfigObject, name: str, hi: int) -> SizeRange:
    r = obj.child(name)
    lo = r.integer("min", 1, 1, hi)
    top = r.integer("max", hi, 1, hi) if "max" in r.raw else None
    if top is not None and r.valid("min", "max") and top < lo:
        r.problems.add(f"{r.key}.max", top, f"must be at least min ({lo})")
    r.done()
    return SizeRange(lo, top)


def _mixed(obj: ConfigObject, fleet: FleetSettings) -> MixedInstances | None:
    if obj.raw.get("mixedInstances") is None:
        obj.used.add("mixedInstances")
        return None
    m = obj.child("mixedInstances")
    if fleet.launch_kind != "template":
        m.problems.add(m.key, "{...}", "needs webtier:fleet.launchKind template: AWS takes a mixed "
                                       "instances policy only with a launch template")
    types = [str(t) for t in m.items("instanceTypes")]
    for i, t in enumerate(types):
        if not INSTANCE_TYPE.matches(t):
            m.problems.add(f"{m.key}.instanceTypes[{i}]", t, INSTANCE_TYPE.allowed)
    if len(types) > MAX_INSTANCE_TYPES:
        m.problems.add(f"{m.key}.instanceTypes", f"{len(types)} types",
                       f"AWS takes at most {MAX_INSTANCE_TYPES}")
    has_requirements = m.raw.get("instanceRequirements") is not None
    vcpu = memory = None
    if has_requirements:
        req = m.child("instanceRequirements")
        vcpu, memory = _range(req, "vcpu", 1024), _range(req, "memoryMiB", 4_194_304)
        req.done()
    else:
        m.used.add("instanceRequirements")
    if bool(types) == has_requirements:
        m.problems.note(f"{m.key}: set exactly one of instanceTypes (a list of types) or "
                        "instanceRequirements ({vcpu: {min, max}, memoryMiB: {min, max}})")
    base = m.integer("onDemandBaseCapacity", 0, 0, 1000)
    mixed = MixedInstances(
        instance_types=tuple(types),
        vcpu=vcpu,
        memory_mib=memory,
        on_demand_base=base,
        on_demand_percentage=m.integer("onDemandPercentageAboveBase", 100, 0, 100),
        spot_strategy=m.choice("spotAllocationStrategy", "price-capacity-optimized", SpotStrategy),
        capacity_rebalance=m.flag("capacityRebalance", True),
        spot_discount_percent=(m.number("spotDiscountPercent", 0, 0, 95)
                               if "spotDiscountPercent" in m.raw else None),
    )
    m.used.add("spotDiscountPercent")
    m.done()
    return mixed


def _warm_pool(obj: ConfigObject, fleet: FleetSettings,
               mixed: MixedInstances | None) -> WarmPool | None:
    if obj.raw.get("warmPool") is None:
        obj.used.add("warmPool")
        return None
    w = obj.child("warmPool")
    state: PoolState = w.choice("poolState", "Stopped", PoolState)
    pool = WarmPool(
        state=state,
        min_size=w.integer("minSize", 0, 0, 1000),
        max_prepared=w.integer("maxGroupPreparedCapacity", 0, 0, 1000)
        if "maxGroupPreparedCapacity" in w.raw else None,
        reuse_on_scale_in=w.flag("reuseOnScaleIn", False),
    )
    w.used.add("maxGroupPreparedCapacity")
    if mixed is not None:
        w.problems.add(w.key, "{...}", "AWS cannot add a warm pool to a group with a mixed "
                                       "instances policy or spot instances: drop one of "
                                       "webtier:capacity.warmPool, webtier:capacity.mixedInstances")
    # A pool instance only ever serves by entering the group, which stops at fleet maxSize:
    # more warm instances than that are paid for and never used (a pool of 1000 is a typo).
    if pool.min_size > fleet.max_size:
        w.problems.add(f"{w.key}.minSize", pool.min_size,
                       f"must be at most fleet maxSize ({fleet.max_size}): no more pool "
                       "instances than that can ever enter service")
    if pool.max_prepared is not None and pool.max_prepared > 2 * fleet.max_size:
        w.problems.add(f"{w.key}.maxGroupPreparedCapacity", pool.max_prepared,
                       f"must be at most twice fleet maxSize ({2 * fleet.max_size}): the group "
                       "at its maximum plus a pool as large")
    floor = max(pool.min_size, fleet.min_size)
    if pool.max_prepared is not None and pool.max_prepared < floor:
        w.problems.add(f"{w.key}.maxGroupPreparedCapacity", pool.max_prepared,
                       f"must be at least warmPool.minSize ({pool.min_size}) and fleet minSize "
                       f"({fleet.min_size}): it counts the group's instances and the pool's")
    if state == "Hibernated":
        family = fleet.instance_type.split(".")[0]
        if fleet.launch_kind != "template":
            w.problems.add(f"{w.key}.poolState", state, "Hibernated needs webtier:fleet."
                                                         "launchKind template (hibernation is a "
                                                         "launch template option)")
        if family not in HIBERNATION_FAMILIES:
            w.problems.add(f"{w.key}.poolState", state,
                           f"instance type {fleet.instance_type} cannot hibernate; families that "
                           f"can: {', '.join(sorted(HIBERNATION_FAMILIES))} (or use Stopped)")
    w.done()
    return pool


def _termination(obj: ConfigObject, fleet: FleetSettings,
                 mixed: MixedInstances | None) -> tuple[TerminationPolicy, ...]:
    key = f"{obj.key}.terminationPolicies"
    allowed = choices(TerminationPolicy)
    out: list[TerminationPolicy] = []
    raw = obj.items("terminationPolicies")
    for i, name in enumerate(raw):
        if name not in allowed:
            obj.problems.add(f"{key}[{i}]", name, f"must be one of {', '.join(allowed)}")
        elif name in out:
            obj.problems.add(f"{key}[{i}]", name, "is listed twice")
        else:
            out.append(name)
    if "Default" in out and out[-1] != "Default":
        obj.problems.add(key, raw, "Default applies every remaining rule: it can only come last")
    wrong_launch = {"template": "OldestLaunchConfiguration",
                    "configuration": "OldestLaunchTemplate"}[fleet.launch_kind]
    if wrong_launch in out:
        obj.problems.add(key, raw, f"{wrong_launch} never matches a group launched from a launch "
                                   f"{fleet.launch_kind}")
    if "AllocationStrategy" in out and mixed is None:
        obj.problems.add(key, raw, "AllocationStrategy needs webtier:capacity.mixedInstances")
    return tuple(out)


def parse_capacity(obj: ConfigObject, fleet: FleetSettings) -> CapacitySettings:
    mixed = _mixed(obj, fleet)
    lifetime = obj.integer("maxInstanceLifetime", 0, 0, MAX_LIFETIME)
    if 0 < lifetime < MIN_LIFETIME:
        obj.problems.add(f"{obj.key}.maxInstanceLifetime", lifetime,
                         f"must be 0 (no limit) or {MIN_LIFETIME}..{MAX_LIFETIME} seconds "
                         "(1 to 365 days)")
    settings = CapacitySettings(
        mixed=mixed,
        warm_pool=_warm_pool(obj, fleet, mixed),
        termination_policies=_termination(obj, fleet, mixed),
        max_instance_lifetime=lifetime,
        protect_from_scale_in=obj.flag("protectFromScaleIn", False),
    )
    obj.done()
    return settings
