"""A moto account the real `python -m bootstrap` has just bootstrapped, read back as documents.

moto creates, stores and returns every policy (and loads AWS's managed policies with
MOTO_IAM_LOAD_MANAGED_POLICIES=true), but it does not enforce IAM: who may do what is decided
by tests/bootstrap/iam_evaluator.py over the documents read back here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bootstrap.account import account_scope
from bootstrap.policies import ENVIRONMENTS, NAMES
from bootstrap.role_policies import AccountScope
from tests.moto_server import FAKE_CREDENTIALS, running_moto

ROOT = Path(__file__).resolve().parent.parent.parent
REGION = "ap-northeast-1"
BUCKET = "acme-webtier-state"
REPO = "acme/webtier"
ARGS = ["--region", REGION, "--state-bucket", BUCKET, "--github-repo", REPO]
MOTO_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


def env_for(url: str) -> dict[str, str]:
    """The test's environment for a bootstrap process: moto's endpoint, fake credentials, and
    no GitHub token (nothing may leave loopback)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    return {**env, **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url}


def run_bootstrap(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bootstrap", *ARGS, *extra], cwd=ROOT,
                          env=env_for(url), capture_output=True, text=True, timeout=180,
                          check=False)


def client(url: str, name: str) -> Any:
    return boto3.client(name, region_name=REGION, endpoint_url=url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass(frozen=True)
class RoleDocuments:
    name: str
    trust: dict[str, Any]
    identity: list[dict[str, Any]]
    """Every permission document: attached managed policies' default versions, then inline."""
    boundary: dict[str, Any] | None
    written: list[dict[str, Any]]
    """The documents bootstrap wrote itself (inline), not AWS's managed ones."""


@dataclass(frozen=True)
class Bootstrapped:
    url: str
    scope: AccountScope
    roles: dict[str, RoleDocuments]
    boundaries: dict[str, dict[str, Any]]


def _policy_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)[
        "PolicyVersion"]["Document"]
    return doc


def read_back(url: str) -> Bootstrapped:
    iam, kms = client(url, "iam"), client(url, "kms")
    account = client(url, "sts").get_caller_identity()["Account"]
    aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]}
    keys = {s: kms.describe_key(KeyId=aliases[NAMES.key_alias(s)])["KeyMetadata"]["Arn"]
            for s in ENVIRONMENTS}
    scope = account_scope(account, BUCKET, keys)
    roles = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not name.startswith(NAMES.role_prefix):
            continue
        got = iam.get_role(RoleName=name)["Role"]
        managed = [_policy_document(iam, p["PolicyArn"]) for p in
                   iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
        inline = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                  for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
        boundary_arn = got.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        roles[name] = RoleDocuments(name, got["AssumeRolePolicyDocument"], managed + inline,
                                    _policy_document(iam, boundary_arn) if boundary_arn else None,
                                    inline)
    boundaries = {s: _policy_document(iam, scope.boundary_arn(s)) for s in ENVIRONMENTS}
    return Bootstrapped(url, scope, roles, boundaries)


def bootstrapped_account() -> Iterator[Bootstrapped]:
    """A fresh moto server, bootstrapped once; stopped afterwards."""
    with running_moto(env=MOTO_ENV) as url:
        done = run_bootstrap(url)
        if done.returncode != 0:
            raise AssertionError(f"bootstrap failed ({done.returncode}): {done.stderr}")
        yield read_back(url)
