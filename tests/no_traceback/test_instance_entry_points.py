"""The instance scripts on bad arguments, bad files and bad environments: the exit code
docs/exit-codes.md gives and no traceback. Nothing here reaches a network: Consul and the
instance metadata are pointed at a closed loopback port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.no_traceback.harness import assert_exit, run

pytestmark = pytest.mark.integration  # every test here starts processes

FILES = Path(__file__).resolve().parent.parent.parent / "image/ansible/roles/stretcher/files"
URL = "s3://rel-staging/releases/webapp/r1/manifest.yml"
GOOD_ENV = "APP_NAME=webapp\nRELEASE_BUCKET=rel-staging\nKV_PREFIX=webapp/staging\n" \
           "DEPLOY_POINTER_KEY=deploy/webapp/current\n"


def env(tmp: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.defpath, "WEBTIER_NODE_ENV": str(tmp / "node.env"),
            "WEBTIER_ROOT": str(tmp / "app"), "WEBTIER_STATE_DIR": str(tmp / "state"),
            "WEBTIER_LIFECYCLE_ENV": str(tmp / "lifecycle.env"),
            "CONSUL_HTTP_ADDR": "127.0.0.1:1", "WEBTIER_IMDS": "http://127.0.0.1:1",
            "WEBTIER_PULL_WAIT": "0.1", **extra}


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(FILES / name), *args]


@pytest.mark.parametrize(("node_env", "args", "code"), [
    (b"APP_NAME='webapp\n", ["--manifest", URL], 2),            # unclosed quote
    (b"\xff\xfe", ["--manifest", URL], 2),                       # not UTF-8
    (GOOD_ENV.encode(), ["--manifest", "s3://other/x"], 2),      # outside the layout
    (GOOD_ENV.encode(), ["--manifest", URL + "\n"], 2),
    (GOOD_ENV.encode(), ["--manifest", "s3://rel-staging/releases/webapp/../r1/manifest.yml"],
     2),
    (GOOD_ENV.encode(), ["--bogus"], 2),
    (b"", ["--manifest", URL], 2),                               # nothing set
    (GOOD_ENV.encode(), [], 1),                                  # Consul unreachable
])
def test_release_pull(tmp_path: Path, node_env: bytes, args: list[str], code: int) -> None:
    (tmp_path / "node.env").write_bytes(node_env)
    assert_exit(run(script("release-pull", *args), env=env(tmp_path), timeout=60), code)


def test_release_pull_with_a_deeply_nested_record_is_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "node.env").write_text(GOOD_ENV)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "deployed.json").write_text("[" * 100_000)
    # No stretcher on PATH: the deploy fails (1) after reading the record, which must not crash.
    assert_exit(run(script("release-pull", "--manifest", URL), env=env(tmp_path)), 1)


@pytest.mark.parametrize(("args", "code"), [
    ([], 2), (["a", "b", "c"], 2), (["../etc"], 2), (["--bogus"], 2),
    (["activate", "../etc"], 1), (["activate", "r1\n"], 1), (["activate", "nosuch"], 1),
    (["prepare", "r1/../../x"], 1), (["prune", "x"], 2), (["prune", "--keep", "x"], 2),
])
def test_release_switch(tmp_path: Path, args: list[str], code: int) -> None:
    (tmp_path / "app" / "releases").mkdir(parents=True)
    assert_exit(run(script("release-switch", *args), env=env(tmp_path)), code)


@pytest.mark.parametrize(("lifecycle_env", "args"), [
    (None, ["launch"]),                         # no env file
    (b"LAUNCH_HOOK='x\n", ["launch"]),          # unclosed quote
    (b"\xff\xfe", ["terminate"]),                # not UTF-8
    (b"AWS_REGION=x\n", ["watch"]),             # IMDS unreachable
    (b"", ["nosuch"]),
    (b"", []),
])
def test_lifecycle_hook_bad_setup_is_exit_2(tmp_path: Path, lifecycle_env: bytes | None,
                                            args: list[str]) -> None:
    if lifecycle_env is not None:
        (tmp_path / "lifecycle.env").write_bytes(lifecycle_env)
    assert_exit(run(script("lifecycle-hook", *args), env=env(tmp_path), timeout=60), 2)
