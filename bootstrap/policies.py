"""What the bootstrap creates, as data: names and IAM / bucket policy documents. No I/O.

The workflows assume these roles with GitHub's OIDC tokens; `pulumi` keeps state in the bucket
and encrypts stack secrets with the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.names import PROJECT, STACKS

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# Where the S3 backend writes a stack's lock; `pulumi preview` takes it, as `up` does.
LOCK_PREFIX = ".pulumi/locks/"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# Everything but IAM; the deploy role gets the IAM it needs inline (roles and profiles).
POWER_USER_POLICY = "arn:aws:iam::aws:policy/PowerUserAccess"
Document = dict[str, Any]


@dataclass(frozen=True)
class Names:
    """Names of what the bootstrap creates, for one project."""

    key_alias: str = f"alias/{PROJECT}-stack-secrets"
    preview_role: str = f"{PROJECT}-github-preview"
    inline_policy: str = f"{PROJECT}-state"

    def deploy_role(self, environment: str) -> str:
        return f"{PROJECT}-github-deploy-{environment}"


NAMES = Names()
ENVIRONMENTS = STACKS
"""One GitHub environment, and one deploy role, per stack."""


def backend_url(bucket: str, region: str) -> str:
    return f"s3://{bucket}?region={region}"


def secrets_provider(alias: str, region: str) -> str:
    return f"awskms://{alias}?region={region}"


def oidc_provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def bucket_arns(bucket: str) -> list[str]:
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def tls_only_bucket_policy(bucket: str) -> Document:
    """Refuse every request to the state bucket that does not come over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": bucket_arns(bucket),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def github_trust(account: str, repo: str, subject: str) -> Document:
    """Trust GitHub's OIDC tokens for ``repo`` whose subject is exactly ``subject``."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn(account)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": f"repo:{repo}:{subject}",
            }},
        }],
    }


def preview_trust(account: str, repo: str) -> Document:
    """Pull requests of ``repo`` (not forks: their runs get no OIDC token)."""
    return github_trust(account, repo, "pull_request")


def deploy_trust(account: str, repo: str, environment: str) -> Document:
    """Jobs of ``repo`` that run in the GitHub environment ``environment`` (its reviewers gate
    production)."""
    return github_trust(account, repo, f"environment:{environment}")


def preview_policy(bucket: str, key_arn: str) -> Document:
    """On top of ReadOnlyAccess: the stack lock (preview takes it) and the secrets key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadState", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
             "Resource": bucket_arns(bucket)},
            {"Sid": "TakeStackLock", "Effect": "Allow",
             "Action": ["s3:PutObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{bucket}/{LOCK_PREFIX}*"},
            {"Sid": "DecryptStackSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": key_arn},
        ],
    }


def deploy_policy(account: str, bucket: str, key_arn: str) -> Document:
    """On top of PowerUserAccess: state writes, the secrets key, and the IAM the program manages
    (instance roles and profiles; no users, no account settings)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadWriteState", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject",
                        "s3:DeleteObject"],
             "Resource": bucket_arns(bucket)},
            {"Sid": "StackSecrets", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": key_arn},
            {"Sid": "ProgramRoles", "Effect": "Allow",
             "Action": ["iam:*Role", "iam:*RolePolicy", "iam:*RolePolicies", "iam:TagRole",
                        "iam:UntagRole", "iam:ListRoleTags", "iam:PassRole",
                        "iam:*InstanceProfile", "iam:*InstanceProfiles",
                        "iam:ListInstanceProfileTags", "iam:TagInstanceProfile",
                        "iam:UntagInstanceProfile"],
             "Resource": [f"arn:aws:iam::{account}:role/*",
                          f"arn:aws:iam::{account}:instance-profile/*"]},
            # The roles the workflows assume stay as the bootstrap made them.
            {"Sid": "NotTheBootstrapRoles", "Effect": "Deny", "Action": "iam:*",
             "Resource": f"arn:aws:iam::{account}:role/{PROJECT}-github-*"},
        ],
    }
