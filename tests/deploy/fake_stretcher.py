"""A stand-in for stretcher, for the canary fleet only: several simulated nodes share one machine
but not one /opt/app, so this puts each node's release under its WEBTIER_ROOT instead of the
manifest's literal `dest` (contracts.release_layout.APP_ROOT). Everything else is what stretcher
does: fetch the manifest and archive from S3 (moto), check the SHA-256, run pre, unpack, post, then
success or failure. The real stretcher runs in tests/instance/test_instance_scripts.py and
tests/deploy/test_deploy.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import yaml

from contracts.release_layout import APP_ROOT


def _fetch(url: str) -> bytes:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3":
        raise ValueError(f"manifest URL scheme must be s3: {url}")
    answer = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    return bytes(answer["Body"].read())


def _invoke(commands: list[str] | None, log: str = "") -> None:
    for command in commands or []:
        subprocess.run(["sh", "-c", command], input=log, text=True, check=True)


def main() -> int:
    if "CONSUL_INDEX" in os.environ:
        events = json.loads(sys.stdin.read() or "[]")
        if not events:
            return 0
        url = base64.b64decode(events[-1]["Payload"]).decode()
    else:
        url = sys.stdin.readline().strip()
    manifest: dict[str, Any] = {}
    try:
        manifest = yaml.safe_load(_fetch(url).decode())
        src = _fetch(manifest["src"])
        if hashlib.sha256(src).hexdigest() != str(manifest["checksum"]).lower():
            raise ValueError("checksum mismatch")
        commands = manifest.get("commands") or {}
        dest = Path(str(manifest["dest"]).replace(APP_ROOT, os.environ["WEBTIER_ROOT"], 1))
        with tempfile.TemporaryDirectory(prefix="stretcher") as tmp:
            archive = Path(tmp, "src")
            archive.write_bytes(src)
            _invoke(commands.get("pre"))
            unpacked = Path(tmp, "unpacked")
            unpacked.mkdir()
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="tar")
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(unpacked, dest, symlinks=True)
            _invoke(commands.get("post"))
    except Exception as e:
        print(f"stretcher: deploy failed: {e}", file=sys.stderr)
        try:
            _invoke(((manifest or {}).get("commands") or {}).get("failure"), str(e))
        except Exception as failure_error:
            print(f"stretcher: failure command failed: {failure_error}", file=sys.stderr)
        return 0 if "CONSUL_INDEX" in os.environ else 1
    _invoke(commands.get("success"), "deploy succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
