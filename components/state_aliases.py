"""Module paths that existing stack state still names, mapped to where the code lives now.

Pulumi pickles a dynamic provider into the stack's state by reference: module path and class name
(dill pickles an importable class by name). Refresh, update and destroy import that path again, so
a module that moved must still be importable under its old name for as long as such state exists.
Each entry says which state needs it; an `up` rewrites the state with the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

MOVED: dict[str, str] = {
    # State written before components/ had subsystem packages (up to commit 8932c38).
    "components.kv_provider": "components.consul.kv_provider",
    "components.prepared_query": "components.consul.prepared_query",
    "components.rollout_gate": "components.fleet.rollout_gate",
    # State written before the KV provider had its own module pickled it from the component's.
    "components.consul_kv": "components.consul.kv_provider",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old path as a module whose names are the moved module's own objects."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def exec_module(self, module: ModuleType) -> None:
        moved = importlib.import_module(MOVED[module.__name__])
        # The same class objects, so an unpickled provider is an instance of today's class.
        module.__dict__.update({k: v for k, v in vars(moved).items() if not k.startswith("__")})


def install() -> None:
    """Makes the old paths importable; idempotent."""
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.append(_OldPaths())
