"""The per-stack S3 bucket that holds release archives and stretcher manifests.

Versioned, encrypted, never public; only the fleet's instance role reads it and only the deployer
roles write it. The bucket policy is built by a pure function so its grants are tested as data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

PolicyDocument = dict[str, Any]


@dataclass(frozen=True)
class ReleaseBucketArgs:
    bucket_name: str
    """Exact name, computed by the stack so the instance role can name it before it exists."""
    reader_role_arns: Sequence[pulumi.Input[str]]
    """Roles that fetch releases (the fleet's instance role). At least one."""
    writer_role_arns: Sequence[pulumi.Input[str]]
    """Roles that publish releases (`python -m deploy`); they may read, to verify uploads."""
    noncurrent_version_expiration_days: int = 30
    """Days an overwritten or deleted object version is kept before S3 expires it."""
    abort_incomplete_multipart_days: int = 2
    """Days before S3 discards the parts of an upload a deploy never completed."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Customer-managed KMS key for SSE-KMS; None means SSE-S3 (AES256). See `_encryption_rule`."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete a bucket that still holds releases (staging only, if ever)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class ReleaseBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the release bucket (what `deploy --bucket` and RELEASE_BUCKET hold)."""
    bucket_arn: pulumi.Output[str]
    """ARN of the release bucket."""

    def __init__(self, name: str, args: ReleaseBucketArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:release_bucket:ReleaseBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            tags=dict(args.tags),
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled",
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[_encryption_rule(args.kms_key_arn)],
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=args.noncurrent_version_expiration_days,
                        )
                    ),
                    abort_incomplete_multipart_upload=(
                        aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=args.abort_incomplete_multipart_days,
                        )
                    ),
                ),
                # Current versions never expire by age: the release a pointer names must stay
                # fetchable for as long as new instances boot from it.
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="remove-expired-delete-markers",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        expired_object_delete_marker=True,
                    ),
                ),
            ],
            # S3 rejects lifecycle rules on noncurrent versions until versioning is on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        document = pulumi.Output.all(
            bucket.arn,
            pulumi.Output.all(*args.reader_role_arns),
            pulumi.Output.all(*args.writer_role_arns),
        ).apply(lambda v: json.dumps(
            release_bucket_policy(bucket_arn=v[0], reader_role_arns=v[1], writer_role_arns=v[2]),
            sort_keys=True,
        ))
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=document,
            # S3 answers OperationAborted when a policy lands while the public access block or
            # ownership controls on the same bucket are still being written.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access, ownership]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucketName": bucket.bucket, "bucketArn": bucket.arn})


def _encryption_rule(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    """SSE-S3 by default.

    Releases carry code, not secrets (those come from SSM and Consul KV at boot), and who may
    read is decided by the bucket policy. SSE-KMS would add a second gate only with a customer
    key, at the price of granting kms:Decrypt to the instance role and of a KMS request per fetch
    when the whole fleet pulls at once (KMS request quotas). A stack that wants that gate passes
    ``kms_key_arn``; S3 bucket keys then keep the KMS request count per object, not per reader.
    """
    if kms_key_arn is None:
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=(
                aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256",
                )
            ),
        )
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=(
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms",
                kms_master_key_id=kms_key_arn,
            )
        ),
        bucket_key_enabled=True,
    )


def release_bucket_policy(*, bucket_arn: str, reader_role_arns: Sequence[str],
                          writer_role_arns: Sequence[str]) -> PolicyDocument:
    """Bucket policy: TLS only; object reads only by readers and writers; writes only by writers.

    The denies are keyed on ``aws:PrincipalArn`` so that no identity policy elsewhere in the
    account (an admin's ``s3:*``) can read or replace a release. Bucket-level management actions
    are deliberately not denied, so an administrator can still repair this policy. Writers may
    read because the deploy command reads back each upload's checksum (HeadObject needs
    s3:GetObject).
    """
    objects = f"{bucket_arn}/*"
    readers = sorted(set(reader_role_arns))
    writers = sorted(set(writer_role_arns))
    may_read = sorted(set(readers) | set(writers))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyReadsByOthers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes",
                           "s3:GetObjectVersionAttributes"],
                "Resource": objects,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": may_read}},
            },
            {
                "Sid": "DenyWritesByOthers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging",
                           "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject",
                           "s3:AbortMultipartUpload"],
                "Resource": objects,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": writers}},
            },
            {
                "Sid": "ReadersFetchReleases",
                "Effect": "Allow",
                "Principal": {"AWS": readers},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": objects,
            },
            {
                "Sid": "WritersPublishReleases",
                "Effect": "Allow",
                "Principal": {"AWS": writers},
                "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion",
                           "s3:GetObjectAttributes", "s3:AbortMultipartUpload",
                           "s3:ListMultipartUploadParts"],
                "Resource": objects,
            },
            {
                "Sid": "WritersListReleases",
                "Effect": "Allow",
                "Principal": {"AWS": writers},
                "Action": ["s3:ListBucket"],
                "Resource": bucket_arn,
            },
        ],
    }
