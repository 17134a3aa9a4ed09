"""A Debian root with the image roles applied over Ansible's chroot connection: how it is made
(debootstrap, the machine's mirror, ansible-playbook) and how tests look inside it. The fixtures
that make one are in conftest.py; the fleet harness builds its node root with the same steps."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.image.inputs import ROOT

ANSIBLE = ROOT / "image" / "ansible"


SUITE = "bookworm"


SKIPPED_TAGS = "download"


SKIP_REASON = ("skipping Ansible tasks tagged 'download' (consul, consul-template, stretcher "
               "releases): releases.hashicorp.com and github.com are unreachable here")


@dataclass(frozen=True)
class Converged:
    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses for the suite (deb822 or one-line format)."""
    sources = [Path("/etc/apt/sources.list"),
               *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.MULTILINE))
                if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                    return str(fields["URIs"].split()[0])
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    return "http://deb.debian.org/debian"


def announce(config: pytest.Config, message: str) -> None:
    """Print past pytest's output capture, so the skip reason shows in every run."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(message, file=sys.stderr)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(message)


def apply_roles(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return subprocess.run(
        ["ansible-playbook", "-i", f"{root},", "-c", "community.general.chroot",
         "-e", "ansible_python_interpreter=/usr/bin/python3",
         "--skip-tags", SKIPPED_TAGS, str(ANSIBLE / "trial.yml")],
        env=env, capture_output=True, text=True, timeout=1200, check=False)


def recap(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                      result.stdout)
    assert match, f"no PLAY RECAP in:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()),
                    strict=True))


def inside(c: Converged, path: str) -> Path:
    return c.root / path.lstrip("/")


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.lstat().st_mode))


def owner(c: Converged, path: Path) -> tuple[str, str]:
    """User and group names as the chroot's own passwd and group files know them."""
    info = path.lstat()
    users = {int(f[2]): f[0] for f in (line.split(":") for line in
             inside(c, "/etc/passwd").read_text().splitlines()) if len(f) > 3}
    groups = {int(f[2]): f[0] for f in (line.split(":") for line in
              inside(c, "/etc/group").read_text().splitlines()) if len(f) > 2}
    return users[info.st_uid], groups[info.st_gid]


def unit(c: Converged, name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in inside(c, f"/etc/systemd/system/{name}").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def enabled(c: Converged, name: str) -> bool:
    return inside(c, f"/etc/systemd/system/multi-user.target.wants/{name}").is_symlink()
