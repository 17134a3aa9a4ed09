"""Typed stack settings: the one place that reads a stack's config, validated before any resource.

Every value the program uses comes from here as a frozen object. A bad stack file stops the program
with every problem listed, each naming the config key, the value given and what is allowed.
One file per job: reader.py (the parsing framework), one file per config section (its dataclass
and parser), model.py (the whole), parse.py (validation), load.py (reading from the runtime).
"""

from components.settings.capacity import CapacitySettings, MixedInstances, WarmPool
from components.settings.capacity_schedule import PredictiveSettings, ScheduledAction
from components.settings.consul import ConsulSettings
from components.settings.fleet import FleetSettings, LaunchKind
from components.settings.image import ImageSettings, ImageSource
from components.settings.kv import KvSettings
from components.settings.load import load_settings, stack_file_kv_keys
from components.settings.load_balancer import LoadBalancerSettings
from components.settings.model import StackSettings
from components.settings.network import NetworkSettings, Subnet
from components.settings.notifications import NotificationSettings, Subscription
from components.settings.parse import PLAIN_KEYS, parse_settings
from components.settings.reader import Secret, SettingsError
from components.settings.release import ReleaseSettings
from components.settings.rollout import RolloutSettings
from components.settings.scaling import ScalingMode, ScalingSettings
from components.settings.secrets import SECRET_KEYS, StackSecrets
from contracts.names import HIGH_AVAILABILITY_STACKS, PROJECT, STACKS

__all__ = [
    "HIGH_AVAILABILITY_STACKS",
    "PLAIN_KEYS",
    "PROJECT",
    "SECRET_KEYS",
    "STACKS",
    "CapacitySettings",
    "ConsulSettings",
    "FleetSettings",
    "ImageSettings",
    "ImageSource",
    "KvSettings",
    "LaunchKind",
    "LoadBalancerSettings",
    "MixedInstances",
    "NetworkSettings",
    "NotificationSettings",
    "PredictiveSettings",
    "ReleaseSettings",
    "RolloutSettings",
    "ScalingMode",
    "ScalingSettings",
    "ScheduledAction",
    "Secret",
    "SettingsError",
    "StackSecrets",
    "StackSettings",
    "Subnet",
    "Subscription",
    "WarmPool",
    "load_settings",
    "parse_settings",
    "stack_file_kv_keys",
]
