"""Lifecycle hook names and the file that tells an instance about them.

The group defines the hooks (components/fleet/fleet.py); the instance's `lifecycle-hook` script
completes them. Both read these names; user data writes them into LIFECYCLE_ENV.
"""

from __future__ import annotations

LAUNCH_HOOK = "webtier-launch"
"""New instances wait in Pending:Wait until the release is pulled and the app is healthy."""
TERMINATE_HOOK = "webtier-terminate"
"""Leaving instances wait in Terminating:Wait to deregister, drain and leave Consul."""
LAUNCH_TRANSITION = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATE_TRANSITION = "autoscaling:EC2_INSTANCE_TERMINATING"
LIFECYCLE_ENV = "/etc/webtier/lifecycle.env"


def group_name_prefix(fleet_name: str) -> str:
    """The group's name prefix: IAM grants on lifecycle actions are scoped to it."""
    return f"{fleet_name}-"
