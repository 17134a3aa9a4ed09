"""The web tier's Pulumi components, one subsystem per package, and the settings they trust.

- `settings/`: the typed stack settings, read and validated once, before any resource.
- `image/`: the golden image (Packer + Ansible through pulumi-command) and its inputs.
- `access/`: what may reach what: the instance role and its IAM documents, node secrets in SSM,
  the release bucket.
- `consul/`: the Consul side: the HTTP client, KV entries as a dynamic resource, prepared queries
  and the keys the templates read.
- `fleet/`: the instances and their rollout: load balancer, launch template and group, user data,
  scaling, health alarms, notifications and the rollout gate.

A subsystem imports only `settings`, `pulumi_sdk`, `contracts/` and its own modules; a fact two
subsystems share lives in `contracts/`. tests/test_layout.py holds them to it.
"""

from components import state_aliases

state_aliases.install()
