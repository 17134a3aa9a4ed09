"""The stack's SNS topic: the group's launch/terminate failures and every alarm go to it.

Encrypted with a KMS key that lets CloudWatch and Auto Scaling publish (see
components/settings/notifications.py for why not alias/aws/sns), with the settings' email and
HTTPS subscriptions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.settings import NotificationSettings

AUTOSCALING_ROLE = "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


def topic_key_policy(account_id: str) -> dict[str, Any]:
    """Key policy: the account administers the key; CloudWatch alarms of this account and the
    Auto Scaling service-linked role may encrypt messages for the topic, nothing more."""
    publish = ["kms:GenerateDataKey*", "kms:Decrypt"]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": publish, "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
        {"Sid": "AutoScalingPublishes", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account_id}:role/{AUTOSCALING_ROLE}"},
         "Action": publish, "Resource": "*"},
    ]}


@dataclass(frozen=True)
class NotificationsArgs:
    settings: NotificationSettings
    account_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Notifications(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    """ARN of the stack's notification topic: alarms add it to their actions."""

    def __init__(self, name: str, args: NotificationsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:notifications:Notifications", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        tags = dict(args.tags)

        key_id: pulumi.Input[str] = s.kms_key_id
        if s.creates_key:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"{name}: encrypts the notification topic",
                enable_key_rotation=True,
                policy=pulumi.Output.from_input(args.account_id).apply(
                    lambda account: json.dumps(topic_key_policy(account))),
                tags=tags,
                opts=child,
            )
            key_id = key.arn
        topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=key_id, tags=tags, opts=child)
        for i, sub in enumerate(s.subscriptions):
            aws.sns.TopicSubscription(f"{name}-{sub.protocol}-{i}", topic=topic.arn,
                                      protocol=sub.protocol, endpoint=sub.endpoint, opts=child)
        self.topic_arn = topic.arn
        self.register_outputs({"topicArn": topic.arn})
