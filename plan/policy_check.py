"""The policy pack run over a stack's offline plan: what `pulumi preview --policy-pack policy`
would report, without the CLI, a backend or credentials.

Registrations from the mock engine are handed to each policy the way pulumi_policy's analyzer
hands engine requests over (policy/offline.py): through a protobuf Struct, behind the proxy that
raises on unknown values, at the enforcement level and settings of ``policy/<stack>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import config as runtime_config
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from contracts.stack_file import MAX_BYTES
from mock_engine import ROOT, SECRET, Registration, stack_config
from mock_engine import UNKNOWN as MOCK_UNKNOWN
from plan.errors import PlanError
from policy.offline import (
    UNKNOWN,
    policy_config,
    policy_resource,
    resource_args,
    run_resource_policy,
    run_stack_policy,
)
from policy.pack import POLICIES, enforcement_for_stack


@dataclass(frozen=True)
class Finding:
    policy: str
    level: EnforcementLevel
    message: str
    urn: str | None

    @property
    def blocks(self) -> bool:
        return self.level == EnforcementLevel.MANDATORY


def to_wire(value: Any) -> Any:
    """Recorded values as the analyzer receives them: unknowns as the engine's unknown marker.

    A policy pack sees secrets in plain text; the plan has only placeholders, so a neutral
    stand-in goes in their place and no placeholder ever reaches a policy's message.
    """
    if value is MOCK_UNKNOWN:
        return UNKNOWN
    if value is SECRET:
        return "placeholder"
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def pack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """``policy/<stack>.json``, the --policy-pack-config the stack runs with (none: defaults)."""
    path = root / "policy" / f"{stack}.json"
    if not path.exists():
        return {}
    try:
        data = path.read_bytes()
        if len(data) > MAX_BYTES:
            raise ValueError(f"{len(data)} bytes is over the {MAX_BYTES}-byte limit")
        document = json.loads(data.decode())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise PlanError(f"policy/{stack}.json: is not readable JSON "
                        f"({str(e).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise PlanError(f"policy/{stack}.json: the top level must be an object of policy "
                        "name -> config")
    return document


def stack_resources(registrations: Sequence[Registration]) -> list[PolicyResource]:
    # A stack policy sees each resource's outputs: the inputs plus what the provider computed.
    return [policy_resource(r.type, to_wire(r.outputs or r.inputs), name=r.name, urn=r.urn,
                            parent=r.parent or None)
            for r in registrations if r.custom]


@contextmanager
def stack_config_for_pack(stack: str, overrides: Mapping[str, Any] | None,
                          root: Path = ROOT) -> Iterator[None]:
    """Give the pack the stack's own config, as the CLI does through PULUMI_CONFIG."""
    config, _ = stack_config(stack, root=root, overrides=overrides, secrets=False)
    token = runtime_config.CONFIG.set(config)
    try:
        yield
    finally:
        runtime_config.CONFIG.reset(token)


def check(stack: str, registrations: Sequence[Registration], *,
          overrides: Mapping[str, Any] | None = None, root: Path = ROOT) -> list[Finding]:
    """Every violation the pack reports for these registrations, at the stack's levels."""
    document = pack_config(stack, root)
    default = enforcement_for_stack(stack)
    findings: list[Finding] = []
    resources = stack_resources(registrations)
    with stack_config_for_pack(stack, overrides, root):
        for policy in POLICIES:
            level, config = policy_config(document, policy)
            level = level or policy.enforcement_level or default
            if level == EnforcementLevel.DISABLED:
                continue
            if isinstance(policy, ResourceValidationPolicy):
                violations = [v for r in registrations if r.custom
                              for v in run_resource_policy(policy, resource_args(
                                  r.type, to_wire(r.inputs), name=r.name, urn=r.urn,
                                  config=config))]
            elif isinstance(policy, StackValidationPolicy):
                violations = run_stack_policy(policy, resources, config)
            else:
                continue
            findings.extend(Finding(v.policy, level, v.message, v.urn) for v in violations)
    return sorted(findings, key=lambda f: (f.policy, f.urn or "", f.message))


def render(stack: str, findings: Sequence[Finding]) -> str:
    """Markdown: one row per violation, mandatory ones first."""
    if not findings:
        return f"Policy pack on `{stack}`: every rule passes.\n"
    blocking = sum(f.blocks for f in findings)
    lines = [f"Policy pack on `{stack}`: {len(findings)} violation(s), {blocking} blocking.", "",
             "| level | policy | resource | message |", "|---|---|---|---|"]
    for f in sorted(findings, key=lambda f: (not f.blocks, f.policy, f.urn or "")):
        resource = (f.urn or "(stack)").rsplit("::", 1)[-1]
        message = f.message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {f.level.value} | `{f.policy}` | `{resource}` | {message} |")
    return "\n".join(lines) + "\n"
