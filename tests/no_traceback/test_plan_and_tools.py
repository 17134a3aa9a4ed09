"""Every plan mode, the program under the mock engine (what the tree mode runs), bootstrap (bad
arguments only), consul_tokens and image/build.py, fed unusable stack files, bad arguments and a
Consul that answers garbage: the exit code docs/exit-codes.md gives, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.no_traceback.harness import (
    DEEP_JSON,
    ROOT,
    assert_exit,
    bad_consul,
    clean_env,
    python,
    run,
)

pytestmark = pytest.mark.integration  # every test here starts processes

# Stack files no reader can use, each with a phrase of the one-line error.
UNUSABLE = {
    "not yaml": (b"config: [unclosed\n", "is not valid YAML"),
    "a list": (b"- a\n- b\n", "the top level is a list"),
    "config a list": (b"config: [1, 2]\n", "`config` is a list"),
    "deep lists": (b"config:\n  webtier:fleet: " + b"[" * 5000 + b"]" * 5000 + b"\n",
                   "nests deeper than 50 levels"),
    "deep maps": (b"config:\n  webtier:fleet: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n",
                  "nests deeper than 50 levels"),
    "binary": (b"\xff\xfe\x00", "is not UTF-8"),
    "NUL": (b"config:\n  aws:region: a\x00b\n", "NUL"),
    "duplicate key": (b"config:\n  aws:region: ap-northeast-1\n  aws:region: us-east-1\n",
                      "is given twice"),
    "alias bomb": (b"a: &a [x, x, x, x, x, x, x, x, x]\n"
                   + b"".join(b"%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n"
                              % ((bytes([98 + i]),) * 2 + (bytes([97 + i]),) * 9)
                              for i in range(15)),
                   "alias"),
    "too big": (b"config:\n  x: '" + b"a" * 1_100_000 + b"'\n", "over the"),
}

MODES = [[], ["--capacity"], ["--bootstrap-status"], ["--policy"], ["--compare", "production"],
         ["--capacity", "--compare", "production"]]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the project, so a test can put any file where Pulumi.staging.yaml goes."""
    root = tmp_path_factory.mktemp("tree")
    for name in ("components", "contracts", "plan", "mock_engine", "policy", "bootstrap",
                 "config", "image", "consul_tokens", "deploy"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.production.yaml", "Pulumi.staging.yaml"):
        shutil.copy(ROOT / name, root / name)
    return root


@pytest.fixture
def staging(tree: Path) -> Iterator[Path]:
    good = (tree / "Pulumi.staging.yaml").read_bytes()
    yield tree / "Pulumi.staging.yaml"
    (tree / "Pulumi.staging.yaml").write_bytes(good)


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_every_plan_mode_refuses_an_unusable_stack_file_with_exit_2(
        tree: Path, staging: Path, case: str, mode: list[str]) -> None:
    content, says = UNUSABLE[case]
    staging.write_bytes(content)
    done = run(python("-m", "plan", "staging", *mode), cwd=tree)
    assert_exit(done, 2, says)
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", [DEEP_JSON, "{" * 50_000, '{"a": ' * 50_000])
@pytest.mark.parametrize("mode", [[], ["--capacity"], ["--policy"]], ids=" ".join)
def test_a_deeply_nested_json_setting_is_a_settings_error(tree: Path, staging: Path, value: str,
                                                          mode: list[str]) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    doc["config"]["webtier:fleet"] = value
    staging.write_text(yaml.safe_dump(doc))
    assert_exit(run(python("-m", "plan", "staging", *mode), cwd=tree), 2, "webtier:fleet")


@pytest.mark.parametrize("argv", [["nosuch"], ["staging", "--bogus"], ["staging", "--base"],
                                  ["staging", "--compare", "nosuch"],
                                  ["staging", "--base", "no-such-ref"],
                                  ["staging", "--capacity", "--policy"], ["../etc/passwd"]])
def test_plan_bad_arguments_exit_2(tree: Path, argv: list[str]) -> None:
    assert_exit(run(python("-m", "plan", *argv), cwd=tree), 2)


@pytest.mark.parametrize("argv", [
    [], ["--region", "ap-northeast-1\n", "--state-bucket", "acme-state", "--github-repo", "a/b",
         "--dry-run"],
    ["--region", "ap-northeast-1", "--state-bucket", "acme-state\n", "--github-repo", "a/b",
     "--dry-run"],
    ["--region", "ap-northeast-1", "--state-bucket", "Acme_State", "--github-repo", "a/b",
     "--dry-run"],
    ["--region", "ap-northeast-1", "--state-bucket", "acme-state", "--github-repo", "a/b\n",
     "--dry-run"],
    ["--bogus"],
])
def test_bootstrap_bad_arguments_exit_2(argv: list[str]) -> None:
    assert_exit(run(python("-m", "bootstrap", *argv)), 2)


@pytest.mark.parametrize("argv", [[], ["--stack", "nosuch"], ["--stack", "staging\n"],
                                  ["--stack", "staging", "--bogus"]])
def test_consul_tokens_bad_arguments_exit_2(argv: list[str]) -> None:
    assert_exit(run(python("-m", "consul_tokens", *argv)), 2)


@pytest.mark.parametrize("case", ["not yaml", "deep lists", "duplicate key", "binary"])
def test_consul_tokens_unusable_stack_file_exit_2(tree: Path, staging: Path, case: str) -> None:
    staging.write_bytes(UNUSABLE[case][0])
    done = run(python("-m", "consul_tokens", "--stack", "staging", "--dry-run"), cwd=tree)
    assert_exit(done, 2, UNUSABLE[case][1])


@pytest.mark.parametrize("body", [(200, "<html>502</html>"), (502, "<html>502</html>"),
                                  (200, DEEP_JSON), (200, '"a string"'), (200, "[1, 2]")])
def test_consul_tokens_bad_consul_answers_exit_3(body: tuple[int, str]) -> None:
    with bad_consul(lambda m, p: body) as address:
        done = run(python("-m", "consul_tokens", "--stack", "staging", "--set-config",
                          "--address", address),
                   env=clean_env(CONSUL_HTTP_TOKEN="bootstrap-token"))
    assert_exit(done, 3)
    assert "bootstrap-token" not in done.stderr


@pytest.mark.parametrize("argv", [
    ["--layer", "middle", "--region", "ap-northeast-1", "--source-ami", "ami-0123456789abcdef0"],
    ["--layer", "base", "--region", "ap-northeast-1\n", "--source-ami", "ami-0123456789abcdef0"],
    ["--layer", "base", "--region", "ap-northeast-1", "--source-ami", "ami-0123456789abcdef0\n"],
    ["--layer", "base", "--region", "ap-northeast-1", "--source-ami", "ami-0123456789abcdef0",
     "--subnet-id", "subnet-1;reboot"],
    ["--layer", "base", "--region", "ap-northeast-1", "--source-ami", "ami-0123456789abcdef0",
     "--keep-last", "many"],
    ["--layer", "base"],
])
def test_image_build_bad_input_exit_1(argv: list[str]) -> None:
    done = run(python("image/build.py", *argv), env=clean_env(WEBTIER_IMAGE_EC2_DOUBLE="1"))
    assert_exit(done, 1)


def test_image_build_bad_usage_exit_2() -> None:
    assert_exit(run(python("image/build.py", "--bogus")), 2)
