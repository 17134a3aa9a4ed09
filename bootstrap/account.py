"""The bootstrap's AWS side: each item is checked, then created or corrected unless --dry-run.

Every step reports one line per item (created / updated / already there / would create / would
update / problem), so a second run shows that nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bootstrap import policies, role_policies, stacks
from bootstrap.aws_calls import Clients, Target
from bootstrap.bucket import ensure_bucket
from bootstrap.keys import ensure_key
from bootstrap.policies import NAMES
from bootstrap.report import Report
from bootstrap.role_policies import AccountScope, StackScope
from bootstrap.roles import (
    ensure_managed_policy,
    ensure_oidc_provider,
    ensure_role,
    report_legacy_preview_role,
)

__all__ = ["Clients", "Created", "Report", "Target", "bootstrap"]


@dataclass(frozen=True)
class Created:
    account: str
    key_arns: dict[str, str]
    preview_role_arns: dict[str, str]
    deploy_role_arns: dict[str, str]


def account_scope(account: str, bucket: str, key_arns: dict[str, str],
                  names: Callable[[str, str], tuple[str, str]] = stacks.stack_names
                  ) -> AccountScope:
    return AccountScope(account, bucket, tuple(
        StackScope(stack, *names(stack, account), key_arns[stack])
        for stack in policies.ENVIRONMENTS))


def bootstrap(c: Clients, t: Target, report: Report) -> Created:
    """Everything, in dependency order: the roles' policies name the bucket and the keys."""
    account = str(c.sts.get_caller_identity()["Account"])
    ensure_bucket(c, t, report)
    keys = {stack: ensure_key(c, t, account, stack, report) for stack in policies.ENVIRONMENTS}
    scope = account_scope(account, t.bucket, keys)
    ensure_oidc_provider(c, account, report)
    preview, deploy = {}, {}
    for stack in policies.ENVIRONMENTS:
        ensure_managed_policy(c, scope.boundary_arn(stack),
                              role_policies.boundary_policy(scope, stack), report)
        name = NAMES.preview_role(stack)
        ensure_role(c, name, policies.preview_trust(account, t.repo, stack),
                    [policies.READ_ONLY_POLICY], role_policies.preview_policy(scope, stack),
                    report)
        preview[stack] = policies.role_arn(account, name)
        name = NAMES.deploy_role(stack)
        ensure_role(c, name, policies.deploy_trust(account, t.repo, stack), [],
                    role_policies.deploy_policy(scope, stack), report)
        deploy[stack] = policies.role_arn(account, name)
    report_legacy_preview_role(c, report)
    return Created(account, keys, preview, deploy)
