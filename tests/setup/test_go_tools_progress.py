"""scripts/go-tools says what it is building, with a time estimate, before each build starts
(a first build of Consul or Packer takes minutes), and says nothing of the kind when cached.

Runs the real script on a copy of gotools/ in a temp dir with a stand-in `go` on PATH that
records when it was started, so nothing is compiled and the checkout's .tools is untouched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mock_engine import ROOT

FAKE_GO = """#!/usr/bin/env bash
# Stand-in for `go build ... -o OUT PKG`: note the call in the shared log, write OUT.
out=
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
echo "go build -> $(basename "$out")" >>"$GO_LOG"
printf '#!/bin/sh\\n' >"$out" && chmod +x "$out"
"""


@pytest.mark.integration
def test_each_build_is_announced_with_its_estimate_before_it_starts(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts/go-tools", repo / "scripts/go-tools")
    shutil.copy(ROOT / "scripts/tools-path", repo / "scripts/tools-path")
    for tool in (ROOT / "gotools").iterdir():
        (repo / "gotools" / tool.name).mkdir(parents=True)
        for name in ("go.mod", "go.sum"):
            shutil.copy(tool / name, repo / "gotools" / tool.name / name)
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    (fakebin / "go").write_text(FAKE_GO)
    (fakebin / "go").chmod(0o755)
    # The fake go appends to the log; the script's stdout goes there too (append mode, so
    # neither overwrites the other), in the order they happened.
    log = tmp_path / "combined.log"
    log.touch()
    env = {**os.environ, "PATH": f"{fakebin}:/usr/bin:/bin",
           "WEBTIER_TOOLS_CACHE": str(tmp_path / "cache"), "GO_LOG": str(log)}
    with log.open("a") as out:
        done = subprocess.run(["bash", str(repo / "scripts/go-tools")], env=env, stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    builds = [i for i, line in enumerate(lines) if line.startswith("go build -> ")]
    assert len(builds) == 6
    for i in builds:
        binary = lines[i].removeprefix("go build -> ")
        assert re.fullmatch(rf"go-tools: building {re.escape(binary)} \d[\w.-]* \(about \d+ "
                            r"min on 2 cores\)\.\.\.", lines[i - 1]), lines[i - 1]
    consul = next(line for line in lines if line.startswith("go-tools: building consul "))
    assert consul == "go-tools: building consul 1.14.11 (about 10 min on 2 cores)..."
    # A second run finds every build cached: no announcement, no build.
    log.write_text("")
    with log.open("a") as out:
        subprocess.run(["bash", str(repo / "scripts/go-tools")], env=env, stdout=out,
                       check=True, timeout=120)
    again = log.read_text()
    assert "building" not in again
    assert again.count(" cached\n") == 6
