"""The image roles applied for real to a Debian 12 root made by debootstrap, over Ansible's chroot
connection, twice: the first run converges, the second must change nothing.

Real: debootstrap, apt (from the machine's Debian mirror), Ansible and every role. Left out, with
the reason printed: the tasks tagged `download` (consul, consul-template and stretcher releases
from releases.hashicorp.com and github.com, which this machine cannot reach). Nothing runs inside
the chroot: no systemd is booted there, so units are installed and enabled (systemctl works
offline) but never started, exactly as on a Packer builder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.fleet.user_data import BootSettings, render
from components.image.inputs import ROOT
from contracts import consul_agent
from contracts.node_secrets import (
    AGENT_TOKEN_PARAMETER,
    CA_CERT_PARAMETER,
    GOSSIP_KEY_PARAMETER,
    TEMPLATE_TOKEN_PARAMETER,
)
from contracts.release_layout import deploy_keys
from tests.instance.image_root import ANSIBLE, Converged, enabled, inside, mode, owner, recap, unit

pytestmark = pytest.mark.integration


# --- idempotence -------------------------------------------------------------------------------


def test_roles_in_chroot_second_run_changes_nothing(converged: Converged) -> None:
    assert recap(converged.second) == {**recap(converged.second), "changed": 0, "failed": 0}, (
        converged.second.stdout[-5000:])


def test_roles_in_chroot_skip_only_the_download_tasks(converged: Converged) -> None:
    # With downloads skipped the binaries are absent; everything else is in place.
    assert not inside(converged, "/usr/local/bin/consul").exists()
    assert inside(converged, "/etc/systemd/system/consul.service").is_file()


# --- dnsmasq -----------------------------------------------------------------------------------


def dnsmasq_lines(c: Converged) -> list[str]:
    return inside(c, "/etc/dnsmasq.d/10-consul.conf").read_text().splitlines()


def test_dnsmasq_in_chroot_forwards_consul_domain_to_the_local_agent(converged: Converged) -> None:
    assert "server=/consul/127.0.0.1#8600" in dnsmasq_lines(converged)


def test_dnsmasq_in_chroot_forwards_the_rest_to_the_vpc_resolver_only(
        converged: Converged) -> None:
    lines = dnsmasq_lines(converged)
    assert "no-resolv" in lines
    assert [line for line in lines if line.startswith("server=") and "/consul/" not in line] == [
        "server=169.254.169.253"]


def test_dnsmasq_in_chroot_listens_on_loopback_only(converged: Converged) -> None:
    lines = dnsmasq_lines(converged)
    assert {"listen-address=127.0.0.1", "bind-interfaces"} <= set(lines)


def test_dnsmasq_in_chroot_is_put_first_in_the_dhcp_resolvers(converged: Converged) -> None:
    hook = inside(converged, "/etc/dhcp/dhclient-enter-hooks.d/webtier-dnsmasq").read_text()
    assert 'new_domain_name_servers="127.0.0.1 ${new_domain_name_servers}"' in hook


def test_dnsmasq_in_chroot_is_installed_and_enabled(converged: Converged) -> None:
    assert inside(converged, "/usr/sbin/dnsmasq").is_file()
    assert enabled(converged, "dnsmasq.service")


# --- consul ------------------------------------------------------------------------------------


def test_consul_config_in_chroot_is_the_repos_consul_agent_hcl(converged: Converged) -> None:
    baked = inside(converged, "/etc/consul.d/consul.hcl")
    assert baked.read_bytes() == (ROOT / "config" / "consul-agent.hcl").read_bytes()


def test_consul_config_in_chroot_is_readable_by_the_agent_only(converged: Converged) -> None:
    baked = inside(converged, "/etc/consul.d/consul.hcl")
    assert (mode(baked), owner(converged, baked)) == ("0o640", ("root", "consul"))


def test_consul_config_dir_in_chroot_is_closed_to_others(converged: Converged) -> None:
    # Boot writes secrets.hcl (gossip key, agent token) into this folder.
    folder = inside(converged, "/etc/consul.d")
    assert (mode(folder), owner(converged, folder)) == ("0o750", ("root", "consul"))


def test_consul_in_chroot_bakes_no_node_settings_or_secrets(converged: Converged) -> None:
    files = sorted(p.name for p in inside(converged, "/etc/consul.d").iterdir())
    # The deploy watch carries the agent token, so boot writes it (tests/fleet/).
    assert files == ["consul.hcl", "tls"]


def test_consul_tls_in_chroot_is_baked_inert_without_any_certificate(converged: Converged) -> None:
    # Consul reads only the top of its config dir: the TLS block waits in tls/ until boot.
    folder = inside(converged, consul_agent.TLS_DIR)
    assert sorted(p.name for p in folder.iterdir()) == ["agent-tls.hcl"]
    assert (mode(folder), owner(converged, folder)) == ("0o750", ("root", "consul"))
    baked = inside(converged, consul_agent.TLS_TEMPLATE)
    assert baked.read_bytes() == (ROOT / "config" / "consul-agent-tls.hcl").read_bytes()


def test_consul_data_dir_in_chroot_belongs_to_the_agent(converged: Converged) -> None:
    data = inside(converged, "/opt/consul")
    assert (mode(data), owner(converged, data)) == ("0o750", ("consul", "consul"))
    assert 'data_dir  = "/opt/consul"' in (ROOT / "config/consul-agent.hcl").read_text()


def test_consul_unit_in_chroot_runs_the_agent_unprivileged_on_the_config_dir(
        converged: Converged) -> None:
    consul = unit(converged, "consul.service")
    assert (consul["User"], consul["ExecStart"]) == (
        ["consul"], ["/usr/local/bin/consul agent -config-dir=/etc/consul.d"])


def test_consul_unit_in_chroot_restarts_its_watches_once_the_agent_reaches_a_server(
        converged: Converged) -> None:
    consul = unit(converged, "consul.service")
    # `-`: the agent keeps serving its node even if no server answers in REARM_WAIT.
    assert consul["ExecStartPost"] == ["-/usr/local/bin/consul-watch-rearm"]
    assert consul["Environment"] == ["REARM_WAIT=30"]
    rearm = inside(converged, "/usr/local/bin/consul-watch-rearm")
    assert (mode(rearm), owner(converged, rearm)) == ("0o755", ("root", "root"))
    assert rearm.read_bytes() == (
        ROOT / "image/ansible/roles/consul/files/consul-watch-rearm").read_bytes()


def test_consul_unit_in_chroot_waits_for_the_boot_written_node_config(
        converged: Converged) -> None:
    assert unit(converged, "consul.service")["ConditionPathExists"] == ["/etc/consul.d/node.hcl"]
    assert enabled(converged, "consul.service")


def test_consul_user_in_chroot_cannot_log_in(converged: Converged) -> None:
    entry = next(line.split(":") for line in
                 inside(converged, "/etc/passwd").read_text().splitlines()
                 if line.startswith("consul:"))
    assert entry[6] == "/usr/sbin/nologin"


# --- consul-template ---------------------------------------------------------------------------


def test_consul_template_config_in_chroot_is_the_repos(converged: Converged) -> None:
    baked = inside(converged, "/etc/consul-template.d/consul-template.hcl")
    assert baked.read_bytes() == (ROOT / "config/consul-template.hcl").read_bytes()


def test_consul_template_templates_in_chroot_are_every_repo_template(
        converged: Converged) -> None:
    baked = {p.name: p.read_bytes() for p in inside(converged, "/etc/webtier/templates").iterdir()}
    repo = {p.name: p.read_bytes() for p in (ROOT / "config/templates").glob("*.ctmpl")}
    assert baked == repo


def test_consul_template_unit_in_chroot_reads_node_env_and_the_token_file(
        converged: Converged) -> None:
    assert unit(converged, "consul-template.service")["EnvironmentFile"] == [
        "/etc/webtier/node.env", "-/etc/webtier/consul-template.env"]


def test_consul_template_unit_in_chroot_runs_the_config_dir_and_is_enabled(
        converged: Converged) -> None:
    assert unit(converged, "consul-template.service")["ExecStart"] == [
        "/usr/local/bin/consul-template -config=/etc/consul-template.d"]
    assert enabled(converged, "consul-template.service")


def test_webtier_env_files_in_chroot_are_not_baked(converged: Converged) -> None:
    # node.env and the token file are written at boot by the user data, never into the image.
    assert sorted(p.name for p in inside(converged, "/etc/webtier").iterdir()) == ["templates"]


# --- stretcher and the deploy watch ------------------------------------------------------------


@pytest.mark.parametrize("script", ["release-pull", "deploy-event-handler", "release-switch"])
def test_release_script_in_chroot_is_installed_executable(converged: Converged,
                                                          script: str) -> None:
    baked = inside(converged, f"/usr/local/bin/{script}")
    shipped = ANSIBLE / "roles/stretcher/files" / script
    assert (baked.read_bytes() == shipped.read_bytes(), mode(baked)) == (True, "0o755")


def test_sudoers_in_chroot_lets_consul_run_only_the_deploy_handler(converged: Converged) -> None:
    rule = inside(converged, "/etc/sudoers.d/webtier-deploy")
    rules = [line for line in rule.read_text().splitlines() if not line.startswith("#")]
    assert rules == ["consul ALL=(root) NOPASSWD: /usr/local/bin/deploy-event-handler"]
    assert mode(rule) == "0o440"


def test_deploy_state_dir_in_chroot_is_root_only(converged: Converged) -> None:
    state = inside(converged, "/var/lib/webtier")
    assert (mode(state), owner(converged, state)) == ("0o700", ("root", "root"))


# --- the app -----------------------------------------------------------------------------------


def test_app_unit_in_chroot_runs_the_current_release_as_the_app_user(
        converged: Converged) -> None:
    app = unit(converged, "app.service")
    assert (app["User"], app["WorkingDirectory"], app["ExecStart"]) == (
        ["app"], ["/opt/app/current"], ["/opt/app/current/bin/start"])
    assert enabled(converged, "app.service")


def test_app_unit_in_chroot_does_not_start_without_a_release(converged: Converged) -> None:
    assert unit(converged, "app.service")["ConditionPathExists"] == ["/opt/app/current"]


def test_releases_in_chroot_are_read_only_to_the_app(converged: Converged) -> None:
    releases = inside(converged, "/opt/app/releases")
    assert (mode(releases), owner(converged, releases)) == ("0o755", ("root", "root"))


def test_shared_dir_in_chroot_is_the_apps_own(converged: Converged) -> None:
    shared = inside(converged, "/opt/app/shared")
    assert (mode(shared), owner(converged, shared)) == ("0o750", ("app", "app"))


def test_app_user_in_chroot_is_a_system_user_without_login(converged: Converged) -> None:
    entry = next(line.split(":") for line in
                 inside(converged, "/etc/passwd").read_text().splitlines()
                 if line.startswith("app:"))
    assert (int(entry[2]) < 1000, entry[6]) == (True, "/usr/sbin/nologin")


# --- base --------------------------------------------------------------------------------------


def test_chrony_in_chroot_uses_the_amazon_time_sync_service(converged: Converged) -> None:
    conf = inside(converged, "/etc/chrony/chrony.conf").read_text()
    assert "server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4" in conf.splitlines()
    assert enabled(converged, "chrony.service")


def test_unattended_upgrades_in_chroot_take_security_updates_only(converged: Converged) -> None:
    conf = inside(converged, "/etc/apt/apt.conf.d/50unattended-upgrades").read_text()
    origins = re.findall(r'"(origin=[^"]+)"', conf)
    assert origins == ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]
    assert 'APT::Periodic::Unattended-Upgrade "1";' in inside(
        converged, "/etc/apt/apt.conf.d/20auto-upgrades").read_text()


def test_aws_cli_in_chroot_is_there_for_the_boot_script(converged: Converged) -> None:
    assert inside(converged, "/usr/bin/aws").exists()



# --- boot: the stack's user data, run for real in the converged image --------------------------

BOOT = BootSettings(environment="staging", app="webapp", region="ap-northeast-1",
                    datacenter="staging", kv_prefix="webapp/staging",
                    release_bucket="webapp-staging-releases-123456789012",
                    deploy_pointer_key=deploy_keys("webapp/staging", "webapp").current,
                    ssm_prefix="/webapp/staging",
                    join_tag_key="consul-cluster", join_tag_value="staging",
                    node_name_prefix="webapp-staging-", tls=True,
                    advertise_addr_wan="public-ipv4")
# What the stubbed `aws ssm get-parameter` answers: stands in for the SSM SecureStrings.
SSM_VALUES = {
    f"/webapp/staging/{GOSSIP_KEY_PARAMETER}": "c3R1Yi1nb3NzaXAta2V5LTMyLWJ5dGVzLWxvbmchIQ==",
    f"/webapp/staging/{AGENT_TOKEN_PARAMETER}": "stub-agent-token-1b2c",
    f"/webapp/staging/{TEMPLATE_TOKEN_PARAMETER}": "stub-template-token-3d4e",
    f"/webapp/staging/{CA_CERT_PARAMETER}":
        "-----BEGIN CERTIFICATE-----\nMIIBstubCAcert\n-----END CERTIFICATE-----",
}
# What the stubbed `curl` answers for the instance metadata (IMDSv2).
IMDS_VALUES = {"api/token": "stub-imds-session", "meta-data/instance-id": "i-0123456789abcdef0",
               "meta-data/public-ipv4": "203.0.113.10"}


@dataclass(frozen=True)
class Booted:
    root: Path
    result: subprocess.CompletedProcess[str]
    calls: list[str]


@pytest.fixture(scope="module")
def booted(converged: Converged, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    """A copy of the converged image root after running the rendered user data in it.

    Real: bash, the image's files, users and permissions, every command the script runs. Stubbed
    (no EC2 here): `aws` answers the SSM lookups from SSM_VALUES, `systemctl` and
    `/usr/local/bin/release-pull` (tested on their own) only log that they were called.
    """
    root = tmp_path_factory.mktemp("boot") / "root"
    subprocess.run(["cp", "-a", str(converged.root), str(root)], check=True, timeout=300)
    stubs = root / "opt/boot-stubs"
    stubs.mkdir(parents=True)
    answers = "\n".join(f'  "{name}") echo "{value}" ;;' for name, value in SSM_VALUES.items())
    scripts = {
        "aws": f'#!/bin/sh\necho "aws $*" >> /opt/boot-stubs/calls\n'
               f'while [ "$1" != "--name" ]; do shift; done\ncase "$2" in\n{answers}\n'
               '  *) exit 254 ;;\nesac\n',
        "systemctl": '#!/bin/sh\necho "systemctl $*" >> /opt/boot-stubs/calls\n',
        # No consul-template runs here: boot's bounded wait for its first render runs through.
        "sleep": "#!/bin/sh\n",
        "curl": '#!/bin/sh\necho "curl $*" >> /opt/boot-stubs/calls\nfor a; do last="$a"; done\n'
                'case "$last" in\n' + "\n".join(
                    f'  */{path}) echo "{value}" ;;' for path, value in IMDS_VALUES.items())
                + '\n  *) exit 22 ;;\nesac\n',
    }
    for name, text in scripts.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    pull = root / "usr/local/bin/release-pull"
    pull.write_text('#!/bin/sh\necho "release-pull" >> /opt/boot-stubs/calls\n')
    pull.chmod(0o755)
    (root / "boot-user-data.sh").write_text(render(BOOT))
    result = subprocess.run(
        ["chroot", str(root), "/usr/bin/env", "-i",
         "PATH=/opt/boot-stubs:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "/bin/bash", "/boot-user-data.sh"],
        capture_output=True, text=True, timeout=120, check=False)
    calls = (stubs / "calls").read_text().splitlines() if (stubs / "calls").exists() else []
    yield Booted(root, result, calls)
    shutil.rmtree(root, ignore_errors=True)


def test_user_data_in_chroot_boots_without_error(booted: Booted) -> None:
    assert booted.result.returncode == 0, booted.result.stdout + booted.result.stderr


def test_user_data_in_chroot_writes_the_node_env_readable_by_all(booted: Booted) -> None:
    env = booted.root / "etc/webtier/node.env"
    lines = set(env.read_text().splitlines())
    assert {"WEBTIER_ENV=staging", "KV_PREFIX=webapp/staging", "SSM_PREFIX=/webapp/staging",
            "RELEASE_BUCKET=webapp-staging-releases-123456789012",
            "DEPLOY_POINTER_KEY=webapp/staging/deploy/webapp/current"} <= lines
    assert mode(env) == "0o644"


def test_user_data_in_chroot_joins_consul_by_tag_in_its_datacenter(booted: Booted) -> None:
    hcl = (booted.root / "etc/consul.d/node.hcl").read_text()
    assert 'datacenter = "staging"' in hcl
    assert 'retry_join = ["provider=aws tag_key=consul-cluster tag_value=staging"]' in hcl


def test_user_data_in_chroot_gives_the_gossip_key_to_the_agent_only(booted: Booted) -> None:
    secrets = booted.root / "etc/consul.d/secrets.hcl"
    text = secrets.read_text()
    assert f'encrypt = "{SSM_VALUES[f"/webapp/staging/{GOSSIP_KEY_PARAMETER}"]}"' in text
    assert SSM_VALUES[f"/webapp/staging/{AGENT_TOKEN_PARAMETER}"] in text
    image = Converged(booted.root, subprocess.CompletedProcess([], 0),
                      subprocess.CompletedProcess([], 0))
    assert (mode(secrets), owner(image, secrets)) == ("0o640", ("root", "consul"))


def test_user_data_in_chroot_gives_the_template_token_to_root_only(booted: Booted) -> None:
    env = booted.root / "etc/webtier/consul-template.env"
    token = SSM_VALUES[f"/webapp/staging/{TEMPLATE_TOKEN_PARAMETER}"]
    assert env.read_text() == f"CONSUL_HTTP_TOKEN={token}\n"
    assert mode(env) == "0o600"


def test_user_data_in_chroot_reads_every_secret_from_ssm_with_decryption(booted: Booted) -> None:
    lookups = [c for c in booted.calls if c.startswith("aws ssm get-parameter")]
    assert len(lookups) == 4
    assert all("--with-decryption" in c for c in lookups)


@pytest.mark.parametrize("name", ["node.hcl", "watch-deploy.hcl"])
def test_user_data_in_chroot_lets_the_agent_read_what_it_writes(booted: Booted, name: str) -> None:
    # The agent runs as consul; under the script's umask 077 a plain write is 0600 root:root.
    written = booted.root / "etc/consul.d" / name
    image = Converged(booted.root, subprocess.CompletedProcess([], 0),
                      subprocess.CompletedProcess([], 0))
    assert (mode(written), owner(image, written)) == ("0o640", ("root", "consul"))


def test_user_data_in_chroot_names_the_node_for_its_stack(booted: Booted) -> None:
    hcl = (booted.root / "etc/consul.d/node.hcl").read_text()
    assert 'node_name  = "webapp-staging-i-0123456789abcdef0"' in hcl


def test_user_data_in_chroot_asks_imds_with_a_session_token(booted: Booted) -> None:
    reads = [c for c in booted.calls if c.startswith("curl") and "/meta-data/" in c]
    assert len(reads) == 2  # instance-id, public-ipv4
    assert all("X-aws-ec2-metadata-token: stub-imds-session" in c for c in reads)


def test_user_data_in_chroot_writes_the_ca_certificate_from_ssm(booted: Booted) -> None:
    ca = booted.root / consul_agent.CA_FILE.lstrip("/")
    assert ca.read_text() == SSM_VALUES[f"/webapp/staging/{CA_CERT_PARAMETER}"] + "\n"
    image = Converged(booted.root, subprocess.CompletedProcess([], 0),
                      subprocess.CompletedProcess([], 0))
    assert (mode(ca), owner(image, ca)) == ("0o644", ("root", "consul"))


def test_user_data_in_chroot_turns_on_the_baked_tls_block(booted: Booted) -> None:
    tls = booted.root / consul_agent.TLS_CONFIG.lstrip("/")
    assert tls.read_bytes() == (ROOT / "config" / "consul-agent-tls.hcl").read_bytes()
    image = Converged(booted.root, subprocess.CompletedProcess([], 0),
                      subprocess.CompletedProcess([], 0))
    assert (mode(tls), owner(image, tls)) == ("0o640", ("root", "consul"))


def test_user_data_in_chroot_leaves_no_private_key_on_the_node(booted: Booted) -> None:
    folder = booted.root / "etc/consul.d"
    texts = [p.read_text() for p in folder.rglob("*") if p.is_file()]
    assert not any("PRIVATE KEY" in t for t in texts)
    assert not any(p.suffix == ".key" for p in folder.rglob("*"))


def test_user_data_in_chroot_advertises_the_public_address_to_other_datacenters(
        booted: Booted) -> None:
    wan = booted.root / consul_agent.WAN_CONFIG.lstrip("/")
    assert wan.read_text() == 'advertise_addr_wan = "203.0.113.10"\n'
    assert mode(wan) == "0o640"


def test_user_data_in_chroot_renders_the_config_then_pulls_the_release_then_starts_the_app(
        booted: Booted) -> None:
    # consul-template first: release-pull's switch starts the app, which must find its config.
    order = [c for c in booted.calls if not c.startswith(("aws", "curl"))]
    assert order == ["systemctl enable --now consul.service",
                     "systemctl enable --now consul-template.service", "release-pull",
                     # Not --now: the pull above is this boot's; the unit is every later one's.
                     "systemctl enable release-pull.service",
                     "systemctl enable --now app.service"]


def test_user_data_carries_none_of_the_secrets_it_installs() -> None:
    text = render(BOOT)
    assert not any(value in text for value in SSM_VALUES.values())
