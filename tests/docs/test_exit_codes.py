"""docs/exit-codes.md's table is generated from each entry point's EXIT_CODES, and each entry
point's exit constants and literal returns name only codes its EXIT_CODES documents."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from contracts import exit_code_table
from contracts.exit_code_table import DOC, ENTRY_POINTS, ROOT, exit_codes, rewritten


def test_the_doc_table_is_the_generated_one() -> None:
    assert DOC.read_text() == rewritten(DOC.read_text()), (
        "docs/exit-codes.md drifted from the code: run `venv/bin/python -m "
        "contracts.exit_code_table`")


def used_codes(path: Path) -> set[int]:
    """Every int an EXIT_* name is set to, and every int literal `main` returns or exits with."""
    tree = ast.parse(path.read_text())
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            names = [n for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            values = [v for v in ast.walk(node.value) if isinstance(v, ast.Constant)]
            if any(n.id.startswith("EXIT_") and n.id != "EXIT_CODES" for n in names):
                found |= {v.value for v in values if isinstance(v.value, int)}
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Constant) \
                        and isinstance(sub.value.value, int):
                    found.add(sub.value.value)
    return found


@pytest.mark.parametrize(("name", "path"), ENTRY_POINTS, ids=[n for n, _ in ENTRY_POINTS])
def test_every_code_an_entry_point_uses_is_documented(name: str, path: str) -> None:
    codes = exit_codes(ROOT / path)
    assert 0 in codes, name
    assert used_codes(ROOT / path) <= set(codes), (name, used_codes(ROOT / path) - set(codes))


def test_a_changed_meaning_changes_the_table(tmp_path: Path) -> None:
    # Guards the generator: it reads the files, not a copy of the table.
    for _, path in ENTRY_POINTS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    plan = tmp_path / "plan" / "cli.py"
    plan.write_text(plan.read_text().replace('3: "`--bootstrap-status`: not bootstrapped yet"',
                                             '3: "something else"'))
    table = exit_code_table.table(tmp_path)
    assert "something else" in table
    assert table != exit_code_table.table(ROOT)


def test_the_help_of_plan_and_deploy_lists_the_same_codes() -> None:
    from deploy.cli import EXIT_CODES as DEPLOY
    from deploy.cli import parser
    from plan.cli import EXIT_CODES as PLAN

    deploy_help = parser().format_help()
    for code, meaning in DEPLOY.items():
        assert f"  {code:<4} {meaning.replace('`', '')}" in deploy_help, code
    assert set(PLAN) == {0, 1, 2, 3, 130}
