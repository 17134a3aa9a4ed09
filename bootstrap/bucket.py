"""The state bucket: versioned, encrypted, public access blocked, TLS only.

The bucket policy is merged, not replaced: the bootstrap adds or corrects its own statements (by
Sid) and keeps every other statement someone put there, saying which it added or replaced.
"""

from __future__ import annotations

import json

from bootstrap import drift, policies
from bootstrap.aws_calls import Clients, Target, absent, as_json
from bootstrap.drift import PUBLIC_ACCESS_BLOCK
from bootstrap.report import Report


def ensure_bucket(c: Clients, t: Target, report: Report) -> None:
    s3, b = c.s3, t.bucket
    exists = absent(lambda: s3.head_bucket(Bucket=b), "404", "NoSuchBucket", "NotFound") \
        is not None

    def create() -> None:
        extra = {} if t.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": t.region}}
        s3.create_bucket(Bucket=b, **extra)

    report.record(f"s3 bucket {b}", exists, exists, create)
    live = exists or not report.dry_run  # a bucket a dry run would create has no settings yet

    versioning = s3.get_bucket_versioning(Bucket=b) if live else {}
    report.record(f"s3 bucket {b}: versioning", exists, drift.versioned(versioning),
                  lambda: s3.put_bucket_versioning(
                      Bucket=b, VersioningConfiguration={"Status": "Enabled"}))

    rules = (absent(lambda: s3.get_bucket_encryption(Bucket=b),
                    "ServerSideEncryptionConfigurationNotFoundError") or {}) if live else {}
    report.record(f"s3 bucket {b}: default encryption", exists, drift.encrypted(rules),
                  lambda: s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
                      "Rules": [{"ApplyServerSideEncryptionByDefault":
                                 {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}))

    current = (absent(lambda: s3.get_public_access_block(Bucket=b),
                      "NoSuchPublicAccessBlockConfiguration") or {}) if live else {}
    report.record(f"s3 bucket {b}: public access block", exists,
                  drift.public_access_blocked(current),
                  lambda: s3.put_public_access_block(
                      Bucket=b, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK))

    answer = (absent(lambda: s3.get_bucket_policy(Bucket=b), "NoSuchBucketPolicy")
              or {}) if live else {}
    merged, changes = policies.merged_bucket_policy(as_json(answer.get("Policy")),
                                                    policies.tls_only_bucket_policy(b))
    report.record(f"s3 bucket {b}: TLS-only policy", exists, not changes,
                  lambda: s3.put_bucket_policy(Bucket=b, Policy=json.dumps(merged)),
                  detail="; ".join(changes))
