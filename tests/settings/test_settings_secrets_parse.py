"""The stack's secrets and the whole-config wiring (parse_settings), from hand-built configs.

Each refusal is one exact line; a secret's value never appears in one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.settings.kv import KvSettings
from components.settings.parse import parse_settings
from components.settings.reader import Problems, Secret, SettingsError
from components.settings.secrets import parse_kv_secrets, parse_secret

VALUE = "hunter2-do-not-print"
KV = KvSettings("shop/staging", {}, frozenset({"db/password", "api/token"}), frozenset())


def secret(raw: dict[str, object], keys: set[str], name: str = "consulAgentToken",
           ) -> tuple[Secret | None, list[str]]:
    problems = Problems()
    return parse_secret(name, raw, keys, "staging", problems), problems.items


def kv_secrets(raw: dict[str, object], keys: set[str]) -> tuple[dict[str, Secret], list[str]]:
    problems = Problems()
    return parse_kv_secrets(raw, keys, KV, "staging", problems), problems.items


# --- one secret --------------------------------------------------------------------------------

def test_a_secret_set_as_one_is_kept() -> None:
    s, problems = secret({"webtier:consulAgentToken": VALUE}, {"webtier:consulAgentToken"})
    assert (problems, s) == ([], Secret(VALUE))


def test_a_missing_secret_names_the_command_to_set_it() -> None:
    s, problems = secret({}, set())
    assert s is None
    assert problems == [
        "webtier:consulAgentToken is not set: run `pulumi config set --secret consulAgentToken "
        "<value> --stack staging` (the ACL token the instances' Consul agents use)"]


@pytest.mark.parametrize("name", ["consulKvToken", "kvSecrets"])
def test_optional_secrets_may_be_absent(name: str) -> None:
    assert secret({}, set(), name) == (None, [])


def test_a_secret_in_plaintext_is_refused_unseen() -> None:
    s, problems = secret({"webtier:consulAgentToken": VALUE}, set())
    assert s is None
    assert problems == [
        'webtier:consulAgentToken = "[redacted]": is stored in plaintext; remove it and run '
        "`pulumi config set --secret consulAgentToken <value> --stack staging` (the ACL token "
        "the instances' Consul agents use)"]


@pytest.mark.parametrize("value", ["", 5, None])
def test_an_empty_or_non_text_secret_is_refused_unseen(value: object) -> None:
    s, problems = secret({"webtier:consulAgentToken": value}, {"webtier:consulAgentToken"})
    assert s is None
    assert problems == ['webtier:consulAgentToken = "[secret]": must be a non-empty string']


# --- kvSecrets ---------------------------------------------------------------------------------

def test_kv_secrets_arrive_as_json_or_a_mapping() -> None:
    values = {"db/password": VALUE, "api/token": 42}
    expected = {"db/password": Secret(VALUE), "api/token": Secret("42")}
    for raw in (values, json.dumps(values)):
        out, problems = kv_secrets({"webtier:kvSecrets": raw}, {"webtier:kvSecrets"})
        assert (problems, out) == ([], expected)


def test_kv_secrets_missing_name_each_key_and_the_command() -> None:
    out, problems = kv_secrets({}, set())
    assert out == {}
    assert problems == [
        f"webtier:kvSecrets[\"{k}\"] is not set: run `pulumi config set --secret --path "
        f"'kvSecrets[\"{k}\"]' <value> --stack staging`" for k in ("api/token", "db/password")]


def test_kv_secrets_in_plaintext_are_refused_unseen() -> None:
    out, problems = kv_secrets({"webtier:kvSecrets": {"db/password": VALUE}}, set())
    assert out == {}
    assert problems == [
        'webtier:kvSecrets = "[redacted]": is stored in plaintext; set each value with `pulumi '
        "config set --secret --path 'kvSecrets[\"<key>\"]' … --stack staging`"]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", ["db/password"]])
def test_kv_secrets_that_are_no_mapping_are_refused_unseen(raw: object) -> None:
    out, problems = kv_secrets({"webtier:kvSecrets": raw}, {"webtier:kvSecrets"})
    assert out == {}
    assert problems == ['webtier:kvSecrets = "[secret]": must be an object of KV key -> secret '
                        "value"]


def test_kv_secrets_must_match_the_declared_keys() -> None:
    out, problems = kv_secrets({"webtier:kvSecrets": {"db/password": VALUE, "db/user": "app",
                                                      "cache/auth": "x"}},
                               {"webtier:kvSecrets"})
    assert set(out) == {"db/password", "db/user", "cache/auth"}
    assert problems == [
        "webtier:kvSecrets[\"api/token\"] is not set: run `pulumi config set --secret --path "
        "'kvSecrets[\"api/token\"]' <value> --stack staging`",
        'webtier:kvSecrets["cache/auth"] is not listed in kv.secretKeys: add it there, so every '
        "stack declares the same keys",
        'webtier:kvSecrets["db/user"] is not listed in kv.secretKeys: add it there, so every '
        "stack declares the same keys",
    ]


# --- the whole config --------------------------------------------------------------------------

AMI = "ami-0123456789abcdef0"
SECRETS = {f"webtier:{k}": f"{k}-value" for k in ("consulGossipKey", "consulAgentToken",
                                                  "consulTemplateToken")}
GOOD: dict[str, Any] = {
    "aws:region": "ap-northeast-1",
    "webtier:network": {"vpcId": "vpc-0123456789abcdef0", "fleetSubnets": [
        {"id": "subnet-0123456789abcdef0", "az": "ap-northeast-1a"},
        {"id": "subnet-0123456789abcdef1", "az": "ap-northeast-1c"}]},
    "webtier:image": {"baseSourceAmi": AMI},
    "webtier:consul": {"address": "https://consul.internal:8501",
                       "clusterSecurityGroupId": "sg-0123456789abcdef0"},
    "webtier:release": {"deployerRoleArns": ["arn:aws:iam::123456789012:role/deploy"]},
    **SECRETS,
}


def problems_of(raw: dict[str, Any], secret_keys: set[str] | None = None,
                stack: str = "staging") -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(stack, raw, set(SECRETS) if secret_keys is None else secret_keys)
    return list(caught.value.problems)


def test_a_minimal_config_parses_with_every_default() -> None:
    s = parse_settings("staging", {**GOOD, "webtier:tags": {"team": "web", "cost": 3}},
                       set(SECRETS))
    assert (s.stack, s.region, s.app, s.name) == ("staging", "ap-northeast-1", "webtier",
                                                  "webtier-staging")
    assert s.tags == {"team": "web", "cost": "3"}
    assert (s.notifications, s.kv.prefix) == (None, "webtier/staging")
    assert s.secrets.gossip_key == Secret("consulGossipKey-value")
    assert s.secrets.agent_token == Secret("consulAgentToken-value")
    assert s.secrets.template_token == Secret("consulTemplateToken-value")
    assert (s.secrets.kv_token, s.secrets.kv_values) == (None, {})


def test_structured_values_may_arrive_as_json_text() -> None:
    raw = {k: json.dumps(v) if k.startswith("webtier:") and k not in SECRETS else v
           for k, v in GOOD.items()}
    s = parse_settings("staging", {**raw, "webtier:app": "shop",
                                   "webtier:notifications": " {} "}, set(SECRETS))
    assert (s.app, s.name, s.kv.prefix) == ("shop", "shop-staging", "shop/staging")
    assert s.image.name_prefix == "shop"
    assert s.notifications is not None


def test_one_problem_is_one_line() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", {**GOOD, "aws:region": "tokyo"}, set(SECRETS))
    assert str(caught.value) == (
        "stack 'staging' has invalid settings: aws:region = \"tokyo\": must be an AWS region "
        "like ap-northeast-1 (`pulumi config set aws:region ap-northeast-1 --stack staging`)")


def test_several_problems_are_listed_one_per_line() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", {**GOOD, "aws:region": None, "webtier:app": "A"}, set(SECRETS))
    assert str(caught.value) == (
        "stack 'staging' has invalid settings:\n"
        "  - aws:region = null: must be an AWS region like ap-northeast-1 (`pulumi config set "
        "aws:region ap-northeast-1 --stack staging`)\n"
        '  - webtier:app = "A": must be 3-32 lowercase letters, digits and dashes, starting with '
        "a letter")


def test_unknown_keys_are_named_without_their_value() -> None:
    assert problems_of({**GOOD, "webtier:consulAgentTokn": "s3cret", "aws:profile": "x"}) == [
        "webtier:consulAgentTokn is not a known setting (known: app, capacity, consul, fleet, "
        "image, kv, loadBalancer, network, notifications, release, rollout, scaling, tags, and "
        "the secrets consulAgentToken, consulGossipKey, consulKvToken, consulTemplateToken, "
        "kvSecrets); its value is not shown"]


def test_a_plain_section_set_as_a_secret_is_refused() -> None:
    assert problems_of(GOOD, {*SECRETS, "webtier:fleet"}) == [
        "webtier:fleet is a secret but holds plain settings: set it without --secret"]


def test_a_section_that_is_bad_json_is_refused_by_key() -> None:
    assert problems_of({**GOOD, "webtier:fleet": "{minSize: 2"}) == [
        'webtier:fleet = "{minSize: 2": is not valid JSON (Expecting property name enclosed in '
        'double quotes)']


def test_tags_are_checked_by_key() -> None:
    assert problems_of({**GOOD, "webtier:tags": {"aws:owner": "x", "AWS:x": "y", "": "z"}}) == [
        'webtier:tags.aws:owner = "x": tag keys are 1-128 characters and may not start aws:',
        'webtier:tags.AWS:x = "y": tag keys are 1-128 characters and may not start aws:',
        'webtier:tags. = "z": tag keys are 1-128 characters and may not start aws:']
    assert problems_of({**GOOD, "webtier:tags": ["team"]}) == [
        'webtier:tags = ["team"]: must be a mapping of tag names to values']


def test_kv_keys_must_match_the_other_stacks() -> None:
    others = {"production": (frozenset({"app/name"}), frozenset())}
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", GOOD, set(SECRETS), others)
    assert caught.value.problems == (
        "webtier:kv: KV key 'app/name' is defined in stack 'production' but not in 'staging': "
        "define it in every stack, or list it in kv.environmentSpecific",)
    # A key the other stack marks as its own is not missing here.
    assert parse_settings("staging", GOOD, set(SECRETS),
                          {"production": (frozenset({"app/name"}), frozenset({"app/name"}))})
