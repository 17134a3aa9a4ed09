"""Step one of the fleet: nodes boot from the converged image under systemd-nspawn, each on its
own link in 198.18.0.0/15, and reach the host side and nothing beyond it."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.fleet_harness import netns
from tests.fleet_harness.node import Node

pytestmark = pytest.mark.fleet_harness

CONNECT = ("import socket, sys\n"
           "try:\n"
           "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()\n"
           "    print('connected')\n"
           "except OSError as e:\n"
           "    print(type(e).__name__)\n")


def test_nodes_boot_to_multi_user_under_systemd(bare_nodes: list[Node]) -> None:
    states = [n.run("systemctl", "is-system-running").stdout.strip() for n in bare_nodes]
    assert states == ["running"] * 3


def test_nodes_run_the_converged_image_units(bare_nodes: list[Node]) -> None:
    # The image's units are installed and enabled; consul waits for the boot-written node.hcl.
    for node in bare_nodes:
        enabled = node.run("systemctl", "is-enabled", "consul.service", "dnsmasq.service",
                           "consul-template.service", "app.service").stdout.split()
        assert enabled == ["enabled"] * 4
        assert node.run("systemctl", "is-active", "dnsmasq.service").stdout.strip() == "active"


def test_each_node_has_its_own_link_and_address(bare_nodes: list[Node]) -> None:
    addresses = [n.run("ip", "-4", "-o", "addr", "show", "host0").stdout.split()[3]
                 for n in bare_nodes]
    assert addresses == [f"{netns.node_address(i)}/24" for i in (1, 2, 3)]
    hostnames = [n.run("hostname").stdout.strip() for n in bare_nodes]
    assert hostnames == ["wtnode1", "wtnode2", "wtnode3"]


def test_nodes_reach_the_host_side_of_their_links(bare_nodes: list[Node]) -> None:
    server = socket.create_server((netns.HOST, 0))
    port = server.getsockname()[1]
    accepted: list[str] = []

    def accept() -> None:
        for _ in bare_nodes:
            conn, peer = server.accept()
            accepted.append(peer[0])
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        answers = [n.run("python3", "-c", CONNECT, netns.HOST, str(port)).stdout.strip()
                   for n in bare_nodes]
        thread.join(timeout=10)
    finally:
        server.close()
    assert answers == ["connected"] * 3
    assert sorted(accepted) == [netns.node_address(i) for i in (1, 2, 3)]


def test_nodes_send_nothing_off_their_link(bare_nodes: list[Node]) -> None:
    # The default route leads to an address nobody holds: off-link packets die at ARP.
    answer = bare_nodes[0].run("python3", "-c", CONNECT, "198.19.0.1", "80").stdout.strip()
    assert answer in ("OSError", "TimeoutError", "ConnectionRefusedError") or \
        answer.endswith("Error")
    assert answer != "connected"
