"""webtier:kv and webtier:notifications parsed directly: what is kept, and each exact refusal."""

from __future__ import annotations

import pytest

from components.settings.kv import KvSettings, looks_secret, parse_kv
from components.settings.notifications import (
    NotificationSettings,
    Subscription,
    parse_notifications,
)
from components.settings.reader import ConfigObject, Problems

K = "webtier:kv"
N = "webtier:notifications"
GOSSIP = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="


def kv(raw: object, stack: str = "staging") -> tuple[KvSettings, list[str]]:
    problems = Problems()
    return parse_kv(ConfigObject(K, raw, problems), stack, "shop"), problems.items


def notifications(raw: object) -> tuple[NotificationSettings | None, list[str]]:
    problems = Problems()
    return parse_notifications(ConfigObject(N, raw, problems), True), problems.items


# --- kv ----------------------------------------------------------------------------------------

def test_kv_defaults_to_the_app_and_stack_prefix_and_nothing_else() -> None:
    s, problems = kv({})
    assert (problems, s) == ([], KvSettings("shop/staging", {}, frozenset(), frozenset()))
    assert s.keys == frozenset()


def test_kv_values_are_kept_as_the_text_consul_stores() -> None:
    s, problems = kv({"prefix": "shop/blue", "values": {
        "app/name": "shop", "app/workers": 4, "app/ratio": 0.5, "app/debug": True,
        "app/cache": False}, "secretKeys": ["db/password"], "environmentSpecific": ["app/debug"]})
    assert problems == []
    assert s == KvSettings("shop/blue", {"app/name": "shop", "app/workers": "4",
                                         "app/ratio": "0.5", "app/debug": "true",
                                         "app/cache": "false"},
                           frozenset({"db/password"}), frozenset({"app/debug"}))
    assert s.keys == frozenset({"app/name", "app/workers", "app/ratio", "app/debug", "app/cache",
                                "db/password"})


def test_kv_refusals_name_each_key() -> None:
    _, problems = kv({"prefix": "Shop/", "values": {
        "Bad Key": "x", "app/list": ["a"], "app/none": None, "app/ok": "y"},
        "secretKeys": ["db/password", 7, "Db Pass", "app/ok"]})
    assert problems == [
        'webtier:kv.prefix = "Shop/": a KV path like app/staging',
        'webtier:kv.values.Bad Key = "Bad Key": key must be lowercase path segments like '
        "database/host",
        'webtier:kv.values.app/list = ["a"]: must be a string, number or boolean',
        "webtier:kv.values.app/none = null: must be a string, number or boolean",
        "webtier:kv.secretKeys[1] = 7: must be a KV key like db/password",
        'webtier:kv.secretKeys[2] = "Db Pass": must be a KV key like db/password',
        'webtier:kv.secretKeys[3] = "app/ok": is also in kv.values: a key is either plain or '
        "secret",
    ]


def test_kv_keys_in_the_deploy_folder_are_refused_by_key() -> None:
    # The kv-writer token is denied <prefix>/deploy/ so it cannot move the deploy pointer.
    _, problems = kv({"values": {"deploy/webapp/current": "x", "deployment/x": "y"},
                      "secretKeys": ["deploy/token"]})
    assert [p.split(" = ")[0] for p in problems] == [
        "webtier:kv.values.deploy/webapp/current", "webtier:kv.secretKeys[0]"]
    assert all("is under deploy/, the deploy tool's folder" in p for p in problems)


def test_kv_a_plain_value_that_looks_secret_is_refused_without_showing_it() -> None:
    _, problems = kv({"values": {"database/master-password": "hunter2"}}, stack="production")
    assert problems == [
        'webtier:kv.values.database/master-password = "[redacted]": looks like a secret: move it '
        "to kvSecrets with `pulumi config set --secret --path "
        "'kvSecrets[\"database/master-password\"]' … --stack production` and list it in "
        "kv.secretKeys"]


@pytest.mark.parametrize(("key", "value"), [
    ("db/password", "x"), ("db/passwd", "x"), ("api/secret", "x"), ("api/token", "x"),
    ("tls/private_key", "x"), ("tls/private-key", "x"), ("tls/privatekey", "x"),
    ("consul/gossip", GOSSIP), ("tls/cert", "-----BEGIN RSA PRIVATE KEY-----\n..."),
])
def test_looks_secret_by_name_or_shape(key: str, value: str) -> None:
    assert looks_secret(key, value)


