"""consul-template's side: the keys the templates read, their coverage in every stack's KV, and
the consul-template and agent configs in config/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.consul.template_keys import (
    kv_parity_errors,
    required_keys,
    template_coverage_errors,
    template_reads,
    templates,
)
from components.settings import STACKS, stack_file_kv_keys

ROLE_FILES = Path(__file__).resolve().parents[2] / "image/ansible/roles/consul_template/files"

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
TEMPLATES = CONFIG / "templates"
# The DSN is one printf of the four database keys, quoted as a TOML string by toJSON.
DSN = re.compile(r'^master = \{\{ printf "(?P<format>[^"]+)" (?P<args>.+) \| toJSON \}\}$',
                 re.MULTILINE)


def write(tmp_path: Path, text: str, name: str = "t.ctmpl") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def prefixed(key: str, fn: str = "key") -> str:
    return f'{{{{ {fn} (print (env "KV_PREFIX") "/{key}") }}}}'


def stack_kv(stack: str) -> tuple[frozenset[str], frozenset[str]]:
    return stack_file_kv_keys(ROOT / f"Pulumi.{stack}.yaml")


def secret_keys() -> set[str]:
    import yaml

    found: set[str] = set()
    for stack in STACKS:
        doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        found |= set(doc["config"]["webtier:kv"].get("secretKeys") or [])
    return found


# --- reading templates -------------------------------------------------------------------------

def test_a_prefixed_key_read_is_found_with_its_line(tmp_path: Path) -> None:
    reads, problems = template_reads(write(tmp_path, "a\n" + prefixed("db/user") + "\n"))
    assert ([(r.key, r.line, r.required) for r in reads], problems) == ([("db/user", 2, True)], [])


def test_key_or_default_is_read_but_not_required(tmp_path: Path) -> None:
    text = '{{ keyOrDefault (print (env "KV_PREFIX") "/flag/x") "false" }}'
    reads, _ = template_reads(write(tmp_path, text))
    assert [(r.key, r.required) for r in reads] == [("flag/x", False)]


def test_every_read_in_one_action_is_found(tmp_path: Path) -> None:
    text = prefixed("a") + ":" + prefixed("b")
    assert [r.key for r in template_reads(write(tmp_path, text))[0]] == ["a", "b"]


def test_reads_with_trim_markers_are_found(tmp_path: Path) -> None:
    text = '{{- key (print (env "KV_PREFIX") "/a") -}}'
    assert [r.key for r in template_reads(write(tmp_path, text))[0]] == ["a"]


def test_a_key_read_outside_kv_prefix_is_a_problem(tmp_path: Path) -> None:
    _, problems = template_reads(write(tmp_path, '{{ key "database/master-user" }}'))
    assert "outside KV_PREFIX" in problems[0]


def test_a_key_built_in_a_way_the_check_cannot_follow_is_a_problem(tmp_path: Path) -> None:
    text = '{{ $p := env "KV_PREFIX" }}{{ key (printf "%s/db/user" $p) }}'
    _, problems = template_reads(write(tmp_path, text))
    assert "cannot read" in problems[0]


def test_comments_and_env_reads_are_not_kv_reads(tmp_path: Path) -> None:
    text = '{{/* key "x" */}}{{ env "KV_PREFIX" }}'
    assert template_reads(write(tmp_path, text)) == ([], [])


# --- coverage ----------------------------------------------------------------------------------

def test_a_missing_key_names_template_key_and_stack(tmp_path: Path) -> None:
    write(tmp_path, prefixed("database/master-host"), "app.toml.ctmpl")
    errors = template_coverage_errors(tmp_path, set(), "production")
    assert errors == [
        "template app.toml.ctmpl reads KV key 'database/master-host' (line 1) but stack "
        "'production' does not define it: add it under webtier:kv in Pulumi.production.yaml "
        "(kv.values, or kv.secretKeys plus kvSecrets)"]


def test_an_optional_key_may_be_missing(tmp_path: Path) -> None:
    write(tmp_path, '{{ keyOrDefault (print (env "KV_PREFIX") "/flag") "0" }}')
    assert template_coverage_errors(tmp_path, set(), "staging") == []


def test_an_empty_templates_folder_is_an_error(tmp_path: Path) -> None:
    assert "no templates" in template_coverage_errors(tmp_path, set(), "staging")[0]


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_the_templates_read_is_defined_in_the_stack(stack: str) -> None:
    keys, _ = stack_kv(stack)
    assert template_coverage_errors(TEMPLATES, keys, stack) == []


def test_the_templates_need_exactly_the_documented_keys() -> None:
    assert required_keys(TEMPLATES) == {
        "database/master-user", "database/master-password", "database/master-host",
        "database/master-database", "app/log-level", "feature/new-checkout"}


def test_the_app_config_has_the_original_dsn_line() -> None:
    text = (TEMPLATES / "app.toml.ctmpl").read_text()
    dsn = DSN.search(text)
    assert dsn is not None
    parts = re.findall(r'\(key \(print \(env "KV_PREFIX"\) "/database/master-([a-z]+)"\)\)',
                       dsn.group("args"))
    rendered = dsn.group("format") % tuple(f"<{part}>" for part in parts)
    assert rendered == "<user>:<password>@tcp(<host>:3306)/<database>"


# --- parity across stacks ----------------------------------------------------------------------

def test_a_key_only_one_stack_defines_is_an_error() -> None:
    errors = kv_parity_errors({"staging": {"a", "b"}, "production": {"a"}}, {})
    assert errors == ["KV key 'b' is defined in stack 'staging' but not in 'production': define "
                      "it in every stack, or list it in kv.environmentSpecific"]


def test_a_key_declared_environment_specific_may_differ() -> None:
    assert kv_parity_errors({"staging": {"a", "b"}, "production": {"a"}},
                            {"staging": {"b"}}) == []


def test_the_committed_stacks_define_the_same_keys() -> None:
    kv = {stack: stack_kv(stack) for stack in STACKS}
    assert kv_parity_errors({s: k for s, (k, _) in kv.items()},
                            {s: e for s, (_, e) in kv.items()}) == []


# --- consul-template.hcl -----------------------------------------------------------------------

def template_stanzas() -> list[dict[str, str]]:
    """The `template { … }` blocks of config/consul-template.hcl as key -> raw value."""
    text = (CONFIG / "consul-template.hcl").read_text()
    blocks = re.findall(r"^template \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL)
    return [dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", b, re.MULTILINE)) for b in blocks]


def test_every_template_file_has_exactly_one_stanza() -> None:
    sources = sorted(s["source"].strip('"') for s in template_stanzas())
    assert sources == [f"/etc/webtier/templates/{p.name}" for p in templates(TEMPLATES)]


def test_every_stanza_renders_into_the_app_shared_config_folder() -> None:
    assert all(s["destination"].strip('"').startswith("/opt/app/shared/config/")
               for s in template_stanzas())


def test_every_stanza_fails_on_missing_keys() -> None:
    assert all(s.get("error_on_missing_key") == "true" for s in template_stanzas())


def test_every_stanza_restarts_the_app_through_the_rolling_restart() -> None:
    # Never `systemctl restart app.service` here: that restarts every node at once (#337).
    assert all(s["command"] == '"systemctl start --no-block app-config-restart.service"'
               for s in template_stanzas())
    unit = (ROLE_FILES / "app-config-restart.service").read_text()
    assert "ExecStart=/usr/local/bin/app-config-restart\n" in unit


def test_files_with_secrets_are_rendered_0600_for_the_app_user_only() -> None:
    secret = secret_keys()
    assert secret, "the stacks declare no secret keys to check"
    for stanza in template_stanzas():
        path = TEMPLATES / Path(stanza["source"].strip('"')).name
        reads = {r.key for r in template_reads(path)[0]}
        if reads & secret:
            assert (stanza["perms"], stanza["user"]) == ("0600", '"app"'), path.name


def test_consul_template_config_carries_no_token() -> None:
    assert not re.search(r"^\s*token\s*=", (CONFIG / "consul-template.hcl").read_text(),
                         re.MULTILINE)


def test_consul_template_never_logs_at_debug() -> None:
    text = (CONFIG / "consul-template.hcl").read_text()
    assert re.search(r'^log_level\s*=\s*"(info|warn|err)"', text, re.MULTILINE)


# --- consul-agent.hcl --------------------------------------------------------------------------

def agent_settings() -> dict[str, str]:
    text = (CONFIG / "consul-agent.hcl").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", "\n".join(lines), re.MULTILINE))


@pytest.mark.parametrize("key", ["encrypt", "agent", "datacenter", "retry_join", "node_meta"])
def test_agent_config_leaves_boot_time_and_secret_settings_to_user_data(key: str) -> None:
    assert key not in agent_settings()


def test_agent_is_a_client_with_acls_denying_by_default() -> None:
    settings = agent_settings()
    assert (settings["server"], settings["default_policy"]) == ("false", '"deny"')


def test_agent_api_listens_on_loopback_only() -> None:
    assert agent_settings()["client_addr"] == '"127.0.0.1"'
