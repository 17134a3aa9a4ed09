"""IAM rules: no wildcard action or resource, except where the action accepts only "*"."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from policy.rules.values import IAM_POLICY, ROLE, ROLE_POLICY, items, mapping, strings

# Actions that accept only `Resource: "*"` (the Service Authorization Reference lists no resource
# type for them), so "*" there is not a wildcard grant. Consul's cloud auto-join needs
# ec2:DescribeInstances; the others are the usual agent/monitoring reads. Lower-case.
RESOURCE_STAR_ONLY_ACTIONS = frozenset({
    "autoscaling:describeautoscalinggroups",
    "autoscaling:describeautoscalinginstances",
    "autoscaling:describescalingactivities",
    "cloudwatch:getmetricdata",
    "cloudwatch:listmetrics",
    "cloudwatch:putmetricdata",
    "ec2:describeavailabilityzones",
    "ec2:describeimages",
    "ec2:describeinstances",
    "ec2:describeregions",
    "ec2:describesecuritygroups",
    "ec2:describesubnets",
    "ec2:describetags",
    "ec2:describevolumes",
    "s3:listallmybuckets",
    "ssm:describeparameters",
    "sts:getcalleridentity",
})


# EC2 and Auto Scaling Describe actions support no resource-level permissions at all, so a
# pattern within these families (e.g. "ec2:Describe*") with Resource "*" grants nothing more.
RESOURCE_STAR_ONLY_PREFIXES = ("ec2:describe", "autoscaling:describe")


SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*\Z")


# --- IAM -----------------------------------------------------------------------------------

def _star_only(action: str) -> bool:
    action = action.lower()
    return action in RESOURCE_STAR_ONLY_ACTIONS or action.startswith(RESOURCE_STAR_ONLY_PREFIXES)


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if resource_type in (ROLE_POLICY, IAM_POLICY):
        return [("policy", props.get("policy"))]
    if resource_type == ROLE:
        return [(f"inlinePolicies[{index}].policy", inline.get("policy"))
                for index, inline in enumerate(items(props.get("inlinePolicies")))]
    return []


def _statement_problems(label: str, document: Any) -> list[str]:
    if document is None or document == "":
        return []
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            return [f"{label} is not valid JSON ({error.msg} at {error.pos}), so it cannot be "
                    "checked"]
    problems = []
    for index, statement in enumerate(items(mapping(document).get("Statement"))):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        where = f"{label} statement {statement.get('Sid') or index}"
        if "NotAction" in statement:
            problems.append(f"{where} allows NotAction, i.e. every action but a few: list the "
                            "actions instead")
        if "NotResource" in statement:
            problems.append(f"{where} allows NotResource, i.e. every resource but a few: list "
                            "the resources instead")
        actions = strings(statement.get("Action"))
        wildcards = [a for a in actions if a == "*" or SERVICE_WILDCARD.match(a)]
        problems.extend(f"{where} allows action {a!r}: name the actions the instance needs"
                        for a in wildcards)
        if "*" in strings(statement.get("Resource")):
            restrictable = [a for a in actions if a not in wildcards and not _star_only(a)]
            if restrictable:
                problems.append(f"{where} grants {', '.join(restrictable)} on Resource \"*\": "
                                "these actions support resource ARNs, so scope them")
    return problems


def iam_no_wildcards(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No "*" (or "service:*") action and no "*" resource except for actions that need it."""
    problems = []
    for label, document in _policy_documents(resource_type, props):
        problems.extend(_statement_problems(label, document))
    return problems
