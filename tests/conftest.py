"""Shared fixtures: a real moto server on loopback for the integration tests."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.moto_server import FAKE_CREDENTIALS, running_moto

ROOT = Path(__file__).resolve().parent.parent

# A real Consul agent (tests/real_consul.py): fixtures consul_agent, consul_agent_tls, kv_prefix.
pytest_plugins = ["tests.real_consul"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto server process (``moto_server``) on 127.0.0.1; yields its endpoint URL.

    Fake credentials are exported so nothing can reach a real AWS account.
    """
    saved = {k: os.environ.get(k) for k in (*FAKE_CREDENTIALS, "AWS_SESSION_TOKEN")}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        with running_moto() as url:
            yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def moto_reset(moto_server: str) -> str:
    """The shared moto server with its state wiped, for tests that count what exists."""
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=5).close()
    return moto_server


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """How `-n N` (`scripts/test` runs `-n auto`) shares the tests out: see tests/xdist_units.py.
    An explicit `--dist` other than the default `load` is left to xdist."""
    if config.getoption("dist") != "load":
        return None
    from tests.xdist_units import SharedSetupScheduling

    return SharedSetupScheduling(config, log)
