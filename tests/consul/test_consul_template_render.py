"""config/ rendered by the real consul-template 0.41.1 (built by scripts/go-tools, the release the
image installs) from each stack's KV, checked against what the app reads.

Real: consul-template, the repo's config/consul-template.hcl and templates, the stack program run
under mocks for the KV it writes, and Consul 1.14.11 (tests/real_consul.py, ACLs default-deny)
answering consul-template's blocking queries with a token that may read only the stack's prefix.
Each run writes the stack's KV under a fresh prefix of its own. Double: `systemctl` is a stand-in
on PATH that records the restart command the config runs. The config is used as committed except
for paths (templates from config/templates/, output in a temp dir), the agent address and the app
user and group, which this machine lacks.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import STACKS
from tests.go_tools import tool
from tests.mocks import run_program, stack_config
from tests.real_consul import ConsulAgent

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
IMAGE_TEMPLATES = "/etc/webtier/templates/"
APP_CONFIG_DIR = "/opt/app/shared/config/"
CONSUL_TEMPLATE_DEFAULTS = ROOT / "image/ansible/roles/consul_template/defaults/main.yml"


@dataclass(frozen=True)
class StackKv:
    """What a stack writes to Consul KV: its prefix and every entry, secrets as placeholders."""

    stack: str
    prefix: str
    entries: Mapping[str, str]


def stack_kv(stack: str) -> StackKv:
    """The entries the program's KvEntries resource writes, run under mocks."""
    regs = run_program(stack).registrations
    kv = next(r for r in regs if r.type == "webtier:consul_kv:ConsulKv")
    written = next(r for r in regs if r.parent == kv.urn and r.custom)
    config, _ = stack_config(stack)
    secrets = json.loads(config["webtier:kvSecrets"])
    return StackKv(stack, written.inputs["prefix"], {**written.inputs["values"], **secrets})


def runnable_config(agent: ConsulAgent, out: Path) -> str:
    """config/consul-template.hcl with only paths, address and the app user changed."""
    text = (CONFIG / "consul-template.hcl").read_text()
    text = text.replace('address = "127.0.0.1:8500"', f'address = "{agent.address}"')
    text = text.replace(IMAGE_TEMPLATES, f"{CONFIG}/templates/")
    text = text.replace(APP_CONFIG_DIR, f"{out}/")
    return re.sub(r'^\s*(user|group)\s*=\s*"app"\n', "", text, flags=re.MULTILINE)


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    out: Path
    systemctl: list[str]
    token: str
    prefix: str


def placed(agent: ConsulAgent, kv: StackKv, skip: str = "") -> StackKv:
    """`kv` written to the agent under a fresh prefix (the stack's own prefix inside it)."""
    moved = StackKv(kv.stack, f"{agent.fresh_prefix()}/{kv.prefix}", kv.entries)
    for key, value in kv.entries.items():
        if key != skip:
            assert agent.api("PUT", f"/v1/kv/{moved.prefix}/{key}", data=value.encode()).json()
    return moved


def template_token(agent: ConsulAgent, prefix: str) -> str:
    """What consul_tokens grants consul-template: read on the stack's prefix, nothing else."""
    return agent.make_token(f'key_prefix "{prefix}/" {{ policy = "read" }}')


@pytest.fixture
def render(tmp_path: Path, consul_agent: ConsulAgent) -> Iterator[Any]:
    prefixes: list[str] = []

    def run(kv: StackKv, *, extra_config: str = "", log_level: str = "info",
            timeout: float = 60, token: str | None = None) -> Run:
        kv = placed(consul_agent, kv)
        prefixes.append(kv.prefix)
        token = token or template_token(consul_agent, kv.prefix)
        out, bin_dir = tmp_path / "config", tmp_path / "bin"
        out.mkdir(exist_ok=True)
        bin_dir.mkdir(exist_ok=True)
        # Stand-in for systemctl: the config's `command` restarts the app through it.
        calls = tmp_path / "systemctl-calls"
        (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
        (bin_dir / "systemctl").chmod(0o755)
        config, extra = tmp_path / "consul-template.hcl", tmp_path / "test-only.hcl"
        config.write_text(runnable_config(consul_agent, out))
        # A second -config file merges over the first, as consul-template documents.
        extra.write_text(extra_config)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path),
               "KV_PREFIX": kv.prefix, "WEBTIER_ENV": kv.stack, "CONSUL_HTTP_TOKEN": token}
        result = subprocess.run([tool("consul-template"), "-once", f"-config={config}",
                                 f"-config={extra}", f"-log-level={log_level}"],
                                env=env, capture_output=True,
                                text=True, timeout=timeout, check=False)
        logged = calls.read_text().splitlines() if calls.exists() else []
        return Run(result, out, logged, token, kv.prefix)

    yield run
    for prefix in prefixes:
        consul_agent.wipe(prefix.split("/")[0] + "/" + prefix.split("/")[1])


def expected_dsn(entries: Mapping[str, str]) -> str:
    """The original's DSN: user:password@tcp(host:3306)/database."""
    return (f"{entries['database/master-user']}:{entries['database/master-password']}"
            f"@tcp({entries['database/master-host']}:3306)/{entries['database/master-database']}")


# --- every stack renders what the app reads ----------------------------------------------------


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> StackKv:
    return stack_kv(str(request.param))


def test_real_consul_template_renders_app_toml_with_every_value_from_the_stacks_kv(
        render: Any, stack: StackKv) -> None:
    run = render(stack)
    assert run.result.returncode == 0, run.result.stderr
    app = tomllib.loads((run.out / "app.toml").read_text())
    assert app == {
        "app": {"environment": stack.stack, "log_level": stack.entries["app/log-level"]},
        "database": {"master": expected_dsn(stack.entries)},
        "feature": {"new_checkout": stack.entries["feature/new-checkout"] == "true"},
    }


