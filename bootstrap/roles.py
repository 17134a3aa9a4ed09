"""GitHub's OIDC provider, the permissions boundaries and the roles the workflows assume.

A role bootstrap made that has gained a policy it did not put there (AdministratorAccess, an
inline `*:*`) is reported as a problem naming the command that removes it, never as `already
there`: it may be someone's deliberate grant, so bootstrap does not silently undo it either.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from functools import partial
from typing import Any

from bootstrap import drift, policies
from bootstrap.aws_calls import Clients, absent, as_json
from bootstrap.policies import NAMES, Document
from bootstrap.report import Report

# GitHub's OIDC certificate thumbprints; IAM no longer checks them for GitHub, but the API has
# long required at least one.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1",
                      "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
LEGACY_PREVIEW_ROLE = f"{NAMES.role_prefix}preview"
"""An older bootstrap's single preview role, which could decrypt every stack's secrets."""
MAX_POLICY_VERSIONS = 5


def ensure_oidc_provider(c: Clients, account: str, report: Report) -> None:
    arn = policies.oidc_provider_arn(account)
    listed = c.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    existed = arn in {p["Arn"] for p in listed}
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


def ensure_managed_policy(c: Clients, arn: str, document: Document, report: Report) -> None:
    """A customer managed policy whose default version is ``document``."""
    iam, name = c.iam, arn.rsplit("/", 1)[-1]
    found = absent(lambda: iam.get_policy(PolicyArn=arn), "NoSuchEntity")
    report.record(f"iam policy {name}", found is not None, found is not None,
                  lambda: iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document),
                                            Description="Permissions boundary (python -m "
                                                        "bootstrap)"))
    if found is None:  # created just now with this document (or would be)
        report.record(f"iam policy {name}: document", False, not report.dry_run, lambda: None)
        return
    default = found["Policy"]["DefaultVersionId"]
    current = as_json(iam.get_policy_version(PolicyArn=arn, VersionId=default)
                      ["PolicyVersion"]["Document"])

    def new_version() -> None:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= MAX_POLICY_VERSIONS:  # IAM keeps at most five
            oldest = min((v for v in versions if not v["IsDefaultVersion"]),
                         key=lambda v: v["CreateDate"])
            iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document),
                                  SetAsDefault=True)

    report.record(f"iam policy {name}: document", True, current == document, new_version)


def ensure_role(c: Clients, name: str, trust: Document, managed: Collection[str],
                inline: Document, report: Report) -> None:
    iam = c.iam
    role = absent(lambda: iam.get_role(RoleName=name), "NoSuchEntity")
    existed = role is not None
    report.record(f"iam role {name}", existed, existed, lambda: iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600,
        Description="Assumed by GitHub Actions through OIDC (python -m bootstrap)"))
    # What a dry run would create has nothing to read; a role created just now is read back.
    live = existed or not report.dry_run
    if live and not existed:
        role = iam.get_role(RoleName=name)
    current_trust = as_json(role["Role"]["AssumeRolePolicyDocument"]) if role else None
    report.record(f"iam role {name}: trust policy", existed, current_trust == trust,
                  lambda: iam.update_assume_role_policy(RoleName=name,
                                                        PolicyDocument=json.dumps(trust)))
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName=name)["AttachedPolicies"]} if live else set()
    for arn in managed:
        report.record(f"iam role {name}: {arn.rsplit('/', 1)[-1]}", existed, arn in attached,
                      partial(iam.attach_role_policy, RoleName=name, PolicyArn=arn))
    current = absent(lambda: iam.get_role_policy(RoleName=name, PolicyName=NAMES.inline_policy),
                     "NoSuchEntity") if live else None
    report.record(f"iam role {name}: inline policy {NAMES.inline_policy}", existed,
                  current is not None and as_json(current["PolicyDocument"]) == inline,
                  lambda: iam.put_role_policy(RoleName=name, PolicyName=NAMES.inline_policy,
                                              PolicyDocument=json.dumps(inline)))
    if live:
        _extra_policies(iam, name, attached - set(managed), report)


def _extra_policies(iam: Any, name: str, extra: set[str], report: Report) -> None:
    for arn in sorted(extra):
        problem = drift.foreign_policy(name, arn)
        if problem is None:
            report.record(f"iam role {name}: {arn.rsplit('/', 1)[-1]}", True, False,
                          partial(iam.detach_role_policy, RoleName=name, PolicyArn=arn),
                          detail="detached: an older bootstrap attached it")
        else:
            report.problem(problem.item, problem.what, problem.fix)
    names = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
             for n in page["PolicyNames"]]
    for problem in drift.foreign_inline(name, names):
        report.problem(problem.item, problem.what, problem.fix)


def report_legacy_preview_role(c: Clients, report: Report) -> None:
    """The single preview role of an older bootstrap trusts every pull request and may decrypt
    with the old shared key: it must go, but deleting a role is left to the operator."""
    if absent(lambda: c.iam.get_role(RoleName=LEGACY_PREVIEW_ROLE), "NoSuchEntity") is None:
        return
    name = LEGACY_PREVIEW_ROLE
    report.problem(f"iam role {name}",
                   "an older bootstrap's preview role: every pull request may read secrets with it",
                   f"aws iam delete-role-policy --role-name {name} --policy-name "
                   f"{NAMES.inline_policy}; aws iam detach-role-policy --role-name {name} "
                   f"--policy-arn {policies.READ_ONLY_POLICY}; aws iam delete-role "
                   f"--role-name {name}")
