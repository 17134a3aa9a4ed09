"""A preview role may write nothing in the state bucket; a deploy role only its own stack's.

Real: the bootstrap (into moto, which stores the state bucket, versioned as bootstrap makes it)
and the pinned `pulumi` CLI, which runs `preview`, then `up`, of each stack (an empty program)
against that bucket as its DIY S3 backend: what the CLI writes is read back from the bucket's
versions, so the layout (the lock included) is the real CLI's, not ours. The decisions come from
tests/bootstrap/iam_evaluator.py over the documents bootstrap wrote (moto stores IAM but does not
enforce it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from bootstrap.policies import ENVIRONMENTS, NAMES
from contracts.names import PROJECT
from tests.bootstrap.bootstrapped_account import (
    BUCKET,
    REGION,
    Bootstrapped,
    bootstrapped_account,
    client,
)
from tests.bootstrap.iam_evaluator import Request, decide
from tests.engine.workspace import require_cli, search_path
from tests.moto_server import FAKE_CREDENTIALS

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@dataclass(frozen=True)
class Written:
    """What one real CLI operation of a stack wrote into the state bucket."""

    put: frozenset[str]
    deleted: frozenset[str]


@dataclass(frozen=True)
class Operations:
    account: Bootstrapped
    previews: dict[str, Written]
    ups: dict[str, Written]


def _versions(s3: Any) -> set[tuple[str, str, str]]:
    listed = s3.list_object_versions(Bucket=BUCKET)
    return {("put", v["Key"], v["VersionId"]) for v in listed.get("Versions", [])} | \
        {("delete", v["Key"], v["VersionId"]) for v in listed.get("DeleteMarkers", [])}


def _stack(account: Bootstrapped, tmp: Path, stack: str) -> auto.Stack:
    """The stack, created as the operator does (`pulumi stack init`), with an empty program."""
    cli = require_cli()
    backend = f"s3://{BUCKET}?endpoint={account.url}&use_path_style=true&region={REGION}"
    home, work = tmp / stack / "home", tmp / stack / "work"
    home.mkdir(parents=True)
    work.mkdir(parents=True)
    env = {"PULUMI_BACKEND_URL": backend, "PULUMI_CONFIG_PASSPHRASE": "preview-lock-tests",
           "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true", "PATH": search_path(),
           **FAKE_CREDENTIALS, "AWS_REGION": REGION}
    return auto.create_or_select_stack(
        stack_name=stack, project_name=PROJECT, program=lambda: None,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work), env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(cli.parent.parent)),
            project_settings=auto.ProjectSettings(name=PROJECT, runtime="python",
                                                  backend=auto.ProjectBackend(url=backend))))


def _written(s3: Any, operation: Callable[[], object]) -> Written:
    before = _versions(s3)
    operation()
    new = _versions(s3) - before
    return Written(frozenset(k for kind, k, _v in new if kind == "put"),
                   frozenset(k for kind, k, _v in new if kind == "delete"))


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operations]:
    for account in bootstrapped_account():
        tmp = tmp_path_factory.mktemp("preview-lock")
        s3 = client(account.url, "s3")
        # moto applies the bucket's TLS-only policy, and it serves plain HTTP on loopback: the
        # transport is not what this file tests, so this copy of the bucket drops that policy.
        s3.delete_bucket_policy(Bucket=BUCKET)
        stacks = {s: _stack(account, tmp, s) for s in ENVIRONMENTS}
        previews = {s: _written(s3, stack.preview) for s, stack in stacks.items()}
        ups = {s: _written(s3, stack.up) for s, stack in stacks.items()}
        yield Operations(account, previews, ups)


def _object(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


def _keys(written: Written) -> set[str]:
    return set(written.put | written.deleted)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_real_cli_writes_nothing_during_a_preview_and_locks_during_an_up(
        operations: Operations, stack: str) -> None:
    # pulumi/pulumi pkg/backend/diy/backend.go: Preview goes straight to apply (DryRun) without
    # b.Lock; Update, Refresh, Destroy, Import and stack removal take it. lock.go: the lock is
    # .pulumi/locks/<FullyQualifiedName>/<lockID>.json, and FullyQualifiedName of a project-scoped
    # stack is organization/<project>/<stack>; Unlock deletes it.
    assert operations.previews[stack] == Written(frozenset(), frozenset())
    up = operations.ups[stack]
    (lock,) = up.deleted
    assert lock.startswith(f".pulumi/locks/organization/{PROJECT}/{stack}/")
    assert lock in up.put
    assert f".pulumi/stacks/{PROJECT}/{stack}.json" in up.put


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_preview_role_may_write_nothing_in_the_state_bucket(
        operations: Operations, stack: str) -> None:
    docs = operations.account.roles[NAMES.preview_role(stack)]
    # Every object a real `up` of either stack writes (its lock, checkpoint, history, backups):
    # a preview needs none, and a pull request's workflow could otherwise block or unlock a stack.
    written = {k for up in operations.ups.values() for k in _keys(up)}
    written |= {".pulumi/meta.yaml", f".pulumi/locks/{stack}/x.json"}
    for action in ("s3:PutObject", "s3:DeleteObject"):
        allowed = [k for k in sorted(written)
                   if decide(docs.identity, Request(action, _object(k))) == "allow"]
        assert allowed == [], action
    # It still reads what a preview reads.
    own = f".pulumi/stacks/{PROJECT}/{stack}.json"
    assert decide(docs.identity, Request("s3:GetObject", _object(own))) == "allow"


def test_a_deploy_role_writes_its_own_stacks_state_and_lock_only(operations: Operations) -> None:
    for stack in ENVIRONMENTS:
        docs = operations.account.roles[NAMES.deploy_role(stack)]
        for owner, up in operations.ups.items():
            for action, keys in (("s3:PutObject", up.put), ("s3:DeleteObject", up.deleted)):
                got = {k: decide(docs.identity, Request(action, _object(k))) for k in keys}
                want = "allow" if owner == stack else "explicit deny"
                assert got == dict.fromkeys(keys, want), (stack, owner, action)
