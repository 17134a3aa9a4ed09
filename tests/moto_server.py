"""Start a real moto server process on loopback and wait until it answers: one place for every
test and benchmark that needs one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_moto(python_args: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yield the URL of a moto server on 127.0.0.1; stop it afterwards.

    ``python_args`` replaces ``-m moto.server -H 127.0.0.1 -p PORT`` (the port is appended), for
    a server started through a small patching script.
    """
    port = free_port()
    args = [*python_args, str(port)] if python_args else \
        ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen([sys.executable, *args],
                            env={**os.environ, **FAKE_CREDENTIALS, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start on {url}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
