"""The bootstrap's pure builders (policies, names, commands) and its argument errors, no AWS."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bootstrap import cli, policies, stacks
from bootstrap.policies import LOCK_PREFIX, NAMES
from components.settings.secrets import OPTIONAL_SECRETS, SECRET_KEYS

ACCOUNT = "123456789012"
BUCKET = "acme-webtier-state"
ROOT = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:ap-northeast-1:123456789012:key/1234"


def statements(doc: policies.Document) -> dict[str, dict[str, object]]:
    return {s.get("Sid", str(i)): s for i, s in enumerate(doc["Statement"])}


def test_bucket_policy_denies_every_request_without_tls_on_bucket_and_objects() -> None:
    (deny,) = policies.tls_only_bucket_policy(BUCKET)["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_preview_role_trusts_pull_requests_of_the_repository_only() -> None:
    (stmt,) = policies.preview_trust(ACCOUNT, "acme/webtier")["Statement"]
    assert stmt["Principal"] == {
        "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}
    assert stmt["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/webtier:pull_request"}}


@pytest.mark.parametrize("env", policies.ENVIRONMENTS)
def test_deploy_role_trusts_only_jobs_in_its_own_github_environment(env: str) -> None:
    (stmt,) = policies.deploy_trust(ACCOUNT, "acme/webtier", env)["Statement"]
    assert stmt["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        f"repo:acme/webtier:environment:{env}"


def test_preview_role_may_write_only_the_lock_prefix_of_the_state_bucket() -> None:
    # `pulumi preview` on an S3 backend takes the stack lock: without this it fails.
    writes = [s for s in policies.preview_policy(BUCKET, KEY)["Statement"]
              if set(s["Action"]) & {"s3:PutObject", "s3:DeleteObject"}]
    assert [s["Resource"] for s in writes] == [f"arn:aws:s3:::{BUCKET}/{LOCK_PREFIX}*"]
    assert LOCK_PREFIX == ".pulumi/locks/"


def test_preview_role_may_decrypt_but_not_encrypt_with_the_secrets_key() -> None:
    kms = [s for s in policies.preview_policy(BUCKET, KEY)["Statement"]
           if str(s["Action"]).startswith("kms:")]
    assert [(s["Action"], s["Resource"]) for s in kms] == [("kms:Decrypt", KEY)]


def test_deploy_role_cannot_change_the_roles_the_workflows_assume() -> None:
    deny = statements(policies.deploy_policy(ACCOUNT, BUCKET, KEY))["NotTheBootstrapRoles"]
    assert deny["Effect"] == "Deny"
    for name in (NAMES.preview_role, *(NAMES.deploy_role(e) for e in policies.ENVIRONMENTS)):
        assert name.startswith(str(deny["Resource"]).rsplit("/", 1)[1].rstrip("*"))


def test_secret_commands_cover_every_required_secret_key_without_a_value() -> None:
    cmds = stacks.secret_commands("staging")
    names = {c[4] for c in cmds if c[4] != "--path"}
    assert names == set(SECRET_KEYS) - OPTIONAL_SECRETS
    assert all(c[-2:] == ["--stack", "staging"] for c in cmds)
    assert ["pulumi", "config", "set", "--secret", "--path",
            'kvSecrets["database/master-password"]', "--stack", "staging"] in cmds


def test_stack_init_uses_the_kms_alias_as_secrets_provider() -> None:
    assert stacks.init_command("production", "eu-west-1") == [
        "pulumi", "stack", "init", "production", "--secrets-provider",
        f"awskms://{NAMES.key_alias}?region=eu-west-1"]


@pytest.mark.parametrize(("argv", "names"), [
    (["--region", "tokyo", "--state-bucket", "b-ok", "--github-repo", "a/b"], "--region"),
    (["--region", "us-east-1", "--state-bucket", "Bad.Bucket", "--github-repo", "a/b"],
     "--state-bucket"),
    (["--region", "us-east-1", "--state-bucket", "b-ok", "--github-repo", "nothing"],
     "--github-repo"),
    (["--region", "us-east-1", "--state-bucket", "b-ok"], "--github-repo"),
])
def test_bad_arguments_give_one_line_naming_the_argument_and_exit_2(
        argv: list[str], names: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv, out=lambda _line: None) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("bootstrap: ")
    assert names in err


def test_ctrl_c_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*_a: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_aws", interrupted)
    argv = ["--region", "us-east-1", "--state-bucket", "b-ok", "--github-repo", "a/b"]
    assert cli.main(argv, out=lambda _line: None) == 130
    assert capsys.readouterr().err.count("\n") == 1


def test_init_stacks_without_a_pulumi_cli_says_so_and_exits_4(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli.shutil, "which", lambda _name: None)
    monkeypatch.setattr(cli, "run_aws", lambda *_a: None)
    argv = ["--region", "us-east-1", "--state-bucket", "b-ok", "--github-repo", "a/b",
            "--init-stacks"]
    assert cli.main(argv, out=lambda _line: None) == cli.EXIT_PULUMI
    assert "pulumi CLI" in capsys.readouterr().err


def test_the_first_day_guide_runs_bootstrap_with_arguments_it_accepts() -> None:
    guide = (ROOT / "docs" / "first-day.md").read_text()
    calls = re.findall(r"venv/bin/python -m bootstrap ((?:[^\n\\]|\\\n)+)", guide)
    assert len(calls) >= 2
    for call in calls:
        args = cli.parse_args(shlex.split(call.replace("\\\n", " "), comments=True))
        assert args.github_repo == "acme/webtier"
