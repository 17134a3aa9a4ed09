"""webtier:notifications: the stack's SNS topic for launch/terminate failures and every alarm.

Absent section: no topic; `webtier:notifications: {}` is a topic with no subscriptions. The topic
is always KMS-encrypted. CloudWatch and Auto Scaling publish to an encrypted topic only with
kms:GenerateDataKey*/Decrypt on its key, which the AWS managed key alias/aws/sns never grants them
(its policy cannot be edited), so the default is a key this stack creates with that grant;
`kmsKeyId` takes a key of your own whose policy grants the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from components.settings.reader import ConfigObject

Protocol = Literal["email", "https"]
CREATE = "create"
AWS_MANAGED_KEY = "alias/aws/sns"
KMS_KEY = re.compile(r"^(?:alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|"
                     r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+)\Z")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
HTTPS_URL = re.compile(r"^https://[^\s/]+(?:/\S*)?\Z")


@dataclass(frozen=True)
class Subscription:
    protocol: Protocol
    endpoint: str


@dataclass(frozen=True)
class NotificationSettings:
    kms_key_id: str
    """"create" (a key of the stack's own) or the id, alias or ARN of an existing key."""
    subscriptions: tuple[Subscription, ...]

    @property
    def creates_key(self) -> bool:
        return self.kms_key_id == CREATE


def parse_notifications(obj: ConfigObject, present: bool) -> NotificationSettings | None:
    """None when the stack file has no webtier:notifications; `{}` is a topic with defaults."""
    if not present:
        obj.done()
        return None
    key = obj.text("kmsKeyId", CREATE)
    if key == AWS_MANAGED_KEY:
        obj.problems.add(f"{obj.key}.kmsKeyId", key,
                         "CloudWatch alarms and Auto Scaling cannot publish to a topic under the "
                         "AWS managed key: leave kmsKeyId unset (the stack creates a key) or name "
                         "a key whose policy grants cloudwatch.amazonaws.com and the Auto Scaling "
                         "service-linked role kms:GenerateDataKey* and kms:Decrypt")
    elif key != CREATE and not KMS_KEY.fullmatch(key):
        obj.problems.add(f"{obj.key}.kmsKeyId", key,
                         "must be 'create', a key id, alias/<name>, or a KMS key or alias ARN")
    subscriptions: list[Subscription] = []
    for i, item in enumerate(obj.items("subscriptions")):
        s = ConfigObject(f"{obj.key}.subscriptions[{i}]", item, obj.problems)
        protocol: Protocol = s.choice("protocol", "email", Protocol)
        endpoint = s.text("endpoint", "") if s.required("endpoint") else ""
        rule = EMAIL if protocol == "email" else HTTPS_URL
        if endpoint and not rule.fullmatch(endpoint):
            s.problems.add(f"{s.key}.endpoint", endpoint,
                           "must be an email address" if protocol == "email"
                           else "must be an https:// URL")
        s.done()
        subscriptions.append(Subscription(protocol, endpoint))
    obj.done()
    return NotificationSettings(key, tuple(subscriptions))
