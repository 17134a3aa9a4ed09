"""scripts/mutation's bookkeeping over mutmut's cache (mutants/*.py.meta)."""

from __future__ import annotations

import json
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutation"


@pytest.fixture
def mutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = ModuleType("mutation_script")
    module.__file__ = str(SCRIPT)
    SourceFileLoader("mutation_script", str(SCRIPT)).exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def test_recheck_forgets_only_undetected_verdicts(mutation: ModuleType, tmp_path: Path) -> None:
    meta = tmp_path / "mutants" / "plan" / "x.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"killed": 1, "survived": 0, "no_tests": 33, "none_ran": 5, "unchecked": None,
             "type_check": 37, "timeout": -24}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "other": "kept"}))
    assert mutation.forget_survivors() == 3
    assert json.loads(meta.read_text()) == {
        "exit_code_by_key": {"killed": 1, "survived": None, "no_tests": None, "none_ran": None,
                             "unchecked": None, "type_check": 37, "timeout": -24},
        "other": "kept"}
    assert mutation.forget_survivors() == 0
