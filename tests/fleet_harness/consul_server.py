"""The fleet's Consul server: the real consul 1.14.11 (.tools/bin/consul) on the host side of the
nodes' links, as the stack's servers are configured: ACLs on with default_policy deny, gossip
encryption, TLS on RPC with verify_incoming and verify_server_hostname, and auto_encrypt so the
nodes' agents get their certificates from it (config/consul-agent-tls.hcl).

Serf LAN and server RPC keep their default ports (8301, 8300) because the nodes' agents join by
address only; they are bound to the bridge address, so they collide with no loopback agent. The
HTTP API answers on loopback only, on a free port.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fleet_harness.certs import Authority
from tests.moto_server import free_port


@dataclass
class ConsulServer:
    folder: Path
    address: str
    datacenter: str
    authority: Authority
    binary: str
    management: str = ""
    gossip_key: str = ""
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> ConsulServer:
        self.management = str(uuid.uuid4())
        self.gossip_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.http_port = free_port()
        issued = self.authority.issue(
            "consul-server", [f"server.{self.datacenter}.consul", "localhost"],
            [self.address, "127.0.0.1"])
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = {
            "datacenter": self.datacenter, "node_name": "consul-server-1", "server": True,
            "bootstrap_expect": 1, "data_dir": str(data), "bind_addr": self.address,
            "advertise_addr": self.address, "client_addr": "127.0.0.1", "log_level": "INFO",
            "ports": {"http": self.http_port, "https": -1, "grpc": -1, "dns": -1},
            "encrypt": self.gossip_key, "encrypt_verify_incoming": True,
            "encrypt_verify_outgoing": True,
            "acl": {"enabled": True, "default_policy": "deny", "down_policy": "extend-cache",
                    "enable_token_persistence": False,
                    "tokens": {"initial_management": self.management,
                               "agent": self.management}},
            "tls": {"defaults": {"ca_file": str(self.authority.pem),
                                 "cert_file": str(issued.cert), "key_file": str(issued.key),
                                 "verify_incoming": True, "verify_outgoing": True},
                    "internal_rpc": {"verify_server_hostname": True}},
            "auto_encrypt": {"allow_tls": True},
            "performance": {"raft_multiplier": 1},
            # No call home to checkpoint-api.hashicorp.com: nothing may leave this machine.
            "disable_update_check": True,
        }
        path = self.folder / "server.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        with open(self.folder / "server.log", "ab") as log:
            self.proc = subprocess.Popen([self.binary, "agent", f"-config-file={path}"],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self._wait_ready(time.monotonic() + 60)
        return self

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"consul server exited {self.proc.returncode}: "
                                   f"{(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                if self.call("GET", "/v1/status/leader") and self.call("GET", "/v1/acl/tokens"):
                    return
            except (OSError, urllib.error.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError("consul server had no leader after 60 s")

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(f"{self.http}{path}", data=data, method=method,
                                     headers={"X-Consul-Token": token or self.management})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        return json.loads(text) if text.strip().startswith(("{", "[", '"', "true", "false")) \
            else text

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
