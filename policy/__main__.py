"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine> .` from policy/).

The CLI starts the pack once per stack with PULUMI_STACK set, and pulumi.policy's runner passes it
to pulumi.runtime before running this file, so pulumi.get_stack() is the stack being previewed or
updated. Its enforcement level becomes every policy's default; a --policy-pack-config file
(policy/<stack>.json) can still override it per policy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
from pulumi_policy import PolicyPack

# runpy puts only policy/ on sys.path; the rules import as the `policy` package, as in the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.pack import PACK_NAME, POLICIES, enforcement_for_stack

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=enforcement_for_stack(pulumi.get_stack()),
    description="webtier: launch hardening, network exposure, IAM scope and fleet wiring rules.",
)
