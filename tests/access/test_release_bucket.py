"""The release bucket: its policy as data, and its resources under Pulumi mocks.

What must hold: only the instance role reads, only deployers write, nothing is public, TLS only,
versions are kept and old ones expire, and nothing expires the release a pointer names.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pulumi_aws as aws

from components.access.release_bucket import ReleaseBucket, ReleaseBucketArgs, release_bucket_policy
from tests.mocks import Registration, use_mocks

BUCKET_ARN = "arn:aws:s3:::webapp-staging-releases-123456789012"
READER = "arn:aws:iam::123456789012:role/webapp-staging-instance"
WRITER = "arn:aws:iam::123456789012:role/webapp-deployer"
ARGS = ReleaseBucketArgs(bucket_name="webapp-staging-releases-123456789012",
                         reader_role_arns=[READER], writer_role_arns=[WRITER],
                         noncurrent_version_expiration_days=14)


def policy(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"bucket_arn": BUCKET_ARN, "reader_role_arns": [READER],
                              "writer_role_arns": [WRITER], **overrides}
    return release_bucket_policy(**kwargs)


def statement(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in doc["Statement"] if s["Sid"] == sid)


def deploy(args: ReleaseBucketArgs = ARGS) -> list[Registration]:
    """Register a ReleaseBucket under fresh mocks; return every registration."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        monitor = use_mocks("staging", preview=False)
        from pulumi.runtime.stack import run_pulumi_func

        loop.run_until_complete(run_pulumi_func(lambda: ReleaseBucket("releases", args)))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return monitor.registrations


def one(regs: list[Registration], token: str) -> Registration:
    found = [r for r in regs if r.type == token]
    assert len(found) == 1, f"expected one {token}, got {[r.urn for r in found]}"
    return found[0]


# --- the policy, as data ----------------------------------------------------------------------


def test_policy_denies_every_request_without_tls_on_bucket_and_objects() -> None:
    s = statement(policy(), "DenyInsecureTransport")
    assert (s["Effect"], s["Principal"], s["Action"]) == ("Deny", "*", "s3:*")
    assert s["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_policy_denies_object_reads_to_everyone_but_readers_and_writers() -> None:
    s = statement(policy(), "DenyReadsByOthers")
    assert s["Effect"] == "Deny"
    assert "s3:GetObject" in s["Action"]
    assert s["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": sorted([READER, WRITER])}}


