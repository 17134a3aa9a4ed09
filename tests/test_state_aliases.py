"""Old module paths in stack state resolve to today's classes (components/state_aliases.py)."""

from __future__ import annotations

import importlib
import pickle

import pytest

from components.consul.kv_provider import ConsulKvProvider
from components.consul.prepared_query import PreparedQueryProvider
from components.fleet.rollout_gate import RolloutGateProvider
from components.state_aliases import MOVED


def by_reference(module: str, name: str) -> bytes:
    """What dill writes for an importable class: protocol 0's GLOBAL opcode, module and name."""
    return f"c{module}\n{name}\n.".encode()


@pytest.mark.parametrize(("old", "cls"), [
    ("components.kv_provider", ConsulKvProvider),
    ("components.consul_kv", ConsulKvProvider),
    ("components.prepared_query", PreparedQueryProvider),
    ("components.rollout_gate", RolloutGateProvider),
])
def test_a_provider_pickled_under_its_old_path_is_todays_class(old: str, cls: type) -> None:
    assert pickle.loads(by_reference(old, cls.__name__)) is cls  # noqa: S301 (our own bytes)


def test_every_alias_names_a_module_that_exists() -> None:
    for new in MOVED.values():
        importlib.import_module(new)
