"""The licence rule for HashiCorp tools the project ships or builds: only open-source releases.

Consul 1.17 and later and Packer 1.10 and later are under the BUSL, not an open-source licence;
Consul 1.16.0 to 1.16.3 and Packer 1.9.x are MPL-2.0 (later 1.16 patches such as 1.16.6 are BUSL,
so the rule stops at 1.16.3). The image pins Consul in the consul role's defaults; Packer is built
from gotools/packer/go.mod.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from components.image.inputs import ROOT

CONSUL_DEFAULTS = ROOT / "image/ansible/roles/consul/defaults/main.yml"
PACKER_GO_MOD = ROOT / "gotools/packer/go.mod"
# The newest MPL-2.0 release of each; anything later is BUSL.
LAST_OPEN_CONSUL = (1, 16, 3)
LAST_OPEN_PACKER_MINOR = (1, 9)


def release(text: str, where: Path) -> tuple[int, int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    assert match, f"{where}: {text!r} is not a plain release number"
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def test_image_pins_an_open_source_consul() -> None:
    pinned = release(str(yaml.safe_load(CONSUL_DEFAULTS.read_text())["consul_version"]),
                     CONSUL_DEFAULTS)
    assert pinned <= LAST_OPEN_CONSUL, (
        f"{CONSUL_DEFAULTS}: consul_version {pinned} is BUSL; pin 1.16.3 or earlier")


def test_tools_module_builds_an_open_source_packer() -> None:
    match = re.search(r"^require github\.com/hashicorp/packer (\S+)$",
                      PACKER_GO_MOD.read_text(), re.MULTILINE)
    assert match, f"{PACKER_GO_MOD} does not require github.com/hashicorp/packer"
    pinned = release(match.group(1), PACKER_GO_MOD)
    assert pinned[:2] <= LAST_OPEN_PACKER_MINOR, (
        f"{PACKER_GO_MOD}: Packer {match.group(1)} is BUSL; stay on 1.9.x")
