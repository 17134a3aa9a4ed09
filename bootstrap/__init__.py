"""Bootstrap an AWS account for the stacks: state bucket, secrets key, GitHub OIDC roles."""
