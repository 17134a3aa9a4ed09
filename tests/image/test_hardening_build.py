"""image/build.py given bad input, run for real as a process: one line, a documented exit code.

No Packer runs and nothing reaches AWS: each case fails before a build (the unreachable EC2
endpoint is a closed port on loopback).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[2] / "image/build.py"
BASE = ["--layer", "base", "--region", "ap-northeast-1", "--source-ami", "ami-0123456789abcdef0",
        "--builder-cidr", "203.0.113.7/32"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_build(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEBTIER_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_MAX_ATTEMPTS="1", NO_PROXY="*")
    return subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.integration
@pytest.mark.parametrize(("args", "needle"), [
    (["--ec2-double", "not a url"], "--ec2-double"),
    (["--ec2-double", "http://[::1"], "--ec2-double"),
    (["--ec2-double", "http://127.0.0.1:99999"], "--ec2-double"),
    (["--keep-last", "abc"], "--keep-last"),
    (["--keep-last", "0"], "--keep-last"),
    (["--timeout", "nan"], "--timeout"),
    (["--ec2-double", f"http://127.0.0.1:{closed_port()}"], "AWS:"),
])
def test_build_real_script_names_bad_input_in_one_line(args: list[str], needle: str) -> None:
    result = run_build(*BASE, *args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr
    assert result.stdout == ""


@pytest.mark.integration
def test_build_real_script_interrupted_exits_130_without_a_traceback() -> None:
    # An EC2 endpoint that accepts the connection and never answers keeps the script waiting.
    silent = socket.create_server(("127.0.0.1", 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEBTIER_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", NO_PROXY="*")
    proc = subprocess.Popen(
        [sys.executable, str(BUILD), *BASE, "--ec2-double",
         f"http://127.0.0.1:{silent.getsockname()[1]}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    silent.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert out == ""
