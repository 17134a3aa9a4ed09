"""The user data under real bash: every value it carries comes back out of node.env,
lifecycle.env and the Consul files as itself, or render refuses it; no value runs a command.

The script runs in a temp dir (its /etc and /usr/local/bin paths moved there) with stub `aws`,
`curl`, `systemctl` and `chown` on PATH that answer like the real ones and contact nothing.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from components.fleet.user_data import AppService, BootSettings, LifecycleBoot, node_hcl, render
from contracts.escaping import UnsafeValue, env_value, hcl_string, heredoc
from tests.adversarial_strings import ADVERSARIAL

pytestmark = pytest.mark.integration  # runs bash, the reader of everything checked here

BOOT = BootSettings(
    environment="staging", app="webapp", region="ap-northeast-1", datacenter="staging",
    kv_prefix="webapp/staging", release_bucket="webapp-staging-releases",
    deploy_pointer_key="webapp/staging/deploy/webapp/current", ssm_prefix="/webapp/staging",
    join_tag_key="consul-cluster", join_tag_value="staging", node_name_prefix="webapp-staging-",
    hooks=LifecycleBoot("http://127.0.0.1:8080/health", 600),
    service=AppService(8080, "/health", 10, 5))

STUBS = {
    # param(): the SSM value; never a real secret here.
    "aws": 'echo "stub-value"\n',
    "curl": 'case "$*" in *instance-id*) echo i-0123456789abcdef0;; *) echo stub-token;; esac\n',
    "systemctl": "exit 0\n",
    "chown": "exit 0\n",
    "release-pull": "exit 0\n",
    "lifecycle-hook": "exit 0\n",
    # Nothing renders here: boot's bounded wait for consul-template's first render runs through.
    "sleep": "exit 0\n",
}
NODE_ENV_FIELDS = {
    "WEBTIER_ENV": "environment", "APP_NAME": "app", "AWS_REGION": "region",
    "CONSUL_DATACENTER": "datacenter", "KV_PREFIX": "kv_prefix",
    "RELEASE_BUCKET": "release_bucket", "DEPLOY_POINTER_KEY": "deploy_pointer_key",
    "SSM_PREFIX": "ssm_prefix", "CONSUL_NODE_NAME_PREFIX": "node_name_prefix",
}


def run_boot(script: str, tmp: Path, **stub_changes: str) -> subprocess.CompletedProcess[str]:
    """Run the boot script with its absolute paths moved under ``tmp``."""
    stubs = tmp / "stubs"
    stubs.mkdir()
    for name, body in {**STUBS, **stub_changes}.items():
        (stubs / name).write_text("#!/bin/bash\n" + body)
        (stubs / name).chmod(0o755)
    (tmp / "etc/consul.d").mkdir(parents=True)
    moved = script.replace("/etc/", f"{tmp}/etc/").replace("/usr/local/bin/", f"{stubs}/")
    (tmp / "boot.sh").write_text(moved)
    syntax = subprocess.run(["bash", "-n", str(tmp / "boot.sh")], capture_output=True, text=True,
                            check=False)
    assert syntax.returncode == 0, syntax.stderr
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp)}
    return subprocess.run(["bash", str(tmp / "boot.sh")], cwd=tmp, env=env, capture_output=True,
                          text=True, check=False, timeout=60)


def sourced(path: Path, names: list[str]) -> dict[str, str]:
    """What bash gets from `. path` (as the boot script and the units' shells read it)."""
    show = "; ".join(f'printf "%s\\0" "${name}"' for name in names)
    out = subprocess.run(["bash", "-c", f'set -a; . "$1"; {show}', "-", str(path)],
                         capture_output=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return dict(zip(names, out.decode().split("\0")[:-1], strict=True))


def shlexed(path: Path) -> dict[str, str]:
    """What release-pull and lifecycle-hook get (shlex.split of each KEY=value line)."""
    out = {}
    for line in path.read_text().splitlines():
        key, _, raw = line.partition("=")
        words = shlex.split(raw)
        out[key] = words[0] if words else ""
    return out


def test_the_real_boot_script_runs_and_writes_what_it_was_given(tmp_path: Path) -> None:
    done = run_boot(render(BOOT), tmp_path)
    assert done.returncode == 0, done.stderr
    env_file = tmp_path / "etc/webtier/node.env"
    expected = {k: getattr(BOOT, f) for k, f in NODE_ENV_FIELDS.items()}
    assert sourced(env_file, list(expected)) == expected
    assert {k: shlexed(env_file)[k] for k in expected} == expected
    node = (tmp_path / "etc/consul.d/node.hcl").read_text()
    assert node == node_hcl(BOOT) + 'node_name  = "webapp-staging-i-0123456789abcdef0"\n'


@pytest.mark.parametrize("value", ADVERSARIAL, ids=repr)
@pytest.mark.parametrize("field", [*NODE_ENV_FIELDS.values(), "join_tag_key", "join_tag_value",
                                   "health_path", "health_url"])
def test_every_boot_value_comes_back_as_itself_or_is_refused(field: str, value: str,
                                                             tmp_path: Path) -> None:
    boot = BOOT
    assert boot.hooks is not None
    assert boot.service is not None
    if field == "health_path":
        boot = dataclasses.replace(boot, service=dataclasses.replace(boot.service,
                                                                      health_path="/" + value))
    elif field == "health_url":
        boot = dataclasses.replace(boot, hooks=dataclasses.replace(
            boot.hooks, health_url=f"http://127.0.0.1:8080/{value}"))
    else:
        boot = dataclasses.replace(boot, **{field: value})
    try:
        script = render(boot)
    except UnsafeValue:
        return  # refused before anything is written: the settings name the key earlier
    done = run_boot(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.rglob("PWNED")), "a value ran a command"
    env_file = tmp_path / "etc/webtier/node.env"
    expected = {k: getattr(boot, f) for k, f in NODE_ENV_FIELDS.items()}
    assert sourced(env_file, list(expected)) == expected
    assert {k: shlexed(env_file)[k] for k in expected} == expected
    hooks = tmp_path / "etc/webtier/lifecycle.env"
    assert shlexed(hooks)["HEALTH_URL"] == boot.hooks.health_url  # type: ignore[union-attr]
    assert sourced(hooks, ["HEALTH_URL"])["HEALTH_URL"] == \
        boot.hooks.health_url  # type: ignore[union-attr]
    # The group drains before Terminating:Wait: the hook is told neither target group nor drain.
    assert not {"TARGET_GROUP_ARN", "DRAIN_SECONDS"} & set(shlexed(hooks))
    # The Consul files hold exactly what the builder made (hcl_string's round trip through the
    # real agent is tests/consul_agent/test_hcl_escaping.py).
    assert (tmp_path / "etc/consul.d/node.hcl").read_text().startswith(node_hcl(boot))


@pytest.mark.parametrize("value", ADVERSARIAL, ids=repr)
def test_env_values_read_back_the_same_in_bash_and_shlex(value: str, tmp_path: Path) -> None:
    try:
        line = f"V={env_value(value)}\n"
    except UnsafeValue:
        assert value != value.strip() or not value.isprintable() or set(value) & set("'\\")
        return
    (tmp_path / "e").write_text(line)
    assert sourced(tmp_path / "e", ["V"]) == {"V": value}
    assert shlexed(tmp_path / "e") == {"V": value}


@pytest.mark.parametrize("value", ADVERSARIAL, ids=repr)
def test_a_heredoc_writes_its_body_byte_for_byte_and_runs_nothing(value: str,
                                                                 tmp_path: Path) -> None:
    body = f"line one\n{value}\nlast\n"
    try:
        script = heredoc("out", "NODE_ENV", body)
    except UnsafeValue:
        assert "\x00" in value or "NODE_ENV" in value.splitlines()
        return
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_bytes() == body.encode()
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("value", ADVERSARIAL, ids=repr)
def test_hcl_strings_are_one_line_of_printable_ascii(value: str) -> None:
    try:
        text = hcl_string(value)
    except UnsafeValue:
        assert "\x00" in value
        return
    assert text.isascii()
    assert text.isprintable()
    # No template can start ($ and % are escapes) and no quote ends the string early.
    assert "$" not in text
    assert "%" not in text
    assert text.replace('\\"', "").count('"') == 2


def test_the_instance_id_from_imds_is_checked_before_it_reaches_a_file(tmp_path: Path) -> None:
    curl = 'case "$*" in *instance-id*) echo \'i-1"\';; *) echo t;; esac\n'
    done = run_boot(render(BOOT), tmp_path, curl=curl)
    assert done.returncode == 1
    assert "IMDS instance-id is not an instance id" in done.stderr
    assert not (tmp_path / "etc/consul.d/node.hcl").exists()


def test_nothing_is_run_from_the_env_files_when_bash_reads_them(tmp_path: Path) -> None:
    (tmp_path / "e").write_text(f"V={env_value('a b')}\n")
    subprocess.run(["bash", "-c", '. "$1"', "-", str(tmp_path / "e")], cwd=tmp_path, check=True,
                   env={"PATH": os.defpath})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]
