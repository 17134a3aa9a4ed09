"""A real Consul agent for the tests: pytest plugin (tests/conftest.py loads it).

Consul 1.14.11 (`.tools/bin/consul`, built by `bash scripts/setup`) runs as a single server on
127.0.0.1 with every listener on a free, non-default port, its own data dir, gossip encryption and
ACLs on with `default_policy = "deny"`: what the program's tokens meet in production. A missing
binary fails the test naming `bash scripts/setup`; nothing skips.

Fixtures:
- `consul_agent` (session): the plain-HTTP server.
- `consul_agent_tls` (session): the same behind HTTPS only, with a CA and server certificate
  made by `consul tls ca/cert create`, `verify_incoming`/`verify_outgoing`,
  `verify_server_hostname` and `auto_encrypt { allow_tls = true }` (docs/consul.md's servers).
- `kv_prefix`: a fresh KV prefix on `consul_agent`, deleted after the test.

Each agent is stopped by its PID when the session ends, also when a test or the start failed.

    def test_x(consul_agent: ConsulAgent, kv_prefix: str) -> None:
        token = consul_agent.make_token(f'key_prefix "{kv_prefix}/" {{ policy = "read" }}')
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.go_tools import tool

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Listeners a server opens; serf and DNS use UDP too, so their ports must be free for both.
TCP_AND_UDP = ("dns", "serf_lan", "serf_wan")


@dataclass
class ConsulAgent:
    """One running agent, reached over HTTP(S) on loopback."""

    address: str
    """scheme://127.0.0.1:port of the HTTP API (https for the TLS variant)."""
    scheme: str
    management_token: str = field(repr=False)
    ca_file: str
    """PEM of the CA that signed the agent's certificate; "" for the plain-HTTP agent."""
    consul_binary: str
    pid: int
    config_dir: Path
    data_dir: Path
    log_file: Path
    ports: dict[str, int]
    gossip_key: str = field(repr=False)
    cert_dir: Path | None = None
    datacenter: str = "dc1"
    """Where the CA and server certificate (and keys) live, for the TLS variant."""

    @property
    def verify(self) -> str | bool:
        return self.ca_file or True

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any
            ) -> requests.Response:
        """One request; `token` defaults to the management token ("" sends none: anonymous)."""
        sent = self.management_token if token is None else token
        headers = dict(kwargs.pop("headers", {}))
        if sent:
            headers["X-Consul-Token"] = sent
        return requests.request(method, self.address + path, headers=headers,
                                verify=self.verify, timeout=kwargs.pop("timeout", 10), **kwargs)

    def make_token(self, rules: str, description: str = "webtier test token") -> str:
        """A token (its SecretID) holding exactly one new policy with `rules` (Consul HCL)."""
        return self.make_token_ids(rules, description)[1]

    def make_token_ids(self, rules: str, description: str = "webtier test token"
                       ) -> tuple[str, str]:
        """(AccessorID, SecretID) of a new token holding one new policy with `rules`."""
        policy = self.api("PUT", "/v1/acl/policy",
                          json={"Name": f"test-{uuid.uuid4().hex[:12]}", "Rules": rules})
        assert policy.status_code == 200, f"policy refused: {policy.status_code} {policy.text}"
        token = self.api("PUT", "/v1/acl/token", json={
            "Description": description, "Policies": [{"ID": policy.json()["ID"]}]})
        assert token.status_code == 200, f"token refused: {token.status_code} {token.text}"
        return str(token.json()["AccessorID"]), str(token.json()["SecretID"])

    def fresh_prefix(self) -> str:
        """A KV prefix no other test uses (without a trailing slash)."""
        return f"webtier-test/{uuid.uuid4().hex[:12]}"

    def wipe(self, prefix: str) -> None:
        """Delete every key under `prefix`/."""
        self.api("DELETE", f"/v1/kv/{prefix.strip('/')}/", params={"recurse": ""})

    def env(self, token: str | None = None) -> dict[str, str]:
        """The CONSUL_* variables a client process uses to reach this agent."""
        env = {"CONSUL_HTTP_ADDR": self.address,
               "CONSUL_HTTP_TOKEN": self.management_token if token is None else token}
        if self.ca_file:
            env["CONSUL_CACERT"] = self.ca_file
        return env


