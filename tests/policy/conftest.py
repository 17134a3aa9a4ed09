"""Policy tests start without stack config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulumi.runtime import config as runtime_config


@pytest.fixture(autouse=True)
def no_stack_config() -> Iterator[None]:
    """Start every test without stack config (other tests' mock runs leave theirs behind)."""
    token = runtime_config.CONFIG.set({})
    yield
    runtime_config.CONFIG.reset(token)
