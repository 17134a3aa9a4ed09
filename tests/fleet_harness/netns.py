"""The fleet's links: one bridge on the host holding every node's veth, addresses from
198.18.0.0/15 (RFC 2544's benchmarking range) only, and sockets opened inside a node's network
namespace.

Nodes get no route off their link that leads anywhere: their default route (which Consul's
`{{ GetPrivateIP }}` needs to pick the address) points at an address nobody holds on the link, so
nothing a node sends can leave it.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading

BRIDGE = "wtfleet0"
PREFIX = "198.18.0"
HOST = f"{PREFIX}.1"
NOWHERE = f"{PREFIX}.254"
"""The nodes' default gateway: held by no one, so off-link packets die at ARP."""
IMDS_ADDRESS = "169.254.169.254"
CLONE_NEWNET = 0x40000000


def node_address(index: int) -> str:
    return f"{PREFIX}.{10 + index}"


def ip(*args: str, leader: int | None = None) -> None:
    prefix = ["nsenter", "-t", str(leader), "-n"] if leader is not None else []
    done = subprocess.run([*prefix, "ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        where = f"node {leader}" if leader is not None else "host"
        raise RuntimeError(f"ip {' '.join(args)} ({where}): {done.stderr.strip()}")


def make_bridge() -> None:
    delete_bridge()
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{HOST}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")


def delete_bridge() -> None:
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def wire(host_side: str, leader: int, address: str) -> None:
    """Put the node's veth on the bridge and address its inside end (host0) from outside."""
    ip("link", "set", host_side, "master", BRIDGE)
    ip("link", "set", host_side, "up")
    ip("link", "set", "lo", "up", leader=leader)
    ip("addr", "add", f"{address}/24", "dev", "host0", leader=leader)
    ip("link", "set", "host0", "up", leader=leader)
    ip("route", "add", "default", "via", NOWHERE, "dev", "host0", "onlink", leader=leader)
    # The instance metadata service's link-local address, answered by a double in this namespace.
    ip("addr", "add", f"{IMDS_ADDRESS}/32", "dev", "lo", leader=leader)


def listen_in(leader: int, address: str, port: int) -> socket.socket:
    """A listening TCP socket created inside the node's network namespace.

    setns(2) changes the namespace of the calling thread only, so a short-lived thread enters it
    and opens the socket; the socket stays in that namespace for whichever thread serves it.
    """
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{leader}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into node {leader}")
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            made.append(sock)
        except BaseException as e:  # handed to the caller's thread
            errors.append(e)

    thread = threading.Thread(target=enter, name=f"setns-{leader}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return made[0]
