"""The bootstrap's AWS side: each item is checked, then created or corrected unless --dry-run.

Every step reports one line per item (created / updated / already there / would create / would
update), so a second run shows that nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from bootstrap import policies
from bootstrap.policies import NAMES, Document

Status = Literal["created", "updated", "already there", "would create", "would update"]
# GitHub's OIDC certificate thumbprints; IAM no longer checks them for GitHub, but the API has
# long required at least one.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1",
                      "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
DRY_RUN_KEY_ARN = "arn:aws:kms:{region}:{account}:key/<created-by-this-run>"


@dataclass(frozen=True)
class Outcome:
    item: str
    status: Status


@dataclass
class Report:
    dry_run: bool
    printer: Callable[[str], None]
    outcomes: list[Outcome] = field(default_factory=list)

    def record(self, item: str, exists: bool, matches: bool, change: Callable[[], None]) -> None:
        """Apply ``change`` unless the item already is as wanted; report what was (or would be)
        done. ``exists``: the item (or the thing it belongs to) was there before this run."""
        if matches:
            # Made with its parent in this run (exists=False), or found as wanted.
            status: Status = "already there" if exists else "created"
        elif self.dry_run:
            status = "would update" if exists else "would create"
        else:
            change()
            status = "updated" if exists else "created"
        self.outcomes.append(Outcome(item, status))
        self.printer(f"{status:>13}  {item}")


@dataclass(frozen=True)
class Clients:
    s3: Any
    kms: Any
    iam: Any
    sts: Any


@dataclass(frozen=True)
class Target:
    region: str
    bucket: str
    repo: str


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _absent(call: Callable[[], Any], *codes: str) -> Any | None:
    """The call's answer, or None if AWS says the thing does not exist."""
    try:
        return call()
    except ClientError as err:
        if _code(err) in codes:
            return None
        raise


