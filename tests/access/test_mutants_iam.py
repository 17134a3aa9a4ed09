"""The instance's IAM policy, whole (mutation survivors in components/access/iam_policies.py).

A grant is security: every action and resource is compared exactly, so a widened ARN, a lost
condition or a changed action fails here rather than in a review.
"""

from __future__ import annotations

from components.access.iam_policies import EC2_ASSUME_ROLE, instance_policy


def test_instance_policy_grants_exactly_what_the_instance_needs() -> None:
    doc = instance_policy(region="eu-west-1", account_id="123456789012",
                          release_bucket="rel-bucket", release_prefix="/releases/web/",
                          ssm_prefix="/webtier/staging", group_name_prefix="web-staging-")
    assert doc == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ConsulCloudAutoJoin", "Effect": "Allow", "Action": ["ec2:DescribeInstances"],
         "Resource": "*"},
        {"Sid": "ReadReleases", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": "arn:aws:s3:::rel-bucket/releases/web/*"},
        {"Sid": "ReadStackParameters", "Effect": "Allow",
         "Action": ["ssm:GetParameter", "ssm:GetParameters"],
         "Resource": "arn:aws:ssm:eu-west-1:123456789012:parameter/webtier/staging/*"},
        {"Sid": "DecryptStackParameters", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": "arn:aws:kms:eu-west-1:123456789012:alias/aws/ssm",
         "Condition": {"StringEquals": {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}}},
        {"Sid": "CompleteOwnLifecycleActions", "Effect": "Allow",
         "Action": ["autoscaling:CompleteLifecycleAction",
                    "autoscaling:RecordLifecycleActionHeartbeat"],
         "Resource": "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:"
                     "autoScalingGroupName/web-staging-*"},
    ]}


def test_only_ec2_may_assume_the_instance_role() -> None:
    assert EC2_ASSUME_ROLE == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
         "Action": "sts:AssumeRole"}]}
