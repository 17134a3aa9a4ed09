"""The one mocks module the tests share: Pulumi mocks plus a monitor that records options.

It re-exports the mock engine the offline plan also uses, so tests and plan see the program alike.
"""

from __future__ import annotations

from mock_engine import (
    PLACEHOLDER_KV_SECRET,
    PLACEHOLDER_SECRETS,
    PROMOTED_AMI,
    SECRET,
    UNKNOWN,
    RecordingMonitor,
    Registration,
    StackRun,
    WebtierMocks,
    run_program,
    run_stack,
    stack_config,
    use_mocks,
)

__all__ = [
    "PLACEHOLDER_KV_SECRET",
    "PLACEHOLDER_SECRETS",
    "PROMOTED_AMI",
    "SECRET",
    "UNKNOWN",
    "RecordingMonitor",
    "Registration",
    "StackRun",
    "WebtierMocks",
    "run_program",
    "run_stack",
    "stack_config",
    "use_mocks",
]
