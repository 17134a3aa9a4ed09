"""What instances fetch from SSM at boot: the secrets as SecureString parameters from secret
config, and the Consul CA certificate (public) as a String when the stack turns TLS on.

User data names these parameters; it never carries their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.node_secrets import (
    AGENT_TOKEN_PARAMETER,
    CA_CERT_PARAMETER,
    GOSSIP_KEY_PARAMETER,
    TEMPLATE_TOKEN_PARAMETER,
)


@dataclass(frozen=True)
class NodeSecretsArgs:
    ssm_prefix: str
    gossip_key: pulumi.Input[str]
    agent_token: pulumi.Input[str]
    template_token: pulumi.Input[str]
    tags: Mapping[str, str]
    ca_cert: str | None = None
    """PEM of the Consul servers' CA; None when the stack runs without TLS."""


class NodeSecrets(pulumi.ComponentResource):
    parameter_names: pulumi.Output[list[str]]
    """Full names of the SSM parameters the instances read."""

    def __init__(self, name: str, args: NodeSecretsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:node_secrets:NodeSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = []
        for role, suffix, value in (
            ("gossip-key", GOSSIP_KEY_PARAMETER, args.gossip_key),
            ("agent-token", AGENT_TOKEN_PARAMETER, args.agent_token),
            ("template-token", TEMPLATE_TOKEN_PARAMETER, args.template_token),
        ):
            parameter = aws.ssm.Parameter(
                f"{name}-{role}",
                name=f"{args.ssm_prefix}/{suffix}",
                type="SecureString",
                # Wrap again so the value is a secret even if a caller passed a plain string.
                value=pulumi.Output.secret(value),
                tags=dict(args.tags),
                opts=child,
            )
            names.append(parameter.name)
        if args.ca_cert is not None:
            ca = aws.ssm.Parameter(
                f"{name}-ca-cert",
                name=f"{args.ssm_prefix}/{CA_CERT_PARAMETER}",
                # A certificate is public; a plain String keeps it readable in the plan.
                type="String",
                value=args.ca_cert,
                tags=dict(args.tags),
                opts=child,
            )
            names.append(ca.name)
        self.parameter_names = pulumi.Output.all(*names).apply(list)
        self.register_outputs({"parameterNames": self.parameter_names})
