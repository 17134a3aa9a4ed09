"""The fleet subsystem: the instances, how they start, scale and roll.

Owns the load balancer, the launch template or configuration and the Auto Scaling group
(fleet.py, capacity_options.py), the boot user data (user_data.py), CPU scaling (scaling.py over
alarm_specs.py), health alarms (health_alarms.py over health_alarm_specs.py), the notification
topic, and the rollout gate that waits for an instance refresh (rollout_gate.py over
refresh_watch.py). Imports only `components.settings`, `contracts/` and its own modules.
"""
