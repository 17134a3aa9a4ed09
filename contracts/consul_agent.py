"""Where a node's Consul agent keeps its TLS files and what it is named: shared by the stack's
user data, the image's role, the token command and the tests.

The CA certificate is public (it only lets an agent verify the servers); the private CA key never
reaches a node, because auto_encrypt has the servers sign each client's certificate.
"""

from __future__ import annotations

from contracts import names

CONFIG_DIR = "/etc/consul.d"
# Consul reads only the top level of its config dir, so files below tls/ are inert until boot
# copies the TLS block up beside consul.hcl.
TLS_DIR = f"{CONFIG_DIR}/tls"
CA_FILE = f"{TLS_DIR}/ca.pem"
TLS_TEMPLATE = f"{TLS_DIR}/agent-tls.hcl"
"""The baked TLS block (config/consul-agent-tls.hcl); inert where it is installed."""
TLS_CONFIG = f"{CONFIG_DIR}/tls.hcl"
"""Where boot puts the TLS block when the stack turns TLS on."""
WAN_CONFIG = f"{CONFIG_DIR}/wan.hcl"

# Stacks whose agents must verify the servers: settings refuse TLS off there.
TLS_REQUIRED_STACKS = frozenset({"production"})


def node_name_prefix(app: str, stack: str) -> str:
    """Every node of a stack is named <prefix><instance id>, so one `node_prefix` rule covers
    the stack's nodes and no other stack's."""
    return f"{names.resource_prefix(app, stack)}-"

NODE_CONFIG = f"{CONFIG_DIR}/node.hcl"
SECRETS_CONFIG = f"{CONFIG_DIR}/secrets.hcl"
SERVICE_CONFIG = f"{CONFIG_DIR}/app-service.hcl"
POOLED_SERVICE_CONFIG = f"{SERVICE_CONFIG}.pooled"
"""Where boot parks the service file of an instance warmed for the pool (the agent loads only
*.hcl and *.json): a warming node is not in the app's service. lifecycle-hook moves it back and
reloads the agent when the instance leaves the pool, and parks it again when it returns."""
WATCH_CONFIG = f"{CONFIG_DIR}/watch-deploy.hcl"
"""The deploy watch: written at boot, because it carries the agent token (the watch's `token`)."""
DEPLOY_HANDLER = "/usr/local/bin/deploy-event-handler"
"""The watch's handler; the image's stretcher role installs it and lets consul sudo it."""
NODE_TOKEN_ENV = "/etc/webtier/node-token.env"
"""Root-only CONSUL_HTTP_TOKEN=<agent token>: release-pull's node report and the lifecycle hook's
`consul leave` send it (consul_tokens/model.py)."""