@pytest.mark.parametrize(("key", "value"), [
    ("password/hint", "x"),       # only the last segment names the value
    ("app/name", GOSSIP[:-1]),   # one character short of a gossip key
    ("app/name", GOSSIP + "x"),
    ("app/note", "see -----BEGIN"),
])
def test_looks_plain(key: str, value: str) -> None:
    assert not looks_secret(key, value)


# --- notifications -----------------------------------------------------------------------------

def test_an_absent_notifications_section_is_no_topic() -> None:
    problems = Problems()
    assert parse_notifications(ConfigObject(N, None, problems), False) is None
    assert problems.items == []


def test_notifications_default_to_a_key_of_the_stacks_own() -> None:
    s, problems = notifications({})
    assert (problems, s) == ([], NotificationSettings("create", ()))
    assert s is not None
    assert s.creates_key


@pytest.mark.parametrize("key", [
    "alias/webtier-alarms", "0123abcd-0123-abcd-0123-0123456789ab",
    "mrk-0123456789abcdef0123456789abcdef",
    "arn:aws:kms:ap-northeast-1:123456789012:key/0123abcd-0123-abcd-0123-0123456789ab",
    "arn:aws:kms:ap-northeast-1:123456789012:alias/webtier",
])
def test_notifications_take_a_key_of_your_own(key: str) -> None:
    s, problems = notifications({"kmsKeyId": key})
    assert (problems, s) == ([], NotificationSettings(key, ()))
    assert s is not None
    assert not s.creates_key


def test_notifications_refuse_the_aws_managed_key() -> None:
    _, problems = notifications({"kmsKeyId": "alias/aws/sns"})
    assert problems == [
        'webtier:notifications.kmsKeyId = "alias/aws/sns": CloudWatch alarms and Auto Scaling '
        "cannot publish to a topic under the AWS managed key: leave kmsKeyId unset (the stack "
        "creates a key) or name a key whose policy grants cloudwatch.amazonaws.com and the Auto "
        "Scaling service-linked role kms:GenerateDataKey* and kms:Decrypt"]


@pytest.mark.parametrize("key", ["my key", "mrk-0123", "alias/", "Create"])
def test_notifications_refuse_what_is_not_a_key(key: str) -> None:
    _, problems = notifications({"kmsKeyId": key})
    assert problems == [f'webtier:notifications.kmsKeyId = "{key}": must be \'create\', a key '
                        "id, alias/<name>, or a KMS key or alias ARN"]


def test_notifications_read_each_subscription() -> None:
    s, problems = notifications({"subscriptions": [
        {"endpoint": "ops@example.com"},
        {"protocol": "https", "endpoint": "https://hooks.example.com/alarm"}]})
    assert problems == []
    assert s == NotificationSettings("create", (
        Subscription("email", "ops@example.com"),
        Subscription("https", "https://hooks.example.com/alarm")))


def test_notifications_refuse_each_subscription_by_index() -> None:
    _, problems = notifications({"subscriptions": [
        {"protocol": "sms", "endpoint": "+81"},
        {"protocol": "email", "endpoint": "ops"},
        {"protocol": "https", "endpoint": "http://hooks.example.com"},
        {"protocol": "email"},
        {"endpoint": "https://hooks.example.com", "topic": "x"}]})
    assert problems == [
        'webtier:notifications.subscriptions[0].protocol = "sms": must be one of email, https',
        # an unknown protocol is read as email, so its endpoint is checked as one
        'webtier:notifications.subscriptions[0].endpoint = "+81": must be an email address',
        'webtier:notifications.subscriptions[1].endpoint = "ops": must be an email address',
        'webtier:notifications.subscriptions[2].endpoint = "http://hooks.example.com": must be an '
        "https:// URL",
        "webtier:notifications.subscriptions[3].endpoint is missing: it is required",
        'webtier:notifications.subscriptions[4].endpoint = "https://hooks.example.com": must be '
        "an email address",
        "webtier:notifications.subscriptions[4].topic is not a known setting (known: endpoint, "
        "protocol); its value is not shown",
    ]


def test_an_unknown_notifications_field_lists_the_known_ones() -> None:
    _, problems = notifications({"topicName": "x"})
    assert problems == ["webtier:notifications.topicName is not a known setting (known: kmsKeyId, "
                        "subscriptions); its value is not shown"]
