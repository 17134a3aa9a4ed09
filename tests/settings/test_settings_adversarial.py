"""Every setting that reaches the user data, a Consul file or a URL either refuses an adversarial
string with one line naming its key, or keeps it exactly (and the boot script then carries it as
itself: tests/fleet/test_user_data_escaping.py). Every ID rule matches the whole string."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from components.consul.kv_payload import RELATIVE_KEY
from components.fleet.user_data import render
from components.settings import SettingsError, parse_settings
from components.settings.capacity_schedule import ACTION_NAME
from components.settings.consul import CONSUL_ADDRESS, DATACENTER, SERVICE
from components.settings.kv import GOSSIP_KEY_SHAPE, KV_KEY
from components.settings.notifications import EMAIL, HTTPS_URL, KMS_KEY
from contracts import aws_ids
from contracts.escaping import URL_PATH
from contracts.names import APP_NAME
from deploy.artifacts import RELEASE_ID
from mock_engine import stack_config
from tests.adversarial_strings import ADVERSARIAL
from tests.fleet.test_user_data_escaping import BOOT

# Setting -> how the parsed settings hold it.
REACHES_A_FILE = {
    "webtier:app": lambda s: s.app,
    "aws:region": lambda s: s.region,
    "webtier:consul.datacenter": lambda s: s.consul.datacenter,
    "webtier:consul.joinTag.key": lambda s: s.consul.join_tag_key,
    "webtier:consul.joinTag.value": lambda s: s.consul.join_tag_value,
    "webtier:kv.prefix": lambda s: s.kv.prefix,
    "webtier:loadBalancer.healthCheckPath": lambda s: s.load_balancer.health_check_path,
    "webtier:release.bucketName": lambda s: s.release.bucket_name,
}


def parse(key: str, value: str) -> Any:
    config, secrets = stack_config("staging", overrides={key: value})
    return parse_settings("staging", config, secrets)


@pytest.mark.parametrize("value", [*ADVERSARIAL, *(f"/{v}" for v in ADVERSARIAL)], ids=repr)
@pytest.mark.parametrize("key", sorted(REACHES_A_FILE))
def test_a_setting_refuses_an_adversarial_string_in_one_line_or_keeps_it(key: str,
                                                                         value: str) -> None:
    try:
        settings = parse(key, value)
    except SettingsError as e:
        message = str(e)
        assert "\n" not in message
        assert "\r" not in message
        assert "\x00" not in message
        assert key in message
        return
    assert REACHES_A_FILE[key](settings) == value
    # What the settings keep, the user data can carry (refusing at render would be too late).
    assert BOOT.service is not None
    render(dataclasses.replace(
        BOOT, app=settings.app, region=settings.region, datacenter=settings.consul.datacenter,
        kv_prefix=settings.kv.prefix, join_tag_key=settings.consul.join_tag_key,
        join_tag_value=settings.consul.join_tag_value,
        release_bucket=settings.release.bucket_name or BOOT.release_bucket,
        service=dataclasses.replace(BOOT.service,
                                    health_path=settings.load_balancer.health_check_path)))


@pytest.mark.parametrize("path", ["/health\n", "/a b", '/a"b', "/a$(id)", "/a`id`", "/a%0a",
                                  "/a?b=1", "/a#b", "/a'b", "/a\\b", "/é", "/a;b", "/a&b"])
def test_health_check_path_takes_path_characters_only(path: str) -> None:
    with pytest.raises(SettingsError, match=r"webtier:loadBalancer\.healthCheckPath"):
        parse("webtier:loadBalancer.healthCheckPath", path)


def test_health_check_path_keeps_an_ordinary_path() -> None:
    settings = parse("webtier:loadBalancer.healthCheckPath", "/_health/ready-v1.2:ok@x+y~z")
    assert settings.load_balancer.health_check_path == "/_health/ready-v1.2:ok@x+y~z"


# One valid value per rule: the value matches, the value plus a newline (which `$` accepts) or
# any other trailing or leading junk does not.
RULES: list[tuple[str, re.Pattern[str], str]] = [
    ("AMI_ID", aws_ids.AMI_ID.pattern, "ami-0123456789abcdef0"),
    ("SUBNET_ID", aws_ids.SUBNET_ID.pattern, "subnet-0123456789abcdef0"),
    ("VPC_ID", aws_ids.VPC_ID.pattern, "vpc-01234567"),
    ("SECURITY_GROUP_ID", aws_ids.SECURITY_GROUP_ID.pattern, "sg-0123456789abcdef0"),
    ("ARN", aws_ids.ARN.pattern, "arn:aws:acm:ap-northeast-1:123456789012:certificate/x"),
    ("IAM_ROLE_ARN", aws_ids.IAM_ROLE_ARN.pattern, "arn:aws:iam::123456789012:role/deployer"),
    ("REGION", aws_ids.REGION.pattern, "ap-northeast-1"),
    ("AVAILABILITY_ZONE", aws_ids.AVAILABILITY_ZONE.pattern, "ap-northeast-1a"),
    ("INSTANCE_TYPE", aws_ids.INSTANCE_TYPE.pattern, "t3.small"),
    ("BUCKET_NAME", aws_ids.BUCKET_NAME.pattern, "acme-releases"),
    ("TAG_KEY", aws_ids.TAG_KEY.pattern, "consul-cluster"),
    ("JOIN_TAG", aws_ids.JOIN_TAG.pattern, "consul-cluster"),
    ("APP_NAME", APP_NAME, "webapp"),
    ("RELEASE_ID", RELEASE_ID, "20240101-abc"),
    ("KV_KEY (kv prefix, keys)", KV_KEY, "webapp/staging"),
    ("GOSSIP_KEY_SHAPE", GOSSIP_KEY_SHAPE, "A" * 43 + "="),
    ("RELATIVE_KEY", RELATIVE_KEY, "database/host"),
    ("DATACENTER", DATACENTER, "dc1"),
    ("SERVICE", SERVICE, "webapp"),
    ("CONSUL_ADDRESS", CONSUL_ADDRESS, "https://consul.internal:8501"),
    ("ACTION_NAME", ACTION_NAME, "morning"),
    ("KMS_KEY", KMS_KEY, "alias/sns"),
    ("EMAIL", EMAIL, "ops@example.com"),
    ("HTTPS_URL", HTTPS_URL, "https://hooks.example.com/x"),
    ("URL_PATH (healthCheckPath)", URL_PATH, "/health"),
]


@pytest.mark.parametrize(("name", "rule", "valid"), RULES, ids=[r[0] for r in RULES])
def test_every_id_rule_matches_the_whole_string(name: str, rule: re.Pattern[str],
                                                valid: str) -> None:
    assert rule.match(valid), name
    assert rule.fullmatch(valid), name
    # `.match` too: a caller that forgets fullmatch must still not take a trailing newline.
    for bad in (f"{valid}\n", f"{valid}\r\n", f"{valid}\n{valid}", f"\n{valid}"):
        assert not rule.match(bad), f"{name} takes {bad!r}"


@pytest.mark.parametrize(("key", "value"), [
    ("aws:region", "ap-northeast-1\n"),
    ("webtier:app", "webapp\n"),
    ("webtier:consul.datacenter", "staging\n"),
    ("webtier:kv.prefix", "webapp/staging\n"),
    ("webtier:release.bucketName", "acme-releases\n"),
    ("webtier:network.subnets", [{"id": "subnet-0123456789abcdef0\n", "az": "ap-northeast-1a"}]),
    ("webtier:release.deployerRoleArns", ["arn:aws:iam::123456789012:role/deployer\n"]),
    ("webtier:consul.wan.peers", ["dc2\n"]),
])
def test_settings_refuse_an_id_with_a_trailing_newline(key: str, value: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(key, value)
    assert key.split(".")[0] in str(caught.value)


@pytest.mark.parametrize(("pool", "says"), [
    ({"minSize": 1000}, "webtier:capacity.warmPool.minSize = 1000: must be at most fleet maxSize"),
    ({"maxGroupPreparedCapacity": 1000},
     "webtier:capacity.warmPool.maxGroupPreparedCapacity = 1000: must be at most twice fleet "
     "maxSize"),
])
def test_a_warm_pool_larger_than_the_fleet_can_use_is_refused(pool: dict[str, int],
                                                               says: str) -> None:
    config, secrets = stack_config("staging", overrides={"webtier:capacity.warmPool": pool,
                                                         "webtier:capacity.mixedInstances": None})
    with pytest.raises(SettingsError, match=re.escape(says)):
        parse_settings("staging", config, secrets)


def test_a_warm_pool_the_fleet_can_use_passes() -> None:
    config, secrets = stack_config("staging", overrides={
        "webtier:capacity.warmPool": {"minSize": 1, "maxGroupPreparedCapacity": 4},
        "webtier:capacity.mixedInstances": None})
    assert parse_settings("staging", config, secrets).capacity.warm_pool is not None


@pytest.mark.parametrize("size", [400 * 1024, 512 * 1024])
def test_a_kv_value_over_what_one_txn_carries_is_refused_at_plan_time(size: int) -> None:
    # 384-512 KiB passed the old 512 KiB check, and then every `up` got 413 from /v1/txn.
    config, secrets = stack_config("staging", overrides={
        "webtier:kv.values": {"big/blob": "x" * size}})
    with pytest.raises(SettingsError, match=r"value of key 'big/blob' is \d+ bytes; written "
                                            r"through Consul's /v1/txn"):
        parse_settings("staging", config, secrets)


def test_a_kv_value_just_under_the_txn_limit_passes() -> None:
    from components.consul.kv_payload import max_value_bytes

    config, secrets = stack_config("staging", overrides={
        "webtier:kv.values": {"big/blob": "x" * max_value_bytes("webapp/staging", "big/blob")}})
    parse_settings("staging", config, secrets)


def test_acl_rule_segments_are_written_with_the_one_hcl_rule() -> None:
    from consul_tokens.rules import rule

    assert rule("key_prefix", "webapp/staging/", "read") == (
        'key_prefix "webapp/staging/" {\n  policy = "read"\n}\n')
    assert rule("key", 'a"}\nkey_prefix "" {', "write").splitlines()[0] == (
        'key "a\\"}\\u000akey_prefix \\"\\" {" {')
