"""Every ```sh block in README.md and docs/ runs offline, or says why not.

A block that needs a cloud account, a Consul cluster, GitHub or a long build is marked by an
HTML comment right before it: `<!-- not-offline: why -->`. Every other block runs as one bash
script (`set -e`, so each of its commands must succeed) in a fresh local clone of the
repository with the project's venv, where `origin/main` is the commit under test (as in a PR
whose base is its parent): what a reader copies is what runs."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = re.compile(r"^\s*<!-- not-offline: (.+?) -->\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    script: str
    not_offline: str | None


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().split("\n")
    found, i = [], 0
    while i < len(lines):
        opened = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not opened:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
        if opened.group(2) in ("sh", "bash", "shell"):
            indent = len(opened.group(1))
            mark = MARK.match(lines[i - 1]) if i else None
            body = "\n".join(line[indent:] for line in lines[i + 1:end])
            found.append(Block(page.name, i + 1, body, mark.group(1) if mark else None))
        i = end + 1
    return found


ALL = [b for p in PAGES for b in blocks(p)]
OFFLINE = [b for b in ALL if b.not_offline is None]


def test_there_are_blocks_of_both_kinds() -> None:
    assert len(OFFLINE) >= 3
    assert all(len(b.not_offline or "") > 20 for b in ALL if b.not_offline), "say why"


def test_the_parser_finds_marked_and_unmarked_blocks(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("x\n<!-- not-offline: needs AWS credentials -->\n```sh\naws s3 ls\n```\n"
                    "  ```sh\n  echo a \\\n    b\n  ```\n```\nnot a command\n```\n")
    assert blocks(page) == [Block("p.md", 3, "aws s3 ls", "needs AWS credentials"),
                            Block("p.md", 6, "echo a \\\n  b", None)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("docs") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(work)],
                   check=True, timeout=120)
    subprocess.run(["git", "-C", str(work), "update-ref", "refs/remotes/origin/main", "HEAD"],
                   check=True)
    (work / "venv").symlink_to(ROOT / "venv")
    return work


@pytest.mark.integration
@pytest.mark.parametrize("block", OFFLINE, ids=[f"{b.page}:{b.line}" for b in OFFLINE])
def test_an_offline_block_runs(block: Block, clone: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_",
                                                                   "CONSUL_", "GITHUB_"))}
    done = subprocess.run(["bash", "-e", "-c", block.script], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{block.page}:{block.line}\n{block.script}\n{done.stderr[-2000:]}"
    assert done.stdout.strip(), "a documented command that prints nothing"
