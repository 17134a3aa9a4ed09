"""The offline plan says only what it knows: a clean tree plans no changes against itself, stderr
stays empty, every registered type has a replacement rule, mock placeholders are labelled."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mock_engine import ROOT, run_stack

STACKS = ("staging", "production")


def test_mock_engine_closes_every_event_loop_it_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # An event loop left open is closed by its finaliser; at interpreter exit that runs after its
    # self-pipe socket's and prints "Exception ignored ... Invalid file descriptor" on stderr.
    made: list[asyncio.AbstractEventLoop] = []  # holding them keeps finalisers from closing them
    new_event_loop = asyncio.new_event_loop

    def recording() -> asyncio.AbstractEventLoop:
        made.append(new_event_loop())
        return made[-1]

    monkeypatch.setattr(asyncio, "new_event_loop", recording)
    run_stack("staging")
    run_stack("production")
    assert len(made) > 2, "the SDK's executor threads made no loops: is this test still needed?"
    assert [loop for loop in made if not loop.is_closed()] == []


def clean_copy(dest: Path) -> Path:
    """This tree's files (tracked and new, as they are now) committed in a fresh repository."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-C", str(dest), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True, timeout=60)
    return dest


@pytest.fixture(scope="module")
def clean_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_copy(tmp_path_factory.mktemp("clean-clone"))


def run_plan(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plan", *args], cwd=tree, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.integration
@pytest.mark.parametrize("stack", STACKS)
def test_real_plan_of_a_clean_clone_against_its_own_head_shows_no_changes(
        clean_tree: Path, stack: str) -> None:
    # The base revision is extracted to a temporary directory: any input carrying the checkout's
    # path (the image build command did) shows up here as a change.
    done = run_plan(clean_tree, stack, "--base", "HEAD")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("No changes."), done.stdout
    assert done.stderr == ""


@pytest.mark.integration
@pytest.mark.parametrize("args", [("staging", "--compare", "production"),
                                  ("production", "--base", "HEAD"), ("staging",)],
                         ids=["compare", "base", "tree"])
def test_real_plan_runs_leave_stderr_empty(clean_tree: Path, args: tuple[str, ...]) -> None:
    # The leak showed in about one run in five: three runs each.
    for _ in range(3):
        done = run_plan(clean_tree, *args)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr[-3000:]
