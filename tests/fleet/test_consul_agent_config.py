"""The agent's files on a node agree with the contracts, and the boot script turns TLS and the WAN
address on only when the stack asks: pure tests over config/ and the user data builder."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from components.fleet.user_data import BootSettings, render
from contracts import consul_agent, consul_ports
from contracts.node_secrets import CA_CERT_PARAMETER

ROOT = Path(__file__).resolve().parents[2]
AGENT = (ROOT / "config" / "consul-agent.hcl").read_text()
TLS = (ROOT / "config" / "consul-agent-tls.hcl").read_text()
ROLE = yaml.safe_load((ROOT / "image/ansible/roles/consul/defaults/main.yml").read_text())


def boot(**changes: object) -> str:
    fields: dict[str, object] = dict(
        environment="staging", app="webapp", region="ap-northeast-1", datacenter="staging",
        kv_prefix="webapp/staging", release_bucket="b", deploy_pointer_key="k",
        ssm_prefix="/webapp/staging", join_tag_key="consul-cluster", join_tag_value="staging",
        node_name_prefix="webapp-staging-")
    fields.update(changes)
    return render(BootSettings(**fields))  # type: ignore[arg-type]


def hcl_ports(text: str) -> dict[str, int]:
    block = re.search(r"ports \{(.*?)\}", text, re.S)
    assert block, "no ports block"
    return {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", block.group(1))}


def test_agent_serves_http_and_dns_on_the_contract_ports_on_loopback_only() -> None:
    ports = hcl_ports(AGENT)
    assert (ports["http"], ports["dns"]) == (consul_ports.HTTP.port, consul_ports.DNS.port)
    assert set(consul_ports.NODE_LOOPBACK) == {consul_ports.HTTP, consul_ports.DNS}
    assert 'client_addr = "127.0.0.1"' in AGENT


def test_agent_disables_https_and_grpc_on_the_nodes() -> None:
    ports = hcl_ports(AGENT)
    assert (ports["https"], ports["grpc"]) == (-1, -1)
    assert set(consul_ports.NODE_DISABLED) == {consul_ports.HTTPS, consul_ports.GRPC}


def test_consul_template_and_dnsmasq_use_the_agents_loopback_ports() -> None:
    template = (ROOT / "config" / "consul-template.hcl").read_text()
    assert f'address = "127.0.0.1:{consul_ports.HTTP.port}"' in template
    dnsmasq = yaml.safe_load((ROOT / "image/ansible/roles/dnsmasq/defaults/main.yml").read_text())
    assert dnsmasq["dnsmasq_consul_server"] == f"127.0.0.1#{consul_ports.DNS.port}"


def test_a_shutdown_is_not_a_leave() -> None:
    # lifecycle-hook leaves when the group takes the instance out; a stop, power-off or reboot
    # of an in-service instance must leave it failed in the catalog, where deploys see it.
    assert re.search(r"^leave_on_terminate = false$", AGENT, re.M)
    assert re.search(r"^rejoin_after_leave = true$", AGENT, re.M)


def test_a_checks_new_output_is_synced_at_once() -> None:
    # deploy reads the release a node runs from its check output in the catalog; Consul defers
    # output-only changes by check_update_interval (5m) unless it is 0s.
    assert re.search(r'^check_update_interval = "0s"$', AGENT, re.M)


def test_tls_block_verifies_the_servers_with_auto_encrypt() -> None:
    flat = re.sub(r"#.*", "", TLS)
    assert re.search(r'defaults \{[^}]*ca_file\s*=\s*"' + re.escape(consul_agent.CA_FILE), flat)
    assert re.search(r"defaults \{[^}]*verify_outgoing\s*=\s*true", flat)
    assert re.search(r"internal_rpc \{[^}]*verify_server_hostname\s*=\s*true", flat)
    assert re.search(r"auto_encrypt \{\s*tls\s*=\s*true\s*\}", flat)


def test_tls_block_names_no_certificate_or_key_of_its_own() -> None:
    # auto_encrypt: the servers sign the agent's certificate; no key is ever on a node.
    flat = re.sub(r"#.*", "", TLS)
    assert "cert_file" not in flat
    assert "key_file" not in flat


def test_role_bakes_the_tls_block_where_the_contract_says() -> None:
    assert ROLE["consul_tls_dir"] == "{{ consul_config_dir }}/tls"
    assert ROLE["consul_config_dir"] + "/tls" == consul_agent.TLS_DIR
    assert f"{consul_agent.TLS_DIR}/agent-tls.hcl" == consul_agent.TLS_TEMPLATE
    assert ROLE["consul_tls_config_source"].endswith("config/consul-agent-tls.hcl")


def test_boot_without_tls_writes_no_tls_file_and_reads_no_ca() -> None:
    text = boot(tls=False)
    assert CA_CERT_PARAMETER not in text
    assert consul_agent.TLS_CONFIG not in text


def test_boot_with_tls_writes_the_ca_from_ssm_and_turns_the_block_on() -> None:
    text = boot(tls=True)
    assert f"param {CA_CERT_PARAMETER} > {consul_agent.CA_FILE}" in text
    assert f"{consul_agent.TLS_TEMPLATE} {consul_agent.TLS_CONFIG}" in text
    # TLS must be in place before the agent starts.
    assert text.index(consul_agent.TLS_CONFIG) < text.index("enable --now consul.service")


def test_boot_advertises_a_wan_address_only_when_asked() -> None:
    assert "public-ipv4" not in boot()
    text = boot(advertise_addr_wan="public-ipv4")
    assert "imds public-ipv4" in text
    assert consul_agent.WAN_CONFIG in text
    assert text.index(consul_agent.WAN_CONFIG) < text.index("enable --now consul.service")


def test_boot_names_the_node_with_the_stacks_prefix() -> None:
    assert "CONSUL_NODE_NAME_PREFIX=webapp-staging-" in boot()
    assert 'CONSUL_NODE_NAME="$CONSUL_NODE_NAME_PREFIX$instance_id"' in boot()
    # The prefix is written escaped at render time; only the (checked) instance id joins at boot.
    assert ("printf 'node_name  = \"%s%s\"\\n' \\\n  webapp-staging- \"$instance_id\"" in boot())
    assert consul_agent.node_name_prefix("webapp", "staging") == "webapp-staging-"
