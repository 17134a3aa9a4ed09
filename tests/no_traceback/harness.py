"""Runs an entry point as a subprocess and holds it to docs/exit-codes.md: the documented exit
code, no traceback, and (for a refusal) a message on stderr. Plus a Consul stand-in that answers
what a broken proxy or a corrupted KV would: it checks nothing, it only says bad things."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests import loopback

ROOT = Path(__file__).resolve().parent.parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """No AWS or Consul settings from the caller: nothing may reach a real service."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONSUL_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="ap-northeast-1", AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def run(argv: Sequence[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None,
        stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), cwd=cwd, env=env or clean_env(), input=stdin,
                          capture_output=True, timeout=timeout, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def assert_exit(done: subprocess.CompletedProcess[str], code: int, says: str = "") -> None:
    where = f"{done.args}: exit {done.returncode}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, where
    assert "Traceback" not in done.stdout, where
    assert done.returncode == code, where
    if code != 0:
        assert done.stderr.strip(), where
    if says:
        assert says in done.stderr, where


Answer = tuple[int, str]
"""(status, body) the stand-in gives."""


@contextmanager
def bad_consul(answer: Callable[[str, str], Answer]) -> Iterator[str]:
    """An HTTP server on loopback answering every request with ``answer(method, path)``."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body = answer(self.command, self.path)
            data = body.encode("utf-8", "surrogateescape")
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Consul-Index", "7")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = do_POST = _reply

        def log_message(self, *args: object) -> None:
            pass

    with loopback.serving(Handler) as url:
        yield url


def kv_entry(key: str, value: bytes | str) -> str:
    """A /v1/kv answer holding one key, as Consul gives it."""
    raw = value.encode() if isinstance(value, str) else value
    return json.dumps([{"Key": key, "Value": base64.b64encode(raw).decode(), "ModifyIndex": 7,
                        "CreateIndex": 7, "LockIndex": 0, "Flags": 0}])


DEEP_JSON = "[" * 100_000 + "]" * 100_000
