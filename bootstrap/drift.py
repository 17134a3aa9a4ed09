"""What the bootstrap counts as drift, as data: its judgements on what AWS answered for the
bucket, the roles and the keys, and the problem line (with the command that fixes it) for drift
it reports and leaves. No I/O: the steps that call AWS (bucket.py, roles.py, keys.py) hand the
answers in, so fast tests and the mutation run reach every judgement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bootstrap import policies
from bootstrap.policies import NAMES

PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                       "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
"""All four flags: one left off lets an ACL or a bucket policy make state public."""
ENCRYPTION = ("aws:kms", "AES256")
LEGACY_MANAGED = frozenset({policies.POWER_USER_POLICY})
"""What an older bootstrap attached: detached as part of the update, not reported as drift."""
WIDENS = "it widens what the workflows can do"


@dataclass(frozen=True)
class Problem:
    item: str
    what: str
    fix: str
    """The command that repairs it, for the operator to run."""


def versioned(answer: Mapping[str, Any]) -> bool:
    """GetBucketVersioning's answer: Suspended, or no Status at all (never enabled), is drift."""
    return answer.get("Status") == "Enabled"


def encrypted(answer: Mapping[str, Any]) -> bool:
    """GetBucketEncryption's answer has a default encryption rule with SSE-KMS or SSE-S3."""
    rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return any(r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ENCRYPTION
               for r in rules)


def public_access_blocked(answer: Mapping[str, Any]) -> bool:
    """GetPublicAccessBlock's answer has every flag on, and nothing else."""
    return answer.get("PublicAccessBlockConfiguration") == PUBLIC_ACCESS_BLOCK


def foreign_policy(role: str, arn: str) -> Problem | None:
    """A managed policy attached to a role bootstrap made, beyond its own: None for the one an
    older bootstrap attached (bootstrap detaches it), else a problem it reports and leaves."""
    if arn in LEGACY_MANAGED:
        return None
    return Problem(f"iam role {role}: {arn.rsplit('/', 1)[-1]}",
                   f"attached by someone else; {WIDENS}",
                   f"aws iam detach-role-policy --role-name {role} --policy-arn {arn}")


def foreign_inline(role: str, names: Iterable[str]) -> list[Problem]:
    """Inline policies of a role bootstrap made, other than its own, sorted by name."""
    return [Problem(f"iam role {role}: inline policy {name}", f"added by someone else; {WIDENS}",
                    f"aws iam delete-role-policy --role-name {role} --policy-name {name}")
            for name in sorted(set(names)) if name != NAMES.inline_policy]


def key_enabled(meta: Mapping[str, Any]) -> bool:
    return bool(meta.get("KeyState", "Enabled") == "Enabled")


def key_problem(alias: str, stack: str, meta: Mapping[str, Any], region: str) -> Problem | None:
    """A secrets key that is scheduled for deletion or disabled: its stack's secrets are lost,
    or unreadable. Other states (Enabled, or one AWS moves on by itself) are no problem."""
    state = meta.get("KeyState", "Enabled")
    fix = f"--key-id {meta['KeyId']} --region {region}"
    if state == "PendingDeletion":
        return Problem(f"kms key {alias}", f"scheduled for deletion on {meta.get('DeletionDate')}"
                       f"; when it is deleted every secret of {stack} is lost",
                       f"aws kms cancel-key-deletion {fix} && aws kms enable-key {fix}")
    if state == "Disabled":
        return Problem(f"kms key {alias}", f"disabled: no secret of {stack} can be read",
                       f"aws kms enable-key {fix}")
    return None
