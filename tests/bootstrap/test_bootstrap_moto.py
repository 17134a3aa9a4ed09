"""`python -m bootstrap` as a real process against a real moto server (S3, KMS, IAM, STS): the
first run creates everything, a second run and a dry run change nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from bootstrap import policies
from bootstrap.policies import NAMES
from tests.moto_server import FAKE_CREDENTIALS, running_moto

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"
BUCKET = "acme-webtier-state"
REPO = "acme/webtier"
ARGS = ["--region", REGION, "--state-bucket", BUCKET, "--github-repo", REPO]
ITEM = re.compile(r"^ *(created|updated|already there|would create|would update)  (.+?)"
                  r"(?: -- .*)?$")

pytestmark = pytest.mark.integration


@pytest.fixture
def moto_url() -> Iterator[str]:
    # A server of its own: the test counts what exists. Managed policies (ReadOnlyAccess, ...)
    # are attachable only when moto loads them.
    with running_moto(env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}) as url:
        yield url


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    return {**env, **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url}


def bootstrap(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bootstrap", *ARGS, *extra], cwd=ROOT,
                          env=env_for(url), capture_output=True, text=True, timeout=120,
                          check=False)


def items(out: str) -> dict[str, str]:
    return {m[2]: m[1] for line in out.splitlines() if (m := ITEM.match(line))}


def client(url: str, name: str) -> object:
    return boto3.client(name, region_name=REGION, endpoint_url=url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_real_bootstrap_against_moto_creates_all_then_a_second_run_finds_all(
        moto_url: str) -> None:
    first = bootstrap(moto_url)
    assert (first.returncode, first.stderr) == (0, ""), first.stderr
    made = items(first.stdout)
    assert len(made) >= 20, first.stdout
    assert set(made.values()) == {"created"}, first.stdout

    second = bootstrap(moto_url)
    assert (second.returncode, second.stderr) == (0, ""), second.stderr
    assert items(second.stdout) == {item: "already there" for item in made}


def test_real_dry_run_against_moto_changes_nothing_and_says_what_it_would_do(
        moto_url: str) -> None:
    dry = bootstrap(moto_url, "--dry-run")
    assert (dry.returncode, dry.stderr) == (0, ""), dry.stderr
    assert set(items(dry.stdout).values()) == {"would create"}, dry.stdout
    s3, iam, kms = (client(moto_url, n) for n in ("s3", "iam", "kms"))
    assert s3.list_buckets()["Buckets"] == []  # type: ignore[attr-defined]
    assert iam.list_roles()["Roles"] == []  # type: ignore[attr-defined]
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]  # type: ignore[attr-defined]
    assert not {NAMES.key_alias(s) for s in policies.ENVIRONMENTS} & set(aliases)
    assert kms.list_keys()["Keys"] == []  # type: ignore[attr-defined]


def test_real_dry_run_after_a_bootstrap_finds_everything_there(moto_url: str) -> None:
    assert bootstrap(moto_url).returncode == 0
    dry = bootstrap(moto_url, "--dry-run")
    assert set(items(dry.stdout).values()) == {"already there"}, dry.stdout


def test_real_bootstrap_corrects_a_drifted_setting_and_says_so(moto_url: str) -> None:
    assert bootstrap(moto_url).returncode == 0
    s3 = client(moto_url, "s3")
    s3.delete_bucket_policy(Bucket=BUCKET)  # type: ignore[attr-defined]
    dry = items(bootstrap(moto_url, "--dry-run").stdout)
    assert dry[f"s3 bucket {BUCKET}: TLS-only policy"] == "would update"
    fixed = items(bootstrap(moto_url).stdout)
    assert fixed[f"s3 bucket {BUCKET}: TLS-only policy"] == "updated"
    assert [v for k, v in fixed.items() if "TLS-only" not in k] == \
        ["already there"] * (len(fixed) - 1)


def test_real_bootstrap_leaves_the_state_bucket_locked_down(moto_url: str) -> None:
    assert bootstrap(moto_url).returncode == 0
    s3 = client(moto_url, "s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"  # type: ignore
    block = s3.get_public_access_block(Bucket=BUCKET)  # type: ignore[attr-defined]
    assert all(block["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_encryption(Bucket=BUCKET)  # type: ignore[attr-defined]
    assert rules["ServerSideEncryptionConfiguration"]["Rules"]
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])  # type: ignore
    assert policy == policies.tls_only_bucket_policy(BUCKET)


def test_real_bootstrap_roles_trust_only_the_repositorys_tokens(moto_url: str) -> None:
    assert bootstrap(moto_url).returncode == 0
    iam = client(moto_url, "iam")
    subjects = {}
    for name in (*(NAMES.preview_role(e) for e in policies.ENVIRONMENTS),
                 *(NAMES.deploy_role(e) for e in policies.ENVIRONMENTS)):
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]  # type: ignore
        cond = trust["Statement"][0]["Condition"]["StringEquals"]
        subjects[name] = cond["token.actions.githubusercontent.com:sub"]
    assert subjects == {
        "webtier-github-preview-staging": "repo:acme/webtier:pull_request",
        "webtier-github-preview-production": "repo:acme/webtier:ref:refs/heads/main",
        "webtier-github-deploy-staging": "repo:acme/webtier:environment:staging",
        "webtier-github-deploy-production": "repo:acme/webtier:environment:production",
    }


def test_real_bootstrap_prints_stack_init_with_the_kms_provider_and_secret_commands(
        moto_url: str) -> None:
    out = bootstrap(moto_url).stdout
    assert f"pulumi login 's3://{BUCKET}?region={REGION}'" in out
    for stack in ("staging", "production"):
        assert (f"pulumi stack init {stack} --secrets-provider "
                f"'awskms://{NAMES.key_alias(stack)}?region={REGION}'") in out
        assert f"pulumi config set --secret consulGossipKey --stack {stack}" in out
    # Every role variable the workflows read is one bootstrap tells the operator to set.
    workflows = " ".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    wanted = set(re.findall(r"vars\.(AWS_\w+_ROLE_ARN)", workflows))
    assert wanted == {"AWS_PREVIEW_ROLE_ARN", "AWS_PRODUCTION_PREVIEW_ROLE_ARN",
                      "AWS_DEPLOY_ROLE_ARN"}
    printed = set(re.findall(r"gh variable set (AWS_\w+_ROLE_ARN)", out))
    assert printed == wanted
    assert f"AWS_PRODUCTION_PREVIEW_ROLE_ARN --body 'arn:aws:iam::123456789012:role/" \
        f"{NAMES.preview_role('production')}'" in out


def test_real_bootstrap_without_moto_credentials_says_so_in_one_line(moto_url: str) -> None:
    env = {k: v for k, v in env_for(moto_url).items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    done = subprocess.run([sys.executable, "-m", "bootstrap", *ARGS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3
    assert done.stderr.startswith("bootstrap: no AWS credentials")
    assert done.stderr.count("\n") == 1, done.stderr


FAKE_PULUMI = """#!/bin/sh
# A stand-in pulumi CLI: logs its arguments; a stack exists once `stack init` made it.
echo "$*" >> "$FAKE_PULUMI_LOG"
case "$1 $2" in
  "stack select") [ -e "$FAKE_PULUMI_DIR/$3" ] ;;
  "stack init") touch "$FAKE_PULUMI_DIR/$3" ;;
esac
"""


def test_real_bootstrap_init_stacks_runs_login_and_inits_each_stack_once(
        moto_url: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "calls.log"
    env = {**env_for(moto_url), "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "FAKE_PULUMI_LOG": str(log), "FAKE_PULUMI_DIR": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bootstrap", *ARGS, "--init-stacks"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                              check=False)

    first = run()
    assert (first.returncode, first.stderr) == (0, ""), first.stderr
    assert items(first.stdout)["pulumi stack staging"] == "created"
    second = run()
    assert items(second.stdout)["pulumi stack production"] == "already there"
    inits = [line for line in log.read_text().splitlines() if line.startswith("stack init")]
    assert inits == [f"stack init {s} --secrets-provider "
                     f"awskms://{NAMES.key_alias(s)}?region={REGION}"
                     for s in ("staging", "production")]
    assert log.read_text().splitlines()[0] == f"login s3://{BUCKET}?region={REGION}"
