"""One KMS key per stack for the stack's secrets, each under its own alias.

The alias is created right after the key, and the key carries a tag naming its alias: a run that
stopped between the two leaves a tagged key without an alias, which the next run finds and
reuses instead of creating (and paying for) another. A key that is disabled or scheduled for
deletion is reported with the command that restores it: a deleted key makes every secret of its
stack unrecoverable, so this is never left to `already there`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from bootstrap import drift
from bootstrap.aws_calls import Clients, Target, absent
from bootstrap.policies import KEY_TAG, NAMES
from bootstrap.report import Report

DRY_RUN_KEY_ARN = "arn:aws:kms:{region}:{account}:key/<created-by-this-run-for-{stack}>"


def _aliases(kms: Any) -> dict[str, str]:
    return {a["AliasName"]: a.get("TargetKeyId", "")
            for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]}


def _orphan(kms: Any, alias: str, aliased: set[str]) -> str | None:
    """A key this bootstrap tagged for ``alias`` that has no alias yet and is usable."""
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            key_id = key["KeyId"]
            if key_id in aliased:
                continue
            tags = absent(partial(kms.list_resource_tags, KeyId=key_id),
                          "AccessDeniedException", "NotFoundException")
            if tags and {"TagKey": KEY_TAG, "TagValue": alias} in tags.get("Tags", []) and \
                    kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled":
                return str(key_id)
    return None


def ensure_key(c: Clients, t: Target, account: str, stack: str, report: Report) -> str:
    """The ARN of ``stack``'s secrets key (a placeholder when a dry run would create it)."""
    kms, alias = c.kms, NAMES.key_alias(stack)
    aliases = _aliases(kms)
    key_id = aliases.get(alias) or None
    orphan = None if key_id else _orphan(kms, alias, set(aliases.values()))
    made: dict[str, str] = {}

    def create() -> None:
        if orphan is None:
            made["id"] = kms.create_key(
                Description=f"Pulumi stack secrets of {stack} (awskms secrets provider)",
                KeyUsage="ENCRYPT_DECRYPT",
                Tags=[{"TagKey": KEY_TAG, "TagValue": alias}])["KeyMetadata"]["KeyId"]
        else:
            made["id"] = orphan
        kms.create_alias(AliasName=alias, TargetKeyId=made["id"])

    report.record(f"kms key {alias}", key_id is not None, key_id is not None, create,
                  detail=f"reused key {orphan}, left without its alias by an interrupted run"
                  if orphan else "")
    key_id = key_id or made.get("id")
    if key_id is None:
        report.record(f"kms key {alias}: yearly rotation", False, False, lambda: None)
        return DRY_RUN_KEY_ARN.format(region=t.region, account=account, stack=stack)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    problem = drift.key_problem(alias, stack, meta, t.region)
    if problem is not None:
        report.problem(problem.item, problem.what, problem.fix)
    if drift.key_enabled(meta):
        rotating = bool(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])
        report.record(f"kms key {alias}: yearly rotation", "id" not in made or orphan is not None,
                      rotating, lambda: kms.enable_key_rotation(KeyId=key_id))
    return str(meta["Arn"])
