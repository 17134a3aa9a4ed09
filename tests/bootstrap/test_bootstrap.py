"""The bootstrap's pure builders (policies, names, commands) and its argument errors, no AWS."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bootstrap import cli, policies, role_policies, stacks
from bootstrap.account import account_scope
from bootstrap.policies import NAMES
from components.settings.secrets import OPTIONAL_SECRETS, SECRET_KEYS

ACCOUNT = "123456789012"
BUCKET = "acme-webtier-state"
ROOT = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:ap-northeast-1:123456789012:key/1234"
PROD_KEY = "arn:aws:kms:ap-northeast-1:123456789012:key/5678"
SCOPE = account_scope(ACCOUNT, BUCKET, {"staging": KEY, "production": PROD_KEY})


def statements(doc: policies.Document) -> dict[str, dict[str, object]]:
    return {s.get("Sid", str(i)): s for i, s in enumerate(doc["Statement"])}


def test_bucket_policy_denies_every_request_without_tls_on_bucket_and_objects() -> None:
    (deny,) = policies.tls_only_bucket_policy(BUCKET)["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(("stack", "subject"), [("staging", "pull_request"),
                                                 ("production", "ref:refs/heads/main")])
def test_preview_role_trusts_pull_requests_only_for_staging_and_main_for_production(
        stack: str, subject: str) -> None:
    (stmt,) = policies.preview_trust(ACCOUNT, "acme/webtier", stack)["Statement"]
    assert stmt["Principal"] == {
        "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"}
    assert stmt["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:acme/webtier:{subject}"}}


@pytest.mark.parametrize("env", policies.ENVIRONMENTS)
def test_deploy_role_trusts_only_jobs_in_its_own_github_environment(env: str) -> None:
    (stmt,) = policies.deploy_trust(ACCOUNT, "acme/webtier", env)["Statement"]
    assert stmt["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        f"repo:acme/webtier:environment:{env}"


def test_preview_role_may_write_nothing_in_s3() -> None:
    # `pulumi preview` on the DIY S3 backend takes no lock (tests/bootstrap/test_preview_lock.py
    # runs the real CLI): an allowed write would only let a pull request block a stack's `up`.
    allowed = [a for s in role_policies.preview_policy(SCOPE, "staging")["Statement"]
               if s["Effect"] == "Allow"
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert [a for a in allowed if a.startswith("s3:")] == \
        ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]


def test_preview_role_may_decrypt_but_not_encrypt_with_its_own_stacks_key_only() -> None:
    kms = [s for s in role_policies.preview_policy(SCOPE, "staging")["Statement"]
           if str(s["Action"]).startswith("kms:")]
    assert [(s["Effect"], s["Action"], s.get("Resource", s.get("NotResource"))) for s in kms] \
        == [("Allow", "kms:Decrypt", KEY), ("Deny", "kms:Decrypt", KEY)]
    assert "NotResource" in kms[1]


def test_deploy_role_cannot_change_the_roles_the_workflows_assume() -> None:
    deny = statements(role_policies.deploy_policy(SCOPE, "staging"))["NotTheBootstrapRoles"]
    assert deny["Effect"] == "Deny"
    prefix = deny["Resource"][0].rsplit("/", 1)[1].rstrip("*")
    for stack in policies.ENVIRONMENTS:
        assert NAMES.preview_role(stack).startswith(prefix)
        assert NAMES.deploy_role(stack).startswith(prefix)


def test_bucket_policy_merge_keeps_other_statements_and_replaces_ours_by_sid() -> None:
    ours = policies.tls_only_bucket_policy(BUCKET)
    other = {"Sid": "AuditRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    stale = {**ours["Statement"][0], "Action": "s3:GetObject"}
    merged, changes = policies.merged_bucket_policy(
        {"Version": "2012-10-17", "Statement": [other, stale]}, ours)
    assert merged["Statement"] == [other, ours["Statement"][0]]
    assert changes == ["replaced DenyInsecureTransport", "kept 1 other statement"]
    again, none = policies.merged_bucket_policy(merged, ours)
    assert (again, none) == (merged, [])
    fresh, added = policies.merged_bucket_policy(None, ours)
    assert (fresh, added) == (ours, ["added DenyInsecureTransport"])


def test_secret_commands_cover_every_required_secret_key_without_a_value() -> None:
    cmds = stacks.secret_commands("staging")
    names = {c[4] for c in cmds if c[4] != "--path"}
    assert names == set(SECRET_KEYS) - OPTIONAL_SECRETS
    assert all(c[-2:] == ["--stack", "staging"] for c in cmds)
    assert ["pulumi", "config", "set", "--secret", "--path",
            'kvSecrets["database/master-password"]', "--stack", "staging"] in cmds


def test_stack_init_uses_the_stacks_own_kms_alias_as_secrets_provider() -> None:
    assert stacks.init_command("production", "eu-west-1") == [
        "pulumi", "stack", "init", "production", "--secrets-provider",
        "awskms://alias/webtier-production-stack-secrets?region=eu-west-1"]
    assert NAMES.key_alias("staging") != NAMES.key_alias("production")


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
    monkeypatch.setattr(cli, "check_github", lambda *_a: None)  # nothing leaves this machine
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


def test_the_problems_exit_code_is_documented_where_the_others_are() -> None:
    row = next(line for line in (ROOT / "docs" / "exit-codes.md").read_text().splitlines()
               if line.startswith("| `python -m bootstrap`"))
    assert cli.EXIT_CODES[cli.EXIT_PROBLEMS] == "done, but problems were found (each `problem` " \
        "line names its fix)"
    assert cli.EXIT_CODES[cli.EXIT_PROBLEMS] in row
    guide = (ROOT / "docs" / "first-day.md").read_text()
    assert f"{cli.EXIT_PROBLEMS} done but problems found" in " ".join(guide.split())