def test_real_consul_template_renders_features_json_with_the_flags_and_defaults(
        render: Any, stack: StackKv) -> None:
    run = render(stack)
    assert run.result.returncode == 0, run.result.stderr
    features = json.loads((run.out / "features.json").read_text())
    assert features == {"environment": stack.stack,
                        "newCheckout": stack.entries["feature/new-checkout"] == "true",
                        "maintenanceBanner": False}


def test_real_consul_template_renders_a_set_optional_flag(render: Any, stack: StackKv) -> None:
    kv = StackKv(stack.stack, stack.prefix,
                 {**stack.entries, "feature/maintenance-banner": "true"})
    run = render(kv)
    assert run.result.returncode == 0, run.result.stderr
    assert json.loads((run.out / "features.json").read_text())["maintenanceBanner"] is True


def test_real_consul_template_writes_the_secret_config_0600_and_restarts_the_app(
        render: Any, stack: StackKv) -> None:
    run = render(stack)
    assert run.result.returncode == 0, run.result.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.out.iterdir()}
    assert modes == {"app.toml": 0o600, "features.json": 0o644}
    # Both templates name the same command; consul-template runs it once per render pass.
    assert run.systemctl
    assert set(run.systemctl) == {"start --no-block app-config-restart.service"}


def test_real_consul_template_with_another_token_is_denied_and_writes_nothing(
        render: Any, consul_agent: ConsulAgent) -> None:
    # A token the agent does not know; the other tests render with a token that may read only
    # their prefix, so every read there carried it.
    one_try = 'consul {\n  retry {\n    attempts = 1\n    backoff = "10ms"\n  }\n}\n'
    run = render(stack_kv("staging"), token="00000000-0000-0000-0000-00000000beef",
                 extra_config=one_try)
    assert run.result.returncode != 0
    assert "403" in run.result.stderr
    assert "ACL not found" in run.result.stderr
    assert list(run.out.iterdir()) == []


def test_real_consul_template_never_logs_the_token(render: Any, stack: StackKv) -> None:
    run = render(stack)
    assert run.result.returncode == 0, run.result.stderr
    assert run.token not in run.result.stdout + run.result.stderr


# --- a missing key -----------------------------------------------------------------------------


def without(kv: StackKv, key: str) -> StackKv:
    return StackKv(kv.stack, kv.prefix, {k: v for k, v in kv.entries.items() if k != key})


def test_real_consul_template_missing_key_fails_naming_it_and_writes_nothing(
        render: Any) -> None:
    # On an instance consul-template keeps waiting for the key; err_on_failed_lookup with a short
    # blocking wait turns that wait into a failure a test can see. Debug logging (never used on
    # instances: it prints the token) names the dependency it was waiting for.
    kv = without(stack_kv("staging"), "app/log-level")
    run = render(kv, log_level="debug", timeout=60,
                 extra_config='\nerr_on_failed_lookup = true\nblock_query_wait = "1s"\n')
    assert run.result.returncode != 0
    assert f"missing dependency: kv.block({run.prefix}/app/log-level)" in run.result.stderr
    # Only the file that needs the key is held back; the flags still render.
    assert sorted(p.name for p in run.out.iterdir()) == ["features.json"]


def test_real_consul_template_waits_for_a_missing_key_and_renders_once_it_is_written(
        tmp_path: Path, consul_agent: ConsulAgent) -> None:
    """The agent's blocking query wakes when the key is written (X-Consul-Index moves)."""
    kv = placed(consul_agent, stack_kv("staging"), skip="app/log-level")
    out = tmp_path / "config"
    out.mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "systemctl").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "systemctl").chmod(0o755)
    config = tmp_path / "consul-template.hcl"
    config.write_text(runnable_config(consul_agent, out))
    env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "HOME": str(tmp_path),
           "KV_PREFIX": kv.prefix, "WEBTIER_ENV": "staging",
           "CONSUL_HTTP_TOKEN": template_token(consul_agent, kv.prefix)}
    log = tmp_path / "consul-template.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen([tool("consul-template"), "-once", f"-config={config}",
                                 "-log-level=debug"],
                                env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        # Every other key answered; only the missing one's blocking query is left waiting.
        while "missing data for 1 dependencies" not in log.read_text():
            assert proc.poll() is None, f"consul-template exited early: {log.read_text()}"
            assert time.monotonic() < deadline, "consul-template never waited on the key"
            time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None
        assert not (out / "app.toml").exists()
        consul_agent.api("PUT", f"/v1/kv/{kv.prefix}/app/log-level", data=b"warn")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        consul_agent.wipe(kv.prefix.split("/")[0] + "/" + kv.prefix.split("/")[1])
    assert proc.returncode == 0, log.read_text()
    assert tomllib.loads((out / "app.toml").read_text())["app"]["log_level"] == "warn"


# --- the tested consul-template is the image's ------------------------------------------------


def test_the_image_installs_the_consul_template_release_these_tests_run() -> None:
    go_mod = (ROOT / "gotools/consul-template/go.mod").read_text()
    built = re.search(r"^require github\.com/hashicorp/consul-template v(\S+)$", go_mod,
                      re.MULTILINE)
    assert built, "gotools/consul-template/go.mod does not require consul-template"
    pinned = yaml.safe_load(CONSUL_TEMPLATE_DEFAULTS.read_text())["consul_template_version"]
    assert pinned == built.group(1)

