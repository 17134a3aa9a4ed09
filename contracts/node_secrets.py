"""Where a node's secrets live: SSM parameter names under the stack's prefix.

The node-secrets component (components/access/node_secrets.py) writes them; boot user data
(components/fleet/user_data.py) reads them with the instance role. Both use these names.
"""

from __future__ import annotations

GOSSIP_KEY_PARAMETER = "consul/gossip-key"
AGENT_TOKEN_PARAMETER = "consul/agent-token"
TEMPLATE_TOKEN_PARAMETER = "consul/template-token"
CA_CERT_PARAMETER = "consul/ca-cert"
