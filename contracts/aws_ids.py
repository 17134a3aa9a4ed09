"""Shapes of AWS identifiers and names, with the words an error shows when one does not match."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class IdRule:
    pattern: re.Pattern[str]
    allowed: str
    """What an error says is allowed."""

    def matches(self, value: object) -> bool:
        # fullmatch, and every pattern ends in \Z: `$` also matches before a trailing newline.
        return isinstance(value, str) and bool(self.pattern.fullmatch(value))


def _hex_id(prefix: str) -> re.Pattern[str]:
    # AWS ids are 8 hex digits (old) or 17 (current); nothing in between exists.
    return re.compile(rf"^{prefix}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})\Z", re.ASCII)


AMI_ID = IdRule(_hex_id("ami"), "must be an AMI id like ami-0123456789abcdef0")
SUBNET_ID = IdRule(_hex_id("subnet"), "must be a subnet id like subnet-0123456789abcdef0")
VPC_ID = IdRule(_hex_id("vpc"), "must be a VPC id like vpc-0123456789abcdef0")
SECURITY_GROUP_ID = IdRule(_hex_id("sg"), "must be a security group id like sg-0123…")
ARN = IdRule(re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12})?:.+\Z", re.ASCII),
             "must be an ARN")
IAM_ROLE_ARN = IdRule(re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z",
                                 re.ASCII),
                      "must be an IAM role ARN like arn:aws:iam::123456789012:role/deployer")
REGION = IdRule(re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d\Z", re.ASCII),
                "must be an AWS region like ap-northeast-1")
AVAILABILITY_ZONE = IdRule(re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d[a-z]\Z", re.ASCII),
                           "must be an availability zone like ap-northeast-1a")
INSTANCE_TYPE = IdRule(re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+\Z", re.ASCII),
                       "must be an EC2 instance type like t3.small")
# Virtual-hosted-style HTTPS (the only style instances and the deploy tool use) breaks on dots:
# the wildcard certificate covers one label. So no dots, though S3 itself would take them.
BUCKET_NAME = IdRule(re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z", re.ASCII),
                     "must be 3-63 lowercase letters, digits and dashes (no dots: TLS to "
                     "<bucket>.s3.amazonaws.com breaks on them)")
# EC2 tag keys may hold any Unicode letter, so no re.ASCII here.
TAG_KEY = IdRule(re.compile(r"^[\w.:/=+@ -]{1,128}\Z"), "must be a valid EC2 tag key")
# The Consul join tag goes into go-discover's space-separated key=value string: no spaces or =.
JOIN_TAG = IdRule(re.compile(r"^[A-Za-z0-9_.:/+@-]{1,128}\Z"),
                  "must be 1-128 letters, digits and _ . : / + @ - (no spaces or =: it goes "
                  "into Consul's retry_join string)")
