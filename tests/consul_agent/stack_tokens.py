"""A stack's tokens as an operator makes them: the real `python -m consul_tokens --set-config`
run as a process against a real agent with its management token, a stand-in `pulumi` on PATH
recording what it was handed on stdin (the command stores tokens nowhere else)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from consul_tokens.model import AGENT, DEPLOY, KV_WRITER, TEMPLATE
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"consulAgentToken": AGENT, "consulTemplateToken": TEMPLATE, "consulKvToken": KV_WRITER}


def make_stack_tokens(agent: ConsulAgent, stack: str, tmp: Path) -> dict[str, str]:
    """role -> SecretID for each of the stack's tokens."""
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / f"pulumi-{stack}.jsonl"
    fake = tmp / "bin" / "pulumi"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps("
                    "{'args': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n")
    fake.chmod(0o755)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")},
           **agent.env(), "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "consul_tokens", "--stack", stack,
                           "--set-config", "--address", agent.address],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    tokens: dict[str, str] = {}
    for line in log.read_text().splitlines():
        call = json.loads(line)
        if call["args"][-1] == stack:
            tokens[KEYS[call["args"][3]]] = call["stdin"]
    found = re.search(r"# deploy: read it when you need it with `consul acl token read -id "
                      r"([0-9a-f-]+)`", done.stdout)
    assert found, done.stdout
    deploy = agent.api("GET", f"/v1/acl/token/{found.group(1)}")
    assert deploy.status_code == 200, deploy.text
    tokens[DEPLOY] = str(deploy.json()["SecretID"])
    assert set(tokens) == {AGENT, TEMPLATE, KV_WRITER, DEPLOY}
    return tokens
