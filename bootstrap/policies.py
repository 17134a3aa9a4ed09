"""What the bootstrap creates, as data: names, ARNs, trust and bucket policy documents. No I/O.

The workflows assume these roles with GitHub's OIDC tokens; `pulumi` keeps state in the bucket
and encrypts each stack's secrets with that stack's own key. The roles' permission documents
are in bootstrap/role_policies.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.names import PROJECT, STACKS, permissions_boundary_policy

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# An older bootstrap attached this to the deploy roles; it is detached (it allows
# lambda:UpdateFunctionCode, ssm:SendCommand, ... on every resource of the account).
POWER_USER_POLICY = "arn:aws:iam::aws:policy/PowerUserAccess"
PRODUCTION = "production"
# Production's previews run only from this branch (a protected ref), never from a pull request.
PROTECTED_BRANCH = "main"
Document = dict[str, Any]


@dataclass(frozen=True)
class Names:
    """Names of what the bootstrap creates, for one project."""

    inline_policy: str = f"{PROJECT}-state"
    role_prefix: str = f"{PROJECT}-github-"

    def key_alias(self, stack: str) -> str:
        """One key per stack: a role that may decrypt staging's secrets cannot read production's."""
        return f"alias/{PROJECT}-{stack}-stack-secrets"

    def preview_role(self, stack: str) -> str:
        return f"{self.role_prefix}preview-{stack}"

    def deploy_role(self, environment: str) -> str:
        return f"{self.role_prefix}deploy-{environment}"

    def boundary_policy(self, stack: str) -> str:
        """The permissions boundary every role a stack's deploy role creates must carry."""
        return permissions_boundary_policy(stack)


NAMES = Names()
ENVIRONMENTS = STACKS
"""One GitHub environment, one deploy role and one preview role per stack."""
KEY_TAG = f"{PROJECT}:secrets-alias"
"""Tag on each secrets key naming its alias: a key left without one by a run that stopped between
create-key and create-alias is found by this tag and reused, not orphaned."""


def backend_url(bucket: str, region: str) -> str:
    return f"s3://{bucket}?region={region}"


def secrets_provider(alias: str, region: str) -> str:
    return f"awskms://{alias}?region={region}"


def oidc_provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def policy_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:policy/{name}"


def bucket_arns(bucket: str) -> list[str]:
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


TLS_SID = "DenyInsecureTransport"


def tls_only_bucket_policy(bucket: str) -> Document:
    """Refuse every request to the state bucket that does not come over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": TLS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": bucket_arns(bucket),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def merged_bucket_policy(current: Document | None, ours: Document) -> tuple[Document, list[str]]:
    """``current`` with each of our statements added or replaced by Sid, every other statement
    kept in place; and what changed, as short phrases (empty when nothing did)."""
    body = current.get("Statement", []) if isinstance(current, dict) else []
    kept = [body] if isinstance(body, dict) else list(body)  # a single statement object, or a list
    merged = [dict(s) if isinstance(s, dict) else s for s in kept]
    changes: list[str] = []
    for statement in ours["Statement"]:
        at = [i for i, s in enumerate(merged)
              if isinstance(s, dict) and s.get("Sid") == statement["Sid"]]
        if not at:
            merged.append(statement)
            changes.append(f"added {statement['Sid']}")
        elif merged[at[0]] != statement:
            merged[at[0]] = statement
            changes.append(f"replaced {statement['Sid']}")
    others = len(merged) - len(ours["Statement"])
    if changes and others:
        changes.append(f"kept {others} other statement{'s' if others != 1 else ''}")
    version = current.get("Version", ours["Version"]) if isinstance(current, dict) else \
        ours["Version"]
    return {"Version": version, "Statement": merged}, changes


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


def preview_subject(stack: str) -> str:
    """Who may preview a stack: staging from any pull request of the repository (not forks: their
    runs get no OIDC token); production only from the protected branch, since a pull request runs
    its own copy of the workflow and could print what it decrypts."""
    return f"ref:refs/heads/{PROTECTED_BRANCH}" if stack == PRODUCTION else "pull_request"


def preview_trust(account: str, repo: str, stack: str) -> Document:
    return github_trust(account, repo, preview_subject(stack))


def deploy_trust(account: str, repo: str, environment: str) -> Document:
    """Jobs of ``repo`` that run in the GitHub environment ``environment`` (its reviewers and
    branch rule gate production)."""
    return github_trust(account, repo, f"environment:{environment}")
