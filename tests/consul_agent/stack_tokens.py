"""A stack's tokens as an operator makes them: the real `python -m consul_tokens --set-config`
run as a process against a real Consul with its management token. A stand-in `pulumi` on PATH
records what the command hands it on stdin (it stores tokens nowhere else); the deploy token,
which the command never stores, is read back by the accessor it prints. The session agent's
tests and the fleet harness both make their tokens here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from consul_tokens.model import AGENT, DEPLOY, KV_WRITER, TEMPLATE
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"consulAgentToken": AGENT, "consulTemplateToken": TEMPLATE, "consulKvToken": KV_WRITER}
DEPLOY_LINE = re.compile(r"# deploy: read it when you need it with `consul acl token read -id "
                         r"([0-9a-f-]+)`")


def tokens_via_cli(stack: str, *, address: str, datacenter: str, management: Mapping[str, str],
                   secret_of: Callable[[str], str], workdir: Path) -> dict[str, str]:
    """role -> SecretID of each token the command created for ``stack``.

    ``management``: the CONSUL_* environment that reaches the server as its operator;
    ``secret_of``: the SecretID of a token, by accessor, read with the management token."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"pulumi-{stack}.jsonl"
    fake = workdir / "bin" / "pulumi"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps("
                    "{'args': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n")
    fake.chmod(0o700)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")},
           **management, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "consul_tokens", "--stack", stack,
                           "--set-config", "--address", address, "--datacenter", datacenter],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m consul_tokens exited {done.returncode}: {done.stderr}")
    tokens: dict[str, str] = {}
    for line in log.read_text().splitlines():
        call = json.loads(line)
        if call["args"][:3] == ["config", "set", "--secret"] and call["args"][-1] == stack:
            tokens[KEYS[call["args"][3]]] = call["stdin"]
    log.unlink()
    found = DEPLOY_LINE.search(done.stdout)
    if found is None:
        raise RuntimeError(f"python -m consul_tokens printed no deploy accessor: {done.stdout}")
    tokens[DEPLOY] = secret_of(found.group(1))
    if set(tokens) != {AGENT, TEMPLATE, KV_WRITER, DEPLOY}:
        raise RuntimeError(f"python -m consul_tokens stored {sorted(tokens)}")
    return tokens


def make_stack_tokens(agent: ConsulAgent, stack: str, tmp: Path) -> dict[str, str]:
    """The stack's tokens on the session agent."""
    def secret_of(accessor: str) -> str:
        read = agent.api("GET", f"/v1/acl/token/{accessor}")
        assert read.status_code == 200, read.text
        return str(read.json()["SecretID"])
    return tokens_via_cli(stack, address=agent.address, datacenter=agent.datacenter,
                          management=agent.env(), secret_of=secret_of, workdir=tmp)