def test_policy_denies_object_writes_to_everyone_but_writers() -> None:
    s = statement(policy(), "DenyWritesByOthers")
    assert s["Effect"] == "Deny"
    assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(s["Action"])
    assert s["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [WRITER]}}


def test_policy_grants_readers_nothing_but_object_reads() -> None:
    doc = policy()
    reader_actions = {a for s in doc["Statement"] if s["Effect"] == "Allow"
                      and READER in s["Principal"]["AWS"] for a in s["Action"]}
    assert reader_actions == {"s3:GetObject", "s3:GetObjectVersion"}


def test_policy_never_denies_bucket_management_so_an_admin_can_repair_it() -> None:
    for s in policy()["Statement"]:
        if s["Effect"] == "Deny" and s["Sid"] != "DenyInsecureTransport":
            assert s["Resource"] == f"{BUCKET_ARN}/*", s["Sid"]


def test_policy_lists_each_role_once_however_often_it_is_given() -> None:
    s = statement(policy(reader_role_arns=[READER, READER, WRITER]), "DenyReadsByOthers")
    assert s["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == sorted([READER, WRITER])


# --- the resources, under mocks -----------------------------------------------------------------


def test_bucket_takes_the_exact_name_the_stack_computed() -> None:
    bucket = one(deploy(), "aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == ARGS.bucket_name, bucket.urn


def test_bucket_is_not_force_destroyed_by_default() -> None:
    bucket = one(deploy(), "aws:s3/bucket:Bucket")
    assert bucket.inputs.get("forceDestroy") is False, bucket.urn


def test_versioning_is_enabled() -> None:
    v = one(deploy(), "aws:s3/bucketVersioning:BucketVersioning")
    assert v.inputs["versioningConfiguration"]["status"] == "Enabled", v.urn


def test_default_encryption_is_sse_s3_without_a_kms_key() -> None:
    enc = one(deploy(), "aws:s3/bucketServerSideEncryptionConfiguration:"
                        "BucketServerSideEncryptionConfiguration")
    [rule] = enc.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}, enc.urn


def test_default_encryption_is_sse_kms_with_bucket_key_when_a_key_is_given() -> None:
    key = "arn:aws:kms:ap-northeast-1:123456789012:key/0000-1111"
    enc = one(deploy(replace(ARGS, kms_key_arn=key)),
              "aws:s3/bucketServerSideEncryptionConfiguration:"
              "BucketServerSideEncryptionConfiguration")
    [rule] = enc.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": key}, enc.urn
    assert rule["bucketKeyEnabled"] is True, enc.urn


def test_public_access_is_blocked_all_four_ways() -> None:
    block = one(deploy(), "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = {k: block.inputs.get(k) for k in ("blockPublicAcls", "blockPublicPolicy",
                                              "ignorePublicAcls", "restrictPublicBuckets")}
    assert flags == dict.fromkeys(flags, True), block.urn


def test_acls_are_disabled_by_bucket_owner_enforced() -> None:
    own = one(deploy(), "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert own.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}, own.urn


def test_noncurrent_versions_expire_after_the_configured_days() -> None:
    life = one(deploy(), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    days = [r["noncurrentVersionExpiration"]["noncurrentDays"] for r in life.inputs["rules"]
            if "noncurrentVersionExpiration" in r]
    assert days == [14], life.urn


def test_abandoned_multipart_uploads_are_discarded() -> None:
    life = one(deploy(), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    aborts = [r["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
              for r in life.inputs["rules"] if "abortIncompleteMultipartUpload" in r]
    assert aborts == [2], life.urn


def test_no_rule_expires_current_versions_by_age() -> None:
    life = one(deploy(), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    for rule in life.inputs["rules"]:
        assert "days" not in rule.get("expiration", {}), (life.urn, rule["id"])


def test_lifecycle_waits_for_versioning() -> None:
    regs = deploy()
    life = one(regs, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    versioning = one(regs, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.urn in life.options["dependsOn"], life.urn


def test_policy_waits_for_public_access_block_and_ownership() -> None:
    regs = deploy()
    pol = one(regs, "aws:s3/bucketPolicy:BucketPolicy")
    needed = {one(regs, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn,
              one(regs, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").urn}
    assert needed <= set(pol.options["dependsOn"]), pol.urn


def test_attached_policy_is_the_built_policy_for_the_bucket() -> None:
    regs = deploy()
    bucket = one(regs, "aws:s3/bucket:Bucket")
    pol = one(regs, "aws:s3/bucketPolicy:BucketPolicy")
    expected = release_bucket_policy(bucket_arn=bucket.outputs["arn"], reader_role_arns=[READER],
                                     writer_role_arns=[WRITER])
    assert json.loads(pol.inputs["policy"]) == expected, pol.urn


def test_policy_names_role_arns_given_as_outputs() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        monitor = use_mocks("staging", preview=False)
        from pulumi.runtime.stack import run_pulumi_func

        def program() -> None:
            role = aws.iam.Role("instance", assume_role_policy="{}")
            ReleaseBucket("releases", replace(ARGS, reader_role_arns=[role.arn]))

        loop.run_until_complete(run_pulumi_func(program))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    role = one(monitor.registrations, "aws:iam/role:Role")
    pol = one(monitor.registrations, "aws:s3/bucketPolicy:BucketPolicy")
    readers = statement(json.loads(pol.inputs["policy"]), "ReadersFetchReleases")
    assert readers["Principal"]["AWS"] == [role.outputs["arn"]], pol.urn


def test_children_are_parented_and_named_after_the_component() -> None:
    regs = deploy()
    component = one(regs, "webtier:release_bucket:ReleaseBucket")
    children = [r for r in regs if r.custom]
    assert children, "no resources registered"
    for child in children:
        assert child.parent == component.urn, child.urn
        assert child.name.startswith("releases-"), child.urn


def test_component_exports_bucket_name() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    names: list[str] = []
    try:
        use_mocks("staging", preview=False)
        from pulumi.runtime.stack import run_pulumi_func

        def program() -> None:
            rb = ReleaseBucket("releases", ARGS)
            rb.bucket_name.apply(names.append)

        loop.run_until_complete(run_pulumi_func(program))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert names == [ARGS.bucket_name]