def ensure_bucket(c: Clients, t: Target, report: Report) -> None:
    s3, b = c.s3, t.bucket
    exists = _absent(lambda: s3.head_bucket(Bucket=b), "404", "NoSuchBucket", "NotFound") \
        is not None

    def create() -> None:
        extra = {} if t.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": t.region}}
        s3.create_bucket(Bucket=b, **extra)

    report.record(f"s3 bucket {b}", exists, exists, create)
    live = exists or not report.dry_run  # a bucket a dry run would create has no settings yet

    versioning = s3.get_bucket_versioning(Bucket=b).get("Status") if live else None
    report.record(f"s3 bucket {b}: versioning", exists, versioning == "Enabled",
                  lambda: s3.put_bucket_versioning(
                      Bucket=b, VersioningConfiguration={"Status": "Enabled"}))

    rules = (_absent(lambda: s3.get_bucket_encryption(Bucket=b),
                     "ServerSideEncryptionConfigurationNotFoundError") or {}) if live else {}
    algorithms = [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules.get(
        "ServerSideEncryptionConfiguration", {}).get("Rules", [])]
    report.record(f"s3 bucket {b}: default encryption", exists,
                  any(a in ("aws:kms", "AES256") for a in algorithms),
                  lambda: s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
                      "Rules": [{"ApplyServerSideEncryptionByDefault":
                                 {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}))

    block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
    current = (_absent(lambda: s3.get_public_access_block(Bucket=b),
                       "NoSuchPublicAccessBlockConfiguration") or {}) if live else {}
    report.record(f"s3 bucket {b}: public access block", exists,
                  current.get("PublicAccessBlockConfiguration") == block,
                  lambda: s3.put_public_access_block(Bucket=b,
                                                     PublicAccessBlockConfiguration=block))

    wanted = policies.tls_only_bucket_policy(b)
    policy = (_absent(lambda: s3.get_bucket_policy(Bucket=b), "NoSuchBucketPolicy")
              or {}) if live else {}
    report.record(f"s3 bucket {b}: TLS-only policy", exists,
                  _json(policy.get("Policy")) == wanted,
                  lambda: s3.put_bucket_policy(Bucket=b, Policy=json.dumps(wanted)))


def ensure_key(c: Clients, t: Target, account: str, report: Report) -> str:
    """The secrets key's ARN (a placeholder when a dry run would create it)."""
    kms = c.kms
    aliases = [a for page in kms.get_paginator("list_aliases").paginate()
               for a in page["Aliases"] if a["AliasName"] == NAMES.key_alias]
    key_id = aliases[0].get("TargetKeyId") if aliases else None
    made: dict[str, str] = {}

    def create() -> None:
        key = kms.create_key(Description="Pulumi stack secrets (awskms secrets provider)",
                             KeyUsage="ENCRYPT_DECRYPT")
        made["id"] = key["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=NAMES.key_alias, TargetKeyId=made["id"])

    report.record(f"kms key {NAMES.key_alias}", bool(aliases), bool(aliases), create)
    key_id = key_id or made.get("id")
    if key_id is None:
        report.record(f"kms key {NAMES.key_alias}: yearly rotation", False, False, lambda: None)
        return DRY_RUN_KEY_ARN.format(region=t.region, account=account)
    rotating = bool(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])
    report.record(f"kms key {NAMES.key_alias}: yearly rotation", bool(aliases), rotating,
                  lambda: kms.enable_key_rotation(KeyId=key_id))
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def ensure_oidc_provider(c: Clients, account: str, report: Report) -> None:
    arn = policies.oidc_provider_arn(account)

    def exists() -> bool:
        listed = c.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        return arn in {p["Arn"] for p in listed}

    existed = exists()
    report.record(f"iam oidc provider {policies.GITHUB_OIDC_HOST}", existed, existed,
                  lambda: c.iam.create_open_id_connect_provider(
                      Url=policies.GITHUB_OIDC_URL, ClientIDList=[policies.STS_AUDIENCE],
                      ThumbprintList=GITHUB_THUMBPRINTS))
    audiences = c.iam.get_open_id_connect_provider(
        OpenIDConnectProviderArn=arn)["ClientIDList"] if existed or not report.dry_run else []
    report.record(f"iam oidc provider {policies.GITHUB_OIDC_HOST}: audience "
                  f"{policies.STS_AUDIENCE}", existed, policies.STS_AUDIENCE in audiences,
                  lambda: c.iam.add_client_id_to_open_id_connect_provider(
                      OpenIDConnectProviderArn=arn, ClientID=policies.STS_AUDIENCE))


def ensure_role(c: Clients, name: str, trust: Document, managed: str, inline: Document,
                report: Report) -> None:
    iam = c.iam
    role = _absent(lambda: iam.get_role(RoleName=name), "NoSuchEntity")
    existed = role is not None
    report.record(f"iam role {name}", existed, existed, lambda: iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600,
        Description="Assumed by GitHub Actions through OIDC (python -m bootstrap)"))
    # What a dry run would create has nothing to read; a role created just now is read back.
    live = existed or not report.dry_run
    if live and not existed:
        role = iam.get_role(RoleName=name)
    current_trust = _json(role["Role"]["AssumeRolePolicyDocument"]) if role else None
    report.record(f"iam role {name}: trust policy", existed, current_trust == trust,
                  lambda: iam.update_assume_role_policy(RoleName=name,
                                                        PolicyDocument=json.dumps(trust)))
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName=name)["AttachedPolicies"]} if live else set()
    report.record(f"iam role {name}: {managed.rsplit('/', 1)[-1]}", existed, managed in attached,
                  lambda: iam.attach_role_policy(RoleName=name, PolicyArn=managed))
    current = _absent(lambda: iam.get_role_policy(RoleName=name, PolicyName=NAMES.inline_policy),
                      "NoSuchEntity") if live else None
    report.record(f"iam role {name}: inline policy {NAMES.inline_policy}", existed,
                  current is not None and _json(current["PolicyDocument"]) == inline,
                  lambda: iam.put_role_policy(RoleName=name, PolicyName=NAMES.inline_policy,
                                              PolicyDocument=json.dumps(inline)))


def _json(value: Any) -> Any:
    """A policy document as data: IAM returns it decoded (or URL-encoded JSON), S3 as text."""
    if isinstance(value, str):
        from urllib.parse import unquote

        text = value if value.lstrip().startswith("{") else unquote(value)
        try:
            return json.loads(text)
        except ValueError:
            return None
    return value


@dataclass(frozen=True)
class Created:
    account: str
    key_arn: str
    preview_role_arn: str
    deploy_role_arns: dict[str, str]


def bootstrap(c: Clients, t: Target, report: Report) -> Created:
    """Everything, in dependency order: the roles' policies name the bucket and the key."""
    account = str(c.sts.get_caller_identity()["Account"])
    ensure_bucket(c, t, report)
    key_arn = ensure_key(c, t, account, report)
    ensure_oidc_provider(c, account, report)
    ensure_role(c, NAMES.preview_role, policies.preview_trust(account, t.repo),
                policies.READ_ONLY_POLICY, policies.preview_policy(t.bucket, key_arn), report)
    deploy = {}
    for env in policies.ENVIRONMENTS:
        name = NAMES.deploy_role(env)
        ensure_role(c, name, policies.deploy_trust(account, t.repo, env),
                    policies.POWER_USER_POLICY, policies.deploy_policy(account, t.bucket, key_arn),
                    report)
        deploy[env] = policies.role_arn(account, name)
    return Created(account, key_arn, policies.role_arn(account, NAMES.preview_role), deploy)
