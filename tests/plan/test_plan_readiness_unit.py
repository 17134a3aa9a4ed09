"""`python -m plan STACK --bootstrap-status` on hand-written stack files: what counts as missing or
plain text, and the job summary's exact commands (only those still needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from plan.readiness import Readiness, markdown, readiness

SECURE = {"secure": "v1:AAABAKmsCiphertextOnly"}
PROVIDER = "awskms://alias/webtier-stack-secrets?region=eu-west-1"


def stack_file(root: Path, doc: dict[str, object], stack: str = "qa") -> Path:
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return root


def test_half_set_stack_lists_plain_text_and_only_the_commands_still_needed(
        tmp_path: Path) -> None:
    root = stack_file(tmp_path, {
        "secretsprovider": PROVIDER, "encryptedkey": "AQICAHh...",
        "config": {"aws:region": "eu-west-1",
                   "webtier:kv": {"secretKeys": ["db/password", "api/token"]},
                   "webtier:consulGossipKey": "gossip-in-plain-text",
                   "webtier:consulAgentToken": SECURE,
                   "webtier:kvSecrets": {"db/password": "plain"}}})
    found = readiness("qa", root)
    assert found == Readiness(
        "qa", root, "eu-west-1", PROVIDER,
        missing=["webtier:consulTemplateToken", 'webtier:kvSecrets["api/token"]'],
        plaintext=["webtier:consulGossipKey", "webtier:kvSecrets"])
    # consulAgentToken is already encrypted: no command for it; db/password is in plain text
    # (kvSecrets as a whole is), so it is set again; the provider exists: no login or init.
    assert markdown(found) == """\
### Stack `qa` is not bootstrapped yet: no preview ran

Stored in plain text (remove them from the stack file, then set them as secrets): \
`webtier:consulGossipKey`, `webtier:kvSecrets`

Run once, with administrator credentials for the account (see docs/first-day.md):

```sh
python -m bootstrap --region eu-west-1 --state-bucket <bucket> --github-repo <owner/name>
pulumi config set --secret consulGossipKey --stack qa
pulumi config set --secret consulTemplateToken --stack qa
pulumi config set --secret --path 'kvSecrets["api/token"]' --stack qa
pulumi config set --secret --path 'kvSecrets["db/password"]' --stack qa
git add Pulumi.qa.yaml && git commit -m 'Bootstrap qa'
```
"""


def test_missing_kv_secret_alone_gets_its_command(tmp_path: Path) -> None:
    root = stack_file(tmp_path, {
        "secretsprovider": PROVIDER, "encryptedkey": "AQICAHh...",
        "config": {"aws:region": "eu-west-1", "webtier:kv": {"secretKeys": ["a/b", "c/d"]},
                   "webtier:consulGossipKey": SECURE, "webtier:consulAgentToken": SECURE,
                   "webtier:consulTemplateToken": SECURE,
                   "webtier:kvSecrets": {"a/b": SECURE}}})
    found = readiness("qa", root)
    assert (found.missing, found.plaintext) == (['webtier:kvSecrets["c/d"]'], [])
    commands = markdown(found).split("```sh\n")[1].split("\n```")[0].splitlines()
    assert commands == [
        "python -m bootstrap --region eu-west-1 --state-bucket <bucket> "
        "--github-repo <owner/name>",
        "pulumi config set --secret --path 'kvSecrets[\"c/d\"]' --stack qa",
        "git add Pulumi.qa.yaml && git commit -m 'Bootstrap qa'"]


def test_no_stack_file_needs_login_init_and_every_required_secret(tmp_path: Path) -> None:
    found = readiness("fresh", tmp_path)
    assert found == Readiness("fresh", tmp_path, "<region>", None, missing=[
        "webtier:consulGossipKey", "webtier:consulAgentToken", "webtier:consulTemplateToken"],
        plaintext=[])
    assert markdown(found) == """\
### Stack `fresh` is not bootstrapped yet: no preview ran

Run once, with administrator credentials for the account (see docs/first-day.md):

```sh
python -m bootstrap --region <region> --state-bucket <bucket> --github-repo <owner/name>
pulumi login 's3://<bucket>?region=<region>'
pulumi stack init fresh --secrets-provider 'awskms://alias/webtier-fresh-stack-secrets?region=<region>'
pulumi config set --secret consulGossipKey --stack fresh
pulumi config set --secret consulAgentToken --stack fresh
pulumi config set --secret consulTemplateToken --stack fresh
git add Pulumi.fresh.yaml && git commit -m 'Bootstrap fresh'
```
"""


def test_provider_without_its_encrypted_key_is_not_a_provider(tmp_path: Path) -> None:
    root = stack_file(tmp_path, {"secretsprovider": PROVIDER, "config": {}})
    assert readiness("qa", root).secrets_provider is None


def test_bootstrapped_stack_is_one_line(tmp_path: Path) -> None:
    root = stack_file(tmp_path, {
        "secretsprovider": PROVIDER, "encryptedkey": "AQICAHh...",
        "config": {"webtier:consulGossipKey": SECURE, "webtier:consulAgentToken": SECURE,
                   "webtier:consulTemplateToken": SECURE}})
    found = readiness("qa", root)
    assert found.ready
    assert markdown(found) == f"Stack `qa`: bootstrapped (secrets provider `{PROVIDER}`).\n"
