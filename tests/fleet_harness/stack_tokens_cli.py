"""The fleet's tokens as an operator makes them: the real `python -m consul_tokens --stack staging
--set-config` run as a process against the fleet's server with its management token. A stand-in
`pulumi` on PATH records what the command hands it on stdin (it stores tokens nowhere else); the
deploy token, which the command never stores, is read back by the accessor it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from components.image.inputs import ROOT
from consul_tokens.model import AGENT, DEPLOY, KV_WRITER, TEMPLATE
from tests.fleet_harness.consul_server import ConsulServer

KEYS = {"consulAgentToken": AGENT, "consulTemplateToken": TEMPLATE, "consulKvToken": KV_WRITER}
DEPLOY_LINE = re.compile(r"# deploy: read it when you need it with `consul acl token read -id "
                         r"([0-9a-f-]+)`")


def stack_tokens_from_cli(server: ConsulServer, stack: str, workdir: Path) -> dict[str, str]:
    """role -> SecretID of each token the command created for ``stack``."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "pulumi-calls.jsonl"
    fake = workdir / "bin" / "pulumi"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps("
                    "{'args': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n")
    fake.chmod(0o700)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")},
           "CONSUL_HTTP_ADDR": server.http, "CONSUL_HTTP_TOKEN": server.management,
           "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "consul_tokens", "--stack", stack,
                           "--set-config", "--address", server.http,
                           "--datacenter", server.datacenter],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m consul_tokens exited {done.returncode}: {done.stderr}")
    tokens: dict[str, str] = {}
    for line in log.read_text().splitlines():
        call = json.loads(line)
        if call["args"][:3] == ["config", "set", "--secret"] and call["args"][-1] == stack:
            tokens[KEYS[call["args"][3]]] = call["stdin"]
    found = DEPLOY_LINE.search(done.stdout)
    if found is None:
        raise RuntimeError(f"python -m consul_tokens printed no deploy accessor: {done.stdout}")
    tokens[DEPLOY] = str(server.call("GET", f"/v1/acl/token/{found.group(1)}")["SecretID"])
    log.unlink()
    if set(tokens) != {AGENT, TEMPLATE, KV_WRITER, DEPLOY}:
        raise RuntimeError(f"python -m consul_tokens stored {sorted(tokens)}")
    return tokens
