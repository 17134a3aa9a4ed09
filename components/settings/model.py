"""The whole stack's settings: one frozen object, built by parse.py, read by every component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.settings.capacity import CapacitySettings
from components.settings.consul import ConsulSettings
from components.settings.fleet import FleetSettings
from components.settings.image import ImageSettings
from components.settings.kv import KvSettings
from components.settings.load_balancer import LoadBalancerSettings
from components.settings.network import NetworkSettings
from components.settings.notifications import NotificationSettings
from components.settings.release import ReleaseSettings
from components.settings.rollout import RolloutSettings
from components.settings.scaling import ScalingSettings
from components.settings.secrets import StackSecrets
from contracts import names, release_layout


@dataclass(frozen=True)
class StackSettings:
    stack: str
    region: str
    app: str
    tags: Mapping[str, str]
    network: NetworkSettings
    load_balancer: LoadBalancerSettings
    fleet: FleetSettings
    scaling: ScalingSettings
    image: ImageSettings
    consul: ConsulSettings
    kv: KvSettings
    release: ReleaseSettings
    rollout: RolloutSettings
    secrets: StackSecrets
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    notifications: NotificationSettings | None = None

    @property
    def name(self) -> str:
        """Prefix for resource names: app and stack, so two stacks never collide in one account."""
        return names.resource_prefix(self.app, self.stack)

    @property
    def ssm_prefix(self) -> str:
        return names.ssm_prefix(self.app, self.stack)

    @property
    def deploy_keys(self) -> release_layout.DeployKeys:
        """The KV keys of the deploy pointer, history and previous release."""
        return release_layout.deploy_keys(self.kv.prefix, self.app)
