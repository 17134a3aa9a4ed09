"""Timings measured on the fleet harness (tests/fleet_harness), not estimated.

Measured 2026-12-07 on a shared 2-vCPU AMD EPYC VM (23 GB, Linux 6.18, Debian 12, systemd 252
systemd-nspawn), three nodes booting at once from the converged image: 14.3-14.6 s on a quiet
machine, up to 24 s while other jobs held the cores. The number below is the upper one.
"""

from __future__ import annotations

NODE_BOOT_TO_IN_SERVICE = 24
"""Seconds from a node's power-on (systemd-nspawn start) to its launch hook completed (InService):
systemd boot, the user data (SSM secrets, Consul join over TLS with auto_encrypt, release pull
through stretcher from S3), consul-template's first render, the app passing /health. Not in it:
what EC2 does before the kernel runs (placement, firmware, kernel boot), which no harness here
can measure."""
