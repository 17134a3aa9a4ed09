"""`python -m bootstrap` against moto when someone else changed what it owns: it merges into a
bucket policy, reports drift it will not undo with the command that does (exit 5), and never
leaves a second secrets key behind an interrupted run."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from bootstrap.policies import KEY_TAG, NAMES, POWER_USER_POLICY
from tests.bootstrap.bootstrapped_account import BUCKET, MOTO_ENV, REGION, client, run_bootstrap
from tests.moto_server import running_moto

pytestmark = pytest.mark.integration
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
DEPLOY = NAMES.deploy_role("staging")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_moto(env=MOTO_ENV) as url:
        yield url


@pytest.fixture
def moto_url(server: str) -> str:
    # moto's documented reset endpoint: every test starts from an empty account.
    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    return server


def problem_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.lstrip().startswith("problem  ")]


def test_an_existing_bucket_policy_keeps_its_statements_and_the_change_is_named(
        moto_url: str) -> None:
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    audit = {"Sid": "AuditRead", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [audit]}))
    done = run_bootstrap(moto_url)
    assert done.returncode == 0, done.stderr
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["AuditRead", "DenyInsecureTransport"]
    assert policy["Statement"][0] == audit
    assert (f"updated  s3 bucket {BUCKET}: TLS-only policy -- added DenyInsecureTransport; "
            "kept 1 other statement") in done.stdout


def test_a_policy_someone_added_to_a_role_is_a_problem_naming_the_command_that_removes_it(
        moto_url: str) -> None:
    assert run_bootstrap(moto_url).returncode == 0
    iam = client(moto_url, "iam")
    iam.attach_role_policy(RoleName=DEPLOY, PolicyArn=ADMIN)
    iam.put_role_policy(RoleName=DEPLOY, PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    done = run_bootstrap(moto_url)
    assert done.returncode == 5
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("bootstrap: 2 problem(s)")
    lines = problem_lines(done.stdout)
    assert len(lines) == 2, done.stdout
    assert lines[0].endswith(f"fix: aws iam detach-role-policy --role-name {DEPLOY} "
                             f"--policy-arn {ADMIN}")
    assert lines[1].endswith(f"fix: aws iam delete-role-policy --role-name {DEPLOY} "
                             "--policy-name everything")
    # Reported, not undone: it may be someone's deliberate grant.
    attached = iam.list_attached_role_policies(RoleName=DEPLOY)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]


def test_power_user_access_an_older_bootstrap_attached_is_detached(moto_url: str) -> None:
    assert run_bootstrap(moto_url).returncode == 0
    iam = client(moto_url, "iam")
    iam.attach_role_policy(RoleName=DEPLOY, PolicyArn=POWER_USER_POLICY)
    done = run_bootstrap(moto_url)
    assert done.returncode == 0, done.stdout
    assert iam.list_attached_role_policies(RoleName=DEPLOY)["AttachedPolicies"] == []
    assert f"updated  iam role {DEPLOY}: PowerUserAccess -- detached" in done.stdout


@pytest.mark.parametrize(("break_key", "fix"), [
    (lambda kms, key: kms.disable_key(KeyId=key), "aws kms enable-key --key-id {key}"),
    (lambda kms, key: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
     "aws kms cancel-key-deletion --key-id {key}"),
])
def test_a_disabled_or_deleted_secrets_key_is_a_problem_with_its_fix(
        moto_url: str, break_key: object, fix: str) -> None:
    assert run_bootstrap(moto_url).returncode == 0
    kms = client(moto_url, "kms")
    key = kms.describe_key(KeyId=NAMES.key_alias("production"))["KeyMetadata"]["KeyId"]
    break_key(kms, key)  # type: ignore[operator]
    done = run_bootstrap(moto_url)
    assert done.returncode == 5, done.stdout
    (line,) = problem_lines(done.stdout)
    assert line.startswith(f"problem  kms key {NAMES.key_alias('production')} -- ")
    assert fix.format(key=key) in line


def test_a_key_left_without_its_alias_by_an_interrupted_run_is_reused(moto_url: str) -> None:
    kms = client(moto_url, "kms")
    alias = NAMES.key_alias("staging")
    orphan = kms.create_key(Tags=[{"TagKey": KEY_TAG, "TagValue": alias}])["KeyMetadata"]["KeyId"]
    done = run_bootstrap(moto_url)
    assert done.returncode == 0, done.stderr
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == orphan
    assert len(kms.list_keys()["Keys"]) == 2  # the orphan, reused, and production's
    assert f"reused key {orphan}" in done.stdout


def test_the_older_single_preview_role_is_a_problem_with_the_commands_that_delete_it(
        moto_url: str) -> None:
    iam = client(moto_url, "iam")
    iam.create_role(RoleName="webtier-github-preview", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))
    done = run_bootstrap(moto_url)
    assert done.returncode == 5, done.stdout
    (line,) = problem_lines(done.stdout)
    assert line.endswith("aws iam delete-role --role-name webtier-github-preview")
