"""The house rules of the layout: subsystems import only what they may, no file is too long to
read, and no module imports itself back through another."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBSYSTEMS = ("access", "consul", "fleet", "image")
SHARED = ("components.settings", "components.pulumi_sdk", "components.state_aliases",
          "components.provider_errors")
FIRST_PARTY = ("components", "contracts", "plan", "deploy", "bootstrap", "consul_tokens", "policy",
               "mock_engine", "image", "tests")
MAX_LINES = 500


def tracked(pattern: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> Iterator[str]:
    """Every first-party module `path` imports (at any depth), resolved to the module itself."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if sub in modules else node.module


def first_party() -> dict[str, Path]:
    return {module_name(p): p for p in tracked("*.py")
            if p.relative_to(ROOT).parts[0] in FIRST_PARTY}


def test_a_subsystem_imports_no_other_subsystem() -> None:
    modules = first_party()
    crossings = []
    for name, path in modules.items():
        parts = name.split(".")
        if len(parts) < 2 or parts[0] != "components" or parts[1] not in SUBSYSTEMS:
            continue
        own = f"components.{parts[1]}"
        for target in imports(path, set(modules)):
            if target.startswith("components") and not target.startswith((own, *SHARED)):
                crossings.append(f"{name} imports {target}")
    assert crossings == [], "a fact two subsystems share belongs in contracts/"


def test_the_subsystems_are_the_layout() -> None:
    """Nothing new lands loose in components/: a module belongs to a subsystem or is shared."""
    loose = sorted(p.name for p in (ROOT / "components").glob("*.py"))
    assert loose == ["__init__.py", "provider_errors.py", "pulumi_sdk.py", "state_aliases.py"]
    assert sorted(p.name for p in (ROOT / "components").iterdir() if (p / "__init__.py").exists()
                  ) == sorted((*SUBSYSTEMS, "settings"))


@pytest.mark.parametrize("folder", ["components", "contracts", "plan", "deploy", "bootstrap",
                                    "consul_tokens", "policy", "mock_engine", "image", "bench",
                                    "tests"])
def test_no_file_is_over_500_lines(folder: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in tracked(f"{folder}/*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_import_cycle() -> None:
    """In the product's code; the tests' own doubles are held to the line limit, not to this."""
    modules = {n: p for n, p in first_party().items() if not n.startswith("tests")}
    graph = {name: set(imports(path, set(modules))) - {name} for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's own __init__ importing its submodules (re-exports) is not a cycle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []
