"""One fleet node: an overlay of the cached image root booted by `systemd-nspawn -b`, reached
from outside with nsenter, and stopped by its nspawn PID.

`--register=no --keep-unit` because there is no machined here (without them nspawn fails with
"Failed to open system bus"); `--network-veth` gives the node its own link (host side ve-<name>),
which netns.wire configures from outside, since nothing inside configures host0.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fleet_harness import netns

NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Node:
    name: str
    index: int
    address: str
    instance_id: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    leader: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    imds: object | None = None
    """The node's instance-metadata double (imds_double.ImdsDouble) while it is powered on."""

    @property
    def root(self) -> Path:
        return self.workdir / "merged"

    @property
    def host_link(self) -> str:
        return f"ve-{self.name}"

    def mount(self, layers: list[Path]) -> None:
        """Each node writes only to its own upper dir; the cached layers stay untouched."""
        for sub in ("upper", "work", "merged"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        lower = ":".join(str(p) for p in layers)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={self.workdir / 'upper'},"
                        f"workdir={self.workdir / 'work'}", str(self.root)],
                       check=True, capture_output=True, timeout=30)
        # debootstrap copied the build machine's /etc/hostname; each node names itself.
        (self.root / "etc/hostname").write_text(f"{self.name}\n")
        # As the image's dhclient hook sets it on EC2: dnsmasq first (and only: no VPC resolver).
        resolv = self.root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        resolv.write_text("nameserver 127.0.0.1\n")

    def boot(self, log: Path) -> None:
        started = time.monotonic()
        self.timings["nspawn_started"] = started
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "-D", str(self.root), "--register=no", "--keep-unit", "-b",
                 "--network-veth", "-M", self.name, "--console=read-only",
                 "--resolv-conf=off"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.leader = self._find_leader(deadline=started + 60)

    def _find_leader(self, deadline: float) -> int:
        """The container's PID 1 (systemd), a descendant of the nspawn process."""
        assert self.proc is not None
        own_ns = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: systemd-nspawn exited {self.proc.returncode}")
            for pid in _descendants(self.proc.pid):
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                    ns = os.readlink(f"/proc/{pid}/ns/pid")
                except OSError:
                    continue
                if comm == "systemd" and ns != own_ns:
                    return pid
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no systemd inside the container after 60 s")

    def powered(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wire(self) -> None:
        deadline = time.monotonic() + 30
        while not Path(f"/sys/class/net/{self.host_link}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {self.host_link} never appeared")
            time.sleep(0.1)
        netns.wire(self.host_link, self.leader, self.address)

    def run(self, *argv: str, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """A command inside the node: its mount, UTS, IPC, network and PID namespaces."""
        # A clean environment, as a unit would have: nothing of the host's leaks in.
        done = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p",
                               "--", "/usr/bin/env", "-i", f"PATH={NODE_PATH}", "HOME=/root",
                               "LANG=C.UTF-8", *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(argv)} exited {done.returncode}: "
                               f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
        return done

    def wait_booted(self, timeout: float = 120) -> str:
        """systemd's own verdict once boot is done: running, or degraded (a unit failed).

        Until PID 1 has opened its private socket, systemctl cannot ask it: retried."""
        deadline = time.monotonic() + timeout
        while True:
            done = self.run("systemctl", "is-system-running", "--wait",
                            timeout=max(1.0, deadline - time.monotonic()))
            state = done.stdout.strip()
            if state in ("running", "degraded", "stopping", "offline"):
                self.timings["booted"] = time.monotonic()
                return state
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: not booted after {timeout:.0f} s: "
                                   f"{state} {done.stderr.strip()[-300:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to the nspawn PID powers the container off; SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def unmount(self) -> None:
        if self.root.is_mount():
            subprocess.run(["umount", "-l", str(self.root)], check=False, capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found
