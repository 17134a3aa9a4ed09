"""What `--calibrate` reads from the account: the stack's group, its activities, launch times.

Read-only calls (autoscaling:DescribeAutoScalingGroups, DescribeScalingActivities,
ec2:DescribeInstances); each failure becomes one line naming what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from plan import calibrate


class CalibrateError(Exception):
    """One line: what could not be read, and what to do."""


def group_name(autoscaling: Any, prefix: str) -> str:
    """The one group whose name starts with ``prefix`` (the program names it with a suffix)."""
    names = [g["AutoScalingGroupName"]
             for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate()
             for g in page["AutoScalingGroups"]
             if g["AutoScalingGroupName"].startswith(prefix)]
    if not names:
        raise CalibrateError(f"no Auto Scaling group named {prefix}* in this account and region: "
                             "has the stack been deployed (`pulumi up`)?")
    if len(names) > 1:
        raise CalibrateError(f"{len(names)} Auto Scaling groups named {prefix}*: "
                             f"{', '.join(sorted(names))}; delete the ones left over")
    return str(names[0])


def read(autoscaling: Any, ec2: Any, prefix: str) -> tuple[str, list[calibrate.Launch]]:
    """The stack's group and its successful launches, with each instance's launch time."""
    group = group_name(autoscaling, prefix)
    activities = [a for page in autoscaling.get_paginator("describe_scaling_activities")
                  .paginate(AutoScalingGroupName=group) for a in page["Activities"]]
    ids = sorted({m.group(1) for a in activities
                  if (m := calibrate.LAUNCH.match(str(a.get("Description", ""))))})
    times: dict[str, datetime] = {}
    # A filter, not InstanceIds: an instance terminated long ago is simply not listed (InstanceIds
    # would fail the whole call); its launch keeps its other steps.
    for start in range(0, len(ids), 100):
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-id", "Values": ids[start:start + 100]}])
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    times[instance["InstanceId"]] = instance["LaunchTime"]
    return group, calibrate.launches(activities, times)


def guarded(stack: str, region: str, call: Callable[[], str]) -> str:
    """``call()``, with AWS's failures as one CalibrateError line each."""
    try:
        return call()
    except NoCredentialsError:
        raise CalibrateError(f"--calibrate reads the {stack} stack's account ({region}): no AWS "
                             "credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY") from None
    except ClientError as e:
        error = e.response.get("Error", {})
        raise CalibrateError(f"--calibrate: {e.operation_name} failed in {region}: "
                             f"{error.get('Code', '?')}: {error.get('Message', '')}") from None
    except BotoCoreError as e:
        raise CalibrateError(f"--calibrate: cannot reach AWS in {region}: {e}") from None