def _free_ports(names: list[str]) -> dict[str, int]:
    """A distinct free port per listener; TCP and UDP both free where Consul needs both."""
    ports: dict[str, int] = {}
    while len(ports) < len(names):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            if port in ports.values():
                continue
            name = names[len(ports)]
            if name in TCP_AND_UDP:
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                        udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            ports[name] = port
    return ports


def _make_certs(consul: str, where: Path, datacenter: str) -> tuple[Path, Path, Path]:
    """(CA, server cert, server key) from `consul tls ca create` / `consul tls cert create`."""
    where.mkdir(parents=True, exist_ok=True)
    for args in (["tls", "ca", "create"],
                 ["tls", "cert", "create", "-server", "-dc", datacenter]):
        done = subprocess.run([consul, *args], cwd=where, capture_output=True, text=True,
                              timeout=60, env=_agent_env())
        assert done.returncode == 0, f"consul {' '.join(args)}: {done.stderr or done.stdout}"
    return (where / "consul-agent-ca.pem", where / f"{datacenter}-server-consul-0.pem",
            where / f"{datacenter}-server-consul-0-key.pem")


def _agent_env() -> dict[str, str]:
    # No checkpoint (update check) call, and no CONSUL_* of the caller leaking into the CLI.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def server_config(data_dir: Path, ports: dict[str, int], token: str, gossip_key: str,
                  certs: tuple[Path, Path, Path] | None = None, extra: str = "",
                  datacenter: str = "dc1") -> str:
    """The HCL of a single-server agent (Consul 1.14 names: `ports.grpc_tls`, `tls.*`)."""
    listed = {"http": -1, "https": -1, "grpc": -1, "grpc_tls": -1, **ports}
    port_lines = "\n".join(f"  {name} = {port}" for name, port in listed.items())
    tls = ""
    if certs is not None:
        ca, cert, key = certs
        tls = f"""
tls {{
  defaults {{
    ca_file = "{ca}"
    cert_file = "{cert}"
    key_file = "{key}"
    verify_incoming = true
    verify_outgoing = true
  }}
  internal_rpc {{
    verify_server_hostname = true
  }}
  # API clients present no certificate (docs/consul.md: what the servers carry).
  https {{
    verify_incoming = false
  }}
}}
auto_encrypt {{
  allow_tls = true
}}
"""
    return f"""node_name = "webtier-test-{datacenter}"
datacenter = "{datacenter}"
server = true
bootstrap_expect = 1
data_dir = "{data_dir}"
bind_addr = "127.0.0.1"
advertise_addr = "127.0.0.1"
client_addr = "127.0.0.1"
encrypt = "{gossip_key}"
disable_update_check = true
log_level = "info"
ui_config {{
  enabled = false
}}
performance {{
  raft_multiplier = 1
}}
ports {{
{port_lines}
}}
acl {{
  enabled = true
  default_policy = "deny"
  enable_token_persistence = true
  tokens {{
    initial_management = "{token}"
  }}
}}
{tls}{extra}"""


def validate(consul: str, config_dir: Path) -> None:
    """`consul validate` on a config dir; fails the test with Consul's words if it is invalid."""
    done = subprocess.run([consul, "validate", str(config_dir)], capture_output=True, text=True,
                          timeout=60, env=_agent_env())
    assert done.returncode == 0, f"consul validate {config_dir}: {done.stdout}{done.stderr}"


