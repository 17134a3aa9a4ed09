"""A second datacenter for the fleet: one real Consul server and one client agent holding the app's
service, WAN-joined to the fleet's server as docs/consul.md (section 2) sets datacenters up.

- the server: `primary_datacenter` is the fleet's (so the stack's tokens, created there, are
  global), ACL token replication on with the management token, the same gossip key, TLS on RPC
  with a certificate for server.<dc>.consul from the harness CA (the fleet's server verifies it on
  the WAN RPC it forwards a failover query over), `retry_join_wan` to the fleet's server;
- the client agent: the peer's app node, named as that stack names its nodes, with
  `advertise_addr_wan` set apart from its LAN address, so an answer carrying the WAN address
  proves the asking agent translated it (translate_wan_addrs), and the app's service (no check of
  its own: passing while the node is alive).

Both bind to addresses of their own on the fleet's bridge (198.18.0.2, .3); the advertised WAN
address is in 198.18.0.0/15 too and is never contacted. Both are stopped by PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fleet_harness import netns
from tests.fleet_harness.consul_server import ConsulServer
from tests.fleet_harness.fleet import SERVICE
from tests.moto_server import free_port

PEER_DC = "osaka"
SERVER_ADDRESS = f"{netns.PREFIX}.2"
NODE_ADDRESS = f"{netns.PREFIX}.3"
NODE_WAN_ADDRESS = "198.18.1.3"
"""The peer node's advertised WAN address: in the benchmarking range, held by nothing."""
PEER_NODE = "webapp-osaka-i-0feed00000000001"


def _tls(server: ConsulServer, cert: Path | None, key: Path | None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"ca_file": str(server.authority.pem), "verify_outgoing": True}
    if cert is not None and key is not None:
        defaults.update(cert_file=str(cert), key_file=str(key), verify_incoming=True)
    return {"defaults": defaults, "internal_rpc": {"verify_server_hostname": True}}


def _start(binary: str, folder: Path, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.json"
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    with open(folder / "agent.log", "ab") as log:
        return subprocess.Popen([binary, "agent", f"-config-file={path}"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass
class PeerDatacenter:
    folder: Path
    primary: ConsulServer
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    http_port: int = 0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> PeerDatacenter:
        try:
            self._start_server()
            self._start_node()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self) -> None:
        p = self.primary
        for address in (SERVER_ADDRESS, NODE_ADDRESS):
            netns.ip("addr", "add", f"{address}/24", "dev", netns.BRIDGE)
        issued = p.authority.issue("consul-server-osaka", [f"server.{PEER_DC}.consul",
                                                           "localhost"], [SERVER_ADDRESS])
        self.http_port = free_port()
        self.procs.append(_start(p.binary, self.folder / "server", {
            "datacenter": PEER_DC, "primary_datacenter": p.datacenter,
            "node_name": "consul-server-osaka", "server": True, "bootstrap_expect": 1,
            "data_dir": str(self.folder / "server" / "data"), "bind_addr": SERVER_ADDRESS,
            "advertise_addr": SERVER_ADDRESS, "client_addr": "127.0.0.1", "log_level": "INFO",
            "ports": {"http": self.http_port, "https": -1, "grpc": -1, "grpc_tls": -1,
                      "dns": -1},
            "retry_join_wan": [f"{p.address}:8302"],
            "encrypt": p.gossip_key, "encrypt_verify_incoming": True,
            "encrypt_verify_outgoing": True,
            "acl": {"enabled": True, "default_policy": "deny", "down_policy": "extend-cache",
                    "enable_token_persistence": False, "enable_token_replication": True,
                    "tokens": {"replication": p.management, "agent": p.management}},
            "tls": _tls(p, issued.cert, issued.key), "auto_encrypt": {"allow_tls": True},
            "performance": {"raft_multiplier": 1}, "disable_update_check": True}))
        self._wait("the osaka server joined the WAN pool and has a leader", lambda: (
            PEER_DC in p.call("GET", "/v1/catalog/datacenters")
            and bool(p.call("GET", f"/v1/status/leader?dc={PEER_DC}"))))

    def _start_node(self) -> None:
        p = self.primary
        self.procs.append(_start(p.binary, self.folder / "node", {
            "datacenter": PEER_DC, "primary_datacenter": p.datacenter, "node_name": PEER_NODE,
            "server": False, "data_dir": str(self.folder / "node" / "data"),
            "bind_addr": NODE_ADDRESS, "advertise_addr": NODE_ADDRESS,
            "advertise_addr_wan": NODE_WAN_ADDRESS, "client_addr": "127.0.0.1",
            "ports": {"http": free_port(), "https": -1, "grpc": -1, "grpc_tls": -1,
                      "dns": -1},
            "retry_join": [SERVER_ADDRESS], "encrypt": p.gossip_key,
            "acl": {"enabled": True, "default_policy": "deny",
                    "enable_token_persistence": False, "tokens": {"agent": p.management}},
            "tls": _tls(p, None, None), "auto_encrypt": {"tls": True},
            "services": [{"name": SERVICE, "port": 8080, "token": p.management}],
            "disable_update_check": True}))
        self._wait("the osaka node's app is in osaka's catalog", lambda: any(
            e["Node"]["Node"] == PEER_NODE for e in
            p.call("GET", f"/v1/health/service/{SERVICE}?dc={PEER_DC}&passing=true")))

    def _wait(self, what: str, ready: Any, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except OSError:
                pass
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a peer agent exited {proc.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not after {timeout:.0f} s: {self.logs()}")
            time.sleep(0.5)

    def logs(self) -> str:
        return "".join(f"\n--- {log}\n{log.read_text(errors='replace')[-2000:]}"
                       for log in sorted(self.folder.glob("*/agent.log")))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        self.procs.clear()
        for address in (SERVER_ADDRESS, NODE_ADDRESS):
            subprocess.run(["ip", "addr", "del", f"{address}/24", "dev", netns.BRIDGE],
                           capture_output=True, check=False)
