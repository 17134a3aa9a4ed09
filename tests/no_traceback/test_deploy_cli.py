"""`python -m deploy` on bad arguments, bad files and bad answers from Consul: the documented exit
code (docs/exit-codes.md: 1 refused, 2 bad usage) and one line, never a traceback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.no_traceback.harness import (
    DEEP_JSON,
    Answer,
    assert_exit,
    bad_consul,
    kv_entry,
    python,
    run,
)

pytestmark = pytest.mark.integration  # every test here starts processes

BASE = ["--stack", "staging", "--bucket", "webapp-staging-releases"]
DEPLOY = "webapp/staging/deploy/webapp"  # Pulumi.staging.yaml: app webapp, default KV prefix


@pytest.mark.parametrize("argv", [
    ["push", *BASE, "--bake", "nan", "--canary", "1", "."],
    ["push", *BASE, "--bake", "inf", "--canary", "1", "."],
    ["push", *BASE, "--bake", "-1", "--canary", "1", "."],
    ["push", *BASE, "--timeout", "nan", "."],
    ["push", *BASE, "--timeout", "inf", "."],
    ["push", *BASE, "--timeout", "-5", "."],
    ["push", *BASE, "--timeout", "0", "."],
    ["status", *BASE, "--timeout", "nan"],
    ["rollback", *BASE, "--timeout", "-1"],
    ["push", *BASE, "--canary", "", "."],
    ["push", *BASE, "--canary", "0", "."],
    ["push", *BASE, "--canary", "abc", "."],
    ["push", *BASE, "--canary", "150%", "."],
    ["push", *BASE, "--canary", "-1", "."],
    ["push", *BASE, "--keep", "x", "."],
    ["push", "--stack"],
    ["nosuch"],
    [],
])
def test_bad_usage_exits_2_with_one_line(argv: list[str]) -> None:
    done = run(python("-m", "deploy", *argv))
    assert_exit(done, 2)
    assert done.stderr.strip().splitlines()[-1].startswith("python -m deploy")


@pytest.mark.parametrize(("argv", "says"), [
    (["status", "--stack", "staging", "--app", "webapp\n"], "--app"),
    (["status", "--stack", "staging", "--bucket", "bucket\n"], "--bucket"),
    (["status", *BASE, "--region", "ap-northeast-1\n"],
     "--region"),
    (["status", *BASE, "--kv-prefix", "webapp/staging\n"], "--kv-prefix"),
    (["status", *BASE, "--kv-prefix", "../other"], "--kv-prefix"),
    (["status", "--stack", "nosuch", "--bucket", "b"], "--stack"),
    (["status", *BASE, "--consul-addr", "not a url"], "--consul-addr"),
])
def test_bad_values_are_refused_with_exit_1_naming_the_flag(argv: list[str], says: str) -> None:
    done = run(python("-m", "deploy", *argv, "--consul-addr", "127.0.0.1:1")
               if "--consul-addr" not in argv else python("-m", "deploy", *argv))
    assert_exit(done, 1, says)
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"\xff\xfe token", b"", b"a\x00b"])
def test_a_bad_token_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    token = tmp_path / "token"
    token.write_bytes(content)
    done = run(python("-m", "deploy", "status", *BASE, "--consul-addr", "127.0.0.1:1",
                      "--consul-token-file", str(token)))
    assert_exit(done, 1, "token")
    assert "\xff" not in done.stderr


def test_a_token_file_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    done = run(python("-m", "deploy", "status", *BASE, "--consul-addr", "127.0.0.1:1",
                      "--consul-token-file", str(tmp_path)))
    assert_exit(done, 1, "token")


@pytest.fixture
def release(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "release"
    path.mkdir()
    (path / "app.txt").write_text("v1")
    return path


def test_a_unix_socket_in_the_release_is_refused_naming_it(release: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(release / "app.sock"))
        done = run(python("-m", "deploy", "push", *BASE, "--consul-addr", "127.0.0.1:1",
                          str(release)))
    finally:
        sock.close()
    assert_exit(done, 1, "'app.sock' in the release is a unix socket")


def test_a_fifo_in_the_release_is_refused_naming_it(release: Path) -> None:
    os.mkfifo(release / "pipe")
    done = run(python("-m", "deploy", "push", *BASE, "--consul-addr", "127.0.0.1:1",
                      str(release)))
    assert_exit(done, 1, "'pipe' in the release is a named pipe")


def test_a_hard_link_is_refused_as_a_hard_link(release: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("not for the release")
    os.link(tmp_path / "outside", release / "copy.txt")
    done = run(python("-m", "deploy", "push", *BASE, "--consul-addr", "127.0.0.1:1",
                      str(release)))
    assert_exit(done, 1, "'copy.txt' in the release is a hard link")


def answers(**by_key: Answer) -> object:
    """Answers by KV key (the deploy folder's last part); 404 for the rest of /v1/kv."""

    def answer(method: str, path: str) -> Answer:
        for name, reply in by_key.items():
            if path.split("?")[0].rstrip("/").endswith(f"{DEPLOY}/{name}"):
                return reply
        if path.startswith("/v1/kv/"):
            return 404, ""
        if path.startswith("/v1/health/service/"):
            return 200, "[]"
        return 200, "{}"

    return answer


HTML = (200, "<html><body>502 Bad Gateway</body></html>")


@pytest.mark.parametrize(("name", "answer"), [
    ("html everywhere", lambda m, p: HTML),
    ("html 502 everywhere", lambda m, p: (502, HTML[1])),
    ("deep nesting everywhere", lambda m, p: (200, DEEP_JSON)),
    ("an object where a list belongs", lambda m, p: (200, '{"Key": "x"}')),
    ("a value that is not base64", lambda m, p: (200, '[{"Key": "k", "Value": "!!"}]')),
    ("deep history", answers(history=(200, kv_entry(f"{DEPLOY}/history", DEEP_JSON)))),
    ("history is an object", answers(history=(200, kv_entry(f"{DEPLOY}/history", '{"a": 1}')))),
    ("history of numbers", answers(history=(200, kv_entry(f"{DEPLOY}/history", "[1, 2]")))),
    ("history entry of wrong fields",
     answers(history=(200, kv_entry(f"{DEPLOY}/history", '[{"release": 1}]')))),
    ("history entries of wrong types", answers(history=(200, kv_entry(
        f"{DEPLOY}/history",
        '[{"release": ["r"], "manifest": {}, "at": 1, "by": null}]')))),
    ("deep canary record", answers(canary=(200, kv_entry(f"{DEPLOY}/canary", DEEP_JSON)))),
    ("canary record is a list", answers(canary=(200, kv_entry(f"{DEPLOY}/canary", "[]")))),
])
@pytest.mark.parametrize("command", [["status"], ["rollback", "--no-wait"],
                                     ["push", "--abort", "--no-wait"], ["notify"]])
def test_bad_consul_answers_are_one_line_exit_1(name: str, answer: object,
                                                command: list[str]) -> None:
    with bad_consul(answer) as address:  # type: ignore[arg-type]
        done = run(python("-m", "deploy", *command, *BASE, "--consul-addr", address,
                          "--s3-endpoint", "http://127.0.0.1:1"), timeout=120)
    if done.returncode == 0:  # status and notify may have nothing to refuse on some answers
        assert "Traceback" not in done.stderr + done.stdout
        return
    assert_exit(done, 1)


def test_status_strips_terminal_escapes_that_kv_holds() -> None:
    evil = "https://b.s3/x\x1b]0;owned\x07\x1b[2J\r\x9bX"
    answer = answers(current=(200, kv_entry(f"{DEPLOY}/current", evil)),
                     history=(200, kv_entry(f"{DEPLOY}/history", (
                         '[{"release": "r1\\u001b[31m", "manifest": "m\\u0007", "at": "t", '
                         '"by": "b\\u001b]8;;x"}]'))))
    with bad_consul(answer) as address:  # type: ignore[arg-type]
        done = run(python("-m", "deploy", "status", *BASE, "--consul-addr", address))
    assert "Traceback" not in done.stderr
    for text in (done.stdout, done.stderr):
        assert not any(c in text for c in "\x1b\x07\x9b\r"), repr(text)
    assert "\\x1b]0;owned" in done.stdout
