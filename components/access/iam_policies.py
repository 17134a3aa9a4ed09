"""IAM policy documents for the fleet, as plain data: least privilege, no `*` actions.

Kept pure so the exact grants are unit-tested without mocks and reviewed as data.
"""

from __future__ import annotations

from typing import Any

PolicyDocument = dict[str, Any]

EC2_ASSUME_ROLE: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}


def instance_policy(*, region: str, account_id: str, release_bucket: str, release_prefix: str,
                    ssm_prefix: str, group_name_prefix: str) -> PolicyDocument:
    """What an instance may do: find Consul peers, read releases, read its stack's parameters.

    ``ec2:DescribeInstances`` supports no resource-level permissions, so it is the one grant on
    ``Resource: "*"`` (Consul cloud auto-join needs it, and lifecycle-hook reads its own group
    from its tags with it); every other grant names its resources. Lifecycle actions are scoped
    to the stack's groups by name prefix: the group's ARN carries an id unknown until it exists.
    No load balancer grant: the group deregisters a terminating instance from its target group
    and waits for the drain before Terminating:Wait, so the instance never calls ELB itself.
    """
    prefix = release_prefix.strip("/")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConsulCloudAutoJoin",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances"],
                "Resource": "*",
            },
            {
                "Sid": "ReadReleases",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"arn:aws:s3:::{release_bucket}/{prefix}/*",
            },
            {
                "Sid": "ReadStackParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": f"arn:aws:ssm:{region}:{account_id}:parameter{ssm_prefix}/*",
            },
            {
                # SecureString parameters use the AWS managed key; decrypt only through SSM.
                "Sid": "DecryptStackParameters",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": f"arn:aws:kms:{region}:{account_id}:alias/aws/ssm",
                "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"}},
            },
            {
                "Sid": "CompleteOwnLifecycleActions",
                "Effect": "Allow",
                "Action": ["autoscaling:CompleteLifecycleAction",
                           "autoscaling:RecordLifecycleActionHeartbeat"],
                "Resource": (f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*:"
                             f"autoScalingGroupName/{group_name_prefix}*"),
            },
        ],
    }