def _wait_ready(agent: ConsulAgent, proc: subprocess.Popen[bytes]) -> None:
    """Until a leader is elected and the management token is known (ACLs bootstrapped)."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            leader = agent.api("GET", "/v1/status/leader", timeout=2)
            if leader.status_code == 200 and leader.json():
                me = agent.api("GET", "/v1/acl/token/self", timeout=2)
                if me.status_code == 200:
                    return
                last = f"token/self: {me.status_code} {me.text.strip()}"
            else:
                last = f"leader: {leader.status_code} {leader.text.strip()}"
        except requests.RequestException as err:
            last = type(err).__name__
        time.sleep(0.2)
    log = agent.log_file.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the Consul agent (pid {proc.pid}) was not ready within {START_TIMEOUT}s "
                       f"({last}); exit code {proc.poll()}; log tail:\n{log}")


def _agent_command(consul: str, config_dir: Path) -> list[str]:
    """`consul agent`, run through util-linux `setpriv --pdeathsig TERM` (it execs, so the PID
    stays the agent's): the agent gets SIGTERM when the test process dies, even by SIGKILL, so
    none outlives a killed run. Not a preexec_fn: forking Python code in a process that runs gRPC
    threads (the engine tests) can hang the child before it execs."""
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "TERM"] if setpriv else []
    return [*prefix, consul, "agent", f"-config-dir={config_dir}"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, then SIGKILL if it lingers; never leaves the agent running."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running_agent(workdir: Path, tls: bool = False, extra_hcl: str = "",
                  datacenter: str = "dc1", token: str | None = None,
                  gossip_key: str | None = None) -> Iterator[ConsulAgent]:
    """A single Consul server in `workdir`, stopped by PID on exit (also after an error).

    `extra_hcl` is appended to the config (e.g. `retry_join_wan`); `token` and `gossip_key`
    default to new random ones (pass another agent's to federate two datacenters)."""
    consul = tool("consul")
    token = token or str(uuid.uuid4())
    gossip_key = gossip_key or base64.b64encode(os.urandom(32)).decode()
    config_dir, data_dir = workdir / "config", workdir / "data"
    config_dir.mkdir(parents=True)
    data_dir.mkdir(mode=0o700)
    certs = _make_certs(consul, workdir / "certs", datacenter) if tls else None
    for attempt in range(3):
        names = ["https" if tls else "http", "dns", "serf_lan", "serf_wan", "server",
                 "grpc_tls" if tls else "grpc"]
        ports = _free_ports(names)
        (config_dir / "server.hcl").write_text(
            server_config(data_dir, ports, token, gossip_key, certs, extra_hcl, datacenter))
        validate(consul, config_dir)
        log_file = workdir / f"agent-{attempt}.log"
        scheme = "https" if tls else "http"
        with log_file.open("wb") as log:
            proc = subprocess.Popen(_agent_command(consul, config_dir),
                                    stdout=log, stderr=subprocess.STDOUT, env=_agent_env())
        agent = ConsulAgent(
            address=f"{scheme}://127.0.0.1:{ports[scheme]}", scheme=scheme,
            management_token=token, ca_file=str(certs[0]) if certs else "",
            consul_binary=consul, pid=proc.pid, config_dir=config_dir, data_dir=data_dir,
            log_file=log_file, ports=ports, gossip_key=gossip_key,
            cert_dir=workdir / "certs" if tls else None, datacenter=datacenter)
        try:
            _wait_ready(agent, proc)
        except RuntimeError:
            _stop(proc)
            # A port taken between choosing and binding it: choose again, on a clean data dir.
            if "address already in use" in log_file.read_text(errors="replace") and attempt < 2:
                for item in data_dir.iterdir():
                    subprocess.run(["rm", "-rf", str(item)], check=True)
                continue
            raise
        try:
            yield agent
        finally:
            _stop(proc)
        return


def client_config(data_dir: Path, ports: dict[str, int], server: ConsulAgent,
                  node_name: str, node_meta: Mapping[str, str] | None = None) -> str:
    """A client agent joining `server` (same gossip key), acting with its management token;
    `node_meta` as boot writes it (deploy counts a stack's nodes by it)."""
    port_lines = "\n".join(f"  {name} = {port}" for name, port in
                           {"dns": -1, "https": -1, "grpc": -1, "grpc_tls": -1, **ports}.items())
    meta = "".join(f'  {k} = "{v}"\n' for k, v in (node_meta or {}).items())
    return f"""node_name = "{node_name}"
node_meta {{
{meta}}}
node_id = "{uuid.uuid5(uuid.NAMESPACE_DNS, node_name)}"
datacenter = "{server.datacenter}"
server = false
data_dir = "{data_dir}"
bind_addr = "127.0.0.1"
advertise_addr = "127.0.0.1"
client_addr = "127.0.0.1"
encrypt = "{server.gossip_key}"
retry_join = ["127.0.0.1:{server.ports["serf_lan"]}"]
disable_update_check = true
leave_on_terminate = true
log_level = "info"
ports {{
{port_lines}
}}
acl {{
  enabled = true
  default_policy = "deny"
  tokens {{
    agent = "{server.management_token}"
    default = "{server.management_token}"
  }}
}}
"""


@contextlib.contextmanager
def running_client(workdir: Path, server: ConsulAgent, node_name: str,
                   node_meta: Mapping[str, str] | None = None) -> Iterator[ConsulAgent]:
    """A client agent named `node_name` joined to `server`, stopped by PID on exit."""
    consul = tool("consul")
    config_dir, data_dir = workdir / "config", workdir / "data"
    config_dir.mkdir(parents=True)
    data_dir.mkdir(mode=0o700)
    ports = _free_ports(["http", "serf_lan"])
    config = client_config(data_dir, ports, server, node_name, node_meta)
    (config_dir / "client.hcl").write_text(config)
    validate(consul, config_dir)
    log_file = workdir / "agent.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(_agent_command(consul, config_dir), stdout=log,
                                stderr=subprocess.STDOUT, env=_agent_env())
    agent = ConsulAgent(
        address=f"http://127.0.0.1:{ports['http']}", scheme="http",
        management_token=server.management_token, ca_file="", consul_binary=consul,
        pid=proc.pid, config_dir=config_dir, data_dir=data_dir, log_file=log_file, ports=ports,
        gossip_key=server.gossip_key, datacenter=server.datacenter)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # joined: the server's catalog lists the node
            nodes = server.api("GET", "/v1/catalog/nodes").json()
            if any(n["Node"] == node_name for n in nodes):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"client agent {node_name} did not join: "
                                   f"{log_file.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield agent
    finally:
        _stop(proc)
        # Gone for good, as a node the next test may name again must be: not "failed" in the
        # member list, nor left in the catalog until reconnect_timeout.
        server.api("PUT", f"/v1/agent/force-leave/{node_name}", params={"prune": "1"})
        server.api("PUT", "/v1/catalog/deregister", json={"Node": node_name})


@pytest.fixture(scope="session")
def consul_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulAgent]:
    """A real Consul 1.14.11 server: plain HTTP on loopback, ACLs default-deny, gossip key."""
    with running_agent(tmp_path_factory.mktemp("consul-agent")) as agent:
        yield agent


@pytest.fixture(scope="session")
def consul_agent_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulAgent]:
    """The same server with HTTPS only (CA from `consul tls ca create`), verify_* and
    auto_encrypt on."""
    with running_agent(tmp_path_factory.mktemp("consul-agent-tls"), tls=True) as agent:
        yield agent


@pytest.fixture
def kv_prefix(consul_agent: ConsulAgent) -> Iterator[str]:
    """A KV prefix of this test's own on `consul_agent`, emptied afterwards."""
    prefix = consul_agent.fresh_prefix()
    try:
        yield prefix
    finally:
        consul_agent.wipe(prefix)


AGENT_FIXTURES = frozenset({"consul_agent", "consul_agent_tls", "kv_prefix"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on a real agent is marked `consul_agent` and `integration` (it starts one)."""
    for item in items:
        if AGENT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.consul_agent)
            item.add_marker(pytest.mark.integration)
