"""The notification topic under mocks: encrypted with a key CloudWatch and Auto Scaling may use,
fed by the group's launch/terminate failures and by every scaling alarm, with the subscriptions
the settings list; plus the key policy as a pure builder."""

from __future__ import annotations

import json
from typing import Any

from components.fleet.notifications import AUTOSCALING_ROLE, topic_key_policy
from tests.mocks import Registration, run_program

TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def plan(**overrides: Any) -> tuple[list[Registration], dict[str, Any]]:
    run = run_program("production", config_overrides={"webtier:notifications": {}, **overrides})
    return run.registrations, run.outputs


def one(regs: list[Registration], type_: str) -> Registration:
    found = [r for r in regs if r.type == type_]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_topic_is_encrypted_with_the_key_the_stack_creates() -> None:
    regs, _ = plan()
    key, topic = one(regs, KEY), one(regs, TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True


def test_key_policy_lets_cloudwatch_and_autoscaling_encrypt_for_the_topic() -> None:
    regs, _ = plan()
    statements = {s["Sid"]: s for s in json.loads(one(regs, KEY).inputs["policy"])["Statement"]}
    assert statements["CloudWatchAlarmsPublish"]["Principal"] == \
        {"Service": "cloudwatch.amazonaws.com"}
    assert statements["AutoScalingPublishes"]["Principal"]["AWS"].endswith(AUTOSCALING_ROLE)
    for sid in ("CloudWatchAlarmsPublish", "AutoScalingPublishes"):
        assert set(statements[sid]["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}


def test_cloudwatch_grant_is_scoped_to_the_account() -> None:
    policy = topic_key_policy("111122223333")
    cloudwatch = next(s for s in policy["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish")
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_a_given_key_is_used_and_none_created() -> None:
    regs, _ = plan(**{"webtier:notifications": {"kmsKeyId": "alias/ops-notifications"}})
    assert [r for r in regs if r.type == KEY] == []
    assert one(regs, TOPIC).inputs["kmsMasterKeyId"] == "alias/ops-notifications"


def test_group_launch_and_terminate_failures_go_to_the_topic() -> None:
    regs, _ = plan()
    notification = one(regs, "aws:autoscaling/notification:Notification").inputs
    group = one(regs, "aws:autoscaling/group:Group").outputs["name"]
    assert notification["groupNames"] == [group]
    assert notification["topicArn"] == one(regs, TOPIC).outputs["arn"]
    assert sorted(notification["notifications"]) == [
        "autoscaling:EC2_INSTANCE_LAUNCH_ERROR", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"]


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears() -> None:
    regs, _ = plan()
    topic = one(regs, TOPIC).outputs["arn"]
    alarms = [r for r in regs if r.type == ALARM]
    scaling = [a for a in alarms if "-scaling-" in a.name]
    health = [a for a in alarms if "-health-" in a.name]
    assert len(scaling) == 2
    assert len(health) == 2
    assert len(alarms) == 4
    for alarm in health:
        assert alarm.inputs["alarmActions"] == [topic], alarm.urn
        assert alarm.inputs["okActions"] == [topic], alarm.urn
    for alarm in scaling:
        assert alarm.inputs["alarmActions"][-1] == topic, alarm.urn
        assert alarm.inputs["alarmActions"][0].startswith("arn:aws:autoscaling:"), alarm.urn
        assert alarm.inputs["okActions"] == [topic], alarm.urn


def test_alarms_have_no_ok_actions_without_a_topic() -> None:
    regs = run_program("production").registrations
    assert all("okActions" not in r.inputs for r in regs if r.type == ALARM)


def test_subscriptions_come_from_the_settings() -> None:
    regs, _ = plan(**{"webtier:notifications": {"subscriptions": [
        {"protocol": "email", "endpoint": "ops@example.com"},
        {"protocol": "https", "endpoint": "https://hooks.example.com/aws"}]}})
    subs = sorted((r.inputs["protocol"], r.inputs["endpoint"]) for r in regs
                  if r.type == "aws:sns/topicSubscription:TopicSubscription")
    assert subs == [("email", "ops@example.com"), ("https", "https://hooks.example.com/aws")]


def test_topic_arn_is_a_stack_output_for_other_alarms_to_use() -> None:
    regs, outputs = plan()
    assert outputs["notificationTopicArn"] == one(regs, TOPIC).outputs["arn"]
