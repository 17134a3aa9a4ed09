"""Runs the stack's rendered user data for real in a temp dir: bash and every command it runs,
with /etc and /usr/local/bin moved under the dir and the EC2-only tools stubbed (aws answers SSM,
curl answers IMDS, chown/systemctl/release-pull/lifecycle-hook only log). What it leaves is what
boot writes on a node: the tests read the files, their modes, and the chown calls."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.fleet.user_data import BootSettings, render
from contracts.node_secrets import (
    AGENT_TOKEN_PARAMETER,
    CA_CERT_PARAMETER,
    GOSSIP_KEY_PARAMETER,
    TEMPLATE_TOKEN_PARAMETER,
)

GOSSIP = "c3R1Yi1nb3NzaXAta2V5LTMyLWJ5dGVzLWxvbmchIQ=="
AGENT_TOKEN = "0b6c3f61-0c1e-4e7a-9a53-agent0000001"
TEMPLATE_TOKEN = "7d1e2f30-4a5b-4c6d-8e9f-template0001"
INSTANCE = "i-0123456789abcdef0"
CA = "-----BEGIN CERTIFICATE-----\nMIIBstub\n-----END CERTIFICATE-----"


def ssm_values(prefix: str, agent_token: str = AGENT_TOKEN,
               template_token: str = TEMPLATE_TOKEN, gossip: str = GOSSIP) -> dict[str, str]:
    return {f"{prefix}/{GOSSIP_KEY_PARAMETER}": gossip,
            f"{prefix}/{AGENT_TOKEN_PARAMETER}": agent_token,
            f"{prefix}/{TEMPLATE_TOKEN_PARAMETER}": template_token,
            f"{prefix}/{CA_CERT_PARAMETER}": CA}


@dataclass(frozen=True)
class Booted:
    root: Path
    calls: list[str]

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def mode(self, absolute: str) -> str:
        return oct(self.path(absolute).stat().st_mode & 0o777)

    def chowned(self, absolute: str) -> list[str]:
        return [c.split()[1] for c in self.calls
                if c.startswith("chown ") and c.split()[-1] == str(self.path(absolute))]


def run_boot(boot: BootSettings, tmp: Path, ssm: Mapping[str, str] | None = None,
             imds: Mapping[str, str] | None = None) -> Booted:
    root = tmp / "root"
    stubs = tmp / "stubs"
    for d in (root / "etc/consul.d/tls", root / "usr/local/bin", stubs):
        d.mkdir(parents=True, exist_ok=True)
    (root / "etc/consul.d/tls/agent-tls.hcl").write_text(
        (Path(__file__).resolve().parents[2] / "config/consul-agent-tls.hcl").read_text())
    log = tmp / "calls"
    values = dict(ssm or ssm_values(boot.ssm_prefix))
    meta = {"api/token": "imds-session", "meta-data/instance-id": INSTANCE,
            "meta-data/public-ipv4": "203.0.113.10", **(imds or {})}
    answers = "\n".join(f"  '{k}') printf '%s\\n' '{v}' ;;" for k, v in values.items())
    scripts = {
        "aws": f'#!/bin/bash\nwhile [ "$1" != "--name" ]; do shift; done\ncase "$2" in\n'
               f'{answers}\n  *) exit 254 ;;\nesac\n',
        "curl": '#!/bin/bash\nfor a; do last="$a"; done\ncase "$last" in\n' + "\n".join(
            f"  */{k}) echo '{v}' ;;" for k, v in meta.items()) + "\n  *) exit 22 ;;\nesac\n",
        # install -o/-g would need the consul group: log the ownership as a chown, then install.
        "install": '#!/bin/bash\nargs=(); own=; grp=; while [ $# -gt 0 ]; do case "$1" in\n'
                   '  -o) own="$2"; shift 2 ;;\n  -g) grp="$2"; shift 2 ;;\n'
                   '  *) args+=("$1"); shift ;;\nesac; done\n'
                   f'[ -n "$own$grp" ] && echo "chown $own:$grp ${{args[-1]}}" >> {log}\n'
                   'exec /usr/bin/install "${args[@]}"\n',
    }
    # Nothing renders here: boot's bounded wait for consul-template's first render runs through.
    scripts["sleep"] = "#!/bin/bash\n"
    for name in ("chown", "systemctl", "release-pull", "lifecycle-hook"):
        scripts[name] = f'#!/bin/bash\necho "{name} $*" >> {log}\n'
    for name, text in scripts.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    script = render(boot)
    script = script.replace("/etc/", f"{root}/etc/").replace("/usr/local/bin/", f"{stubs}/")
    (tmp / "user-data.sh").write_text(script)
    done = subprocess.run(["/bin/bash", str(tmp / "user-data.sh")], capture_output=True,
                          text=True, timeout=60, check=False,
                          env={"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp),
                               "LANG": os.environ.get("LANG", "C.UTF-8")})
    assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    return Booted(root, calls)
