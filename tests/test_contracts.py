"""The instance scripts cannot import contracts/: they read what the stack writes. These prove the
values they derive agree with the contracts the program, the deploy tool and the policy use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.fleet.user_data import BootSettings, render, watch_hcl
from components.settings import STACKS, SettingsError, parse_settings, stack_file_kv_keys
from contracts import consul_agent, consul_ports, release_layout
from contracts.consul_agent import node_name_prefix
from contracts.names import APP_NAME
from deploy.pointer import PointerStore, connect
from tests.instance.test_instance_scripts import handler, pull
from tests.mocks import stack_config

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "image/ansible/roles/stretcher"


def user_data(stack: str) -> str:
    config, secrets = stack_config(stack)
    s = parse_settings(stack, config, secrets)
    return render(BootSettings(
        environment=s.stack, app=s.app, region=s.region, datacenter=s.consul.datacenter,
        kv_prefix=s.kv.prefix, release_bucket="bucket-123",
        deploy_pointer_key=s.deploy_keys.current,
        ssm_prefix=s.ssm_prefix, join_tag_key=s.consul.join_tag_key,
        join_tag_value=s.consul.join_tag_value,
        node_name_prefix=node_name_prefix(s.app, s.stack)))


def node_env(stack: str) -> dict[str, str]:
    """node.env exactly as the stack's user data writes it, parsed as release-pull parses it."""
    body = re.search(r"<<'NODE_ENV'\n(.*?)\nNODE_ENV\n", user_data(stack), re.S)
    assert body is not None, "user data no longer writes node.env through a NODE_ENV heredoc"
    path = ROOT / ".pytest-node.env"
    path.write_text(body.group(1) + "\n")
    try:
        return dict(pull.read_env_file(path))
    finally:
        path.unlink()


@pytest.mark.parametrize("stack", STACKS)
def test_release_pull_reads_the_pointer_key_the_deploy_tool_writes(stack: str) -> None:
    env = node_env(stack)
    keys = release_layout.deploy_keys(env["KV_PREFIX"], env["APP_NAME"])
    assert pull.pointer_key(env) == keys.current


def test_release_pull_accepts_exactly_the_manifest_key_the_deploy_tool_writes() -> None:
    key = release_layout.manifest_key("webapp", "r1")
    assert pull.release_id_of(f"s3://bucket-123/{key}", "bucket-123", "webapp") == "r1"
    other = release_layout.archive_key("webapp", "r1")
    with pytest.raises(pull.Refused):
        pull.release_id_of(f"s3://bucket-123/{other}", "bucket-123", "webapp")


@pytest.mark.parametrize("stack", STACKS)
def test_the_watch_and_the_handler_take_the_event_the_deploy_tool_fires_for_the_stack(
        stack: str, tmp_path: Path) -> None:
    script = user_data(stack)
    body = re.search(r"<<'NODE_ENV'\n(.*?)\nNODE_ENV\n", script, re.S)
    assert body is not None
    (tmp_path / "node.env").write_text(body.group(1) + "\n")
    env = pull.read_env_file(tmp_path / "node.env")
    fired = PointerStore(connect("127.0.0.1:1", None), env["KV_PREFIX"], env["APP_NAME"],
                         env["WEBTIER_ENV"]).event
    assert fired == release_layout.deploy_event(env["APP_NAME"], stack)
    assert handler.event_name(tmp_path / "node.env") == fired
    watch = re.search(r"<<WATCH_DEPLOY\n(.*?)\nWATCH_DEPLOY\n", script, re.S)
    assert watch is not None
    assert re.findall(r'name  = "([^"]*)"', watch.group(1)) == [fired]
    # Each stack its own: a deploy of one never wakes the other's watch on a shared cluster.
    assert fired != release_layout.deploy_event(env["APP_NAME"],
                                                next(s for s in STACKS if s != stack))


def test_a_node_env_from_before_the_per_stack_event_keeps_the_old_shared_event(
        tmp_path: Path) -> None:
    # Boot rewrites node.env and the watch together; an image newer than its user data still
    # acts on what that older watch hands it.
    (tmp_path / "node.env").write_text("APP_NAME=webapp\nKV_PREFIX=webapp/staging\n")
    assert handler.event_name(tmp_path / "node.env") == release_layout.LEGACY_DEPLOY_EVENT
    (tmp_path / "node.env").write_text("DEPLOY_EVENT='webapp-staging-deploy'\n")
    assert handler.event_name(tmp_path / "node.env") == "webapp-staging-deploy"


def test_the_boot_written_watch_runs_the_handler_the_image_installs_and_sudoers_allows() -> None:
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    installed = f"{defaults['stretcher_scripts_dir']}/deploy-event-handler"
    assert "deploy-event-handler" in defaults["stretcher_scripts"]
    assert installed == consul_agent.DEPLOY_HANDLER
    assert f'"{consul_agent.DEPLOY_HANDLER}"]' in watch_hcl("webapp-staging-deploy", '"t"')
    sudoers = (ROLE / "templates/sudoers-deploy.j2").read_text()
    assert "{{ stretcher_scripts_dir }}/deploy-event-handler" in sudoers


def test_a_bucket_name_with_dots_is_refused_by_its_config_key() -> None:
    config, secrets = stack_config("staging", overrides={
        "webtier:release.bucketName": "releases.example.com"})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert any(p.startswith("webtier:release.bucketName = ") and "no dots" in p
               for p in caught.value.problems), caught.value.problems


def test_an_empty_deployer_role_list_is_refused_by_its_config_key() -> None:
    config, secrets = stack_config("staging", overrides={"webtier:release.deployerRoleArns": []})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert any(p.startswith("webtier:release.deployerRoleArns is missing")
               for p in caught.value.problems), caught.value.problems


def test_the_policy_blocks_every_consul_port_from_the_internet() -> None:
    from policy import rules

    assert set(rules.DEFAULT_BLOCKED_PORTS) == {22, *consul_ports.NUMBERS}


def test_the_image_name_prefix_rule_is_the_app_name_rule() -> None:
    others = {s: stack_file_kv_keys(ROOT / f"Pulumi.{s}.yaml") for s in STACKS if s != "staging"}
    config, secrets = stack_config("staging", overrides={"webtier:image.namePrefix": "Bad_Name"})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets, others)
    assert not APP_NAME.match("Bad_Name")
    assert any(p.startswith("webtier:image.namePrefix") for p in caught.value.problems)
