"""Require IMDSv2 on a running Packer builder instance, before anything is provisioned on it.

Packer 1.6.6's amazon-ebs has no `metadata_options`, so the template runs this from a
`shell-local` provisioner (`python3 require_imdsv2.py <instance-id>`) as its first step; with the
amazon plugin (Packer >= 1.7) `metadata_options` would do the same at launch.
Environment: AWS_REGION, and WEBTIER_EC2_ENDPOINT (empty for AWS itself).
"""

from __future__ import annotations

import os
import sys
import time

# AWS applies the change asynchronously; a builder that never reports "applied" is not safe to use.
APPLY_TIMEOUT_SECONDS = 60.0


def require_imdsv2(instance_id: str, region: str, endpoint: str | None) -> None:
    import boto3  # late: this file is also imported by tests that never talk to EC2

    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint or None)
    ec2.modify_instance_metadata_options(
        InstanceId=instance_id, HttpTokens="required", HttpEndpoint="enabled",
        HttpPutResponseHopLimit=1,
    )
    deadline = time.monotonic() + APPLY_TIMEOUT_SECONDS
    while True:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        options = reservations[0]["Instances"][0]["MetadataOptions"]
        if options.get("HttpTokens") == "required" and options.get("State") == "applied":
            return
        if time.monotonic() > deadline:
            raise SystemExit(
                f"require_imdsv2: {instance_id} still has metadata options {options} after "
                f"{APPLY_TIMEOUT_SECONDS:.0f}s; refusing to provision a builder that allows IMDSv1")
        time.sleep(2)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].startswith("i-"):
        print("usage: require_imdsv2.py <instance-id>", file=sys.stderr)
        return 2
    region = os.environ.get("AWS_REGION", "")
    if not region:
        print("require_imdsv2: AWS_REGION is not set", file=sys.stderr)
        return 2
    require_imdsv2(argv[0], region, os.environ.get("WEBTIER_EC2_ENDPOINT"))
    print(f"require_imdsv2: {argv[0]} now requires IMDSv2 tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
