# Consul client agent on every node: the static part, baked into the image as
# /etc/consul.d/consul.hcl. Nothing here differs between staging and production.
#
# Written at boot by the user data, next to this file (never baked, never in this repo):
#   /etc/consul.d/node.hcl     (0644)  datacenter = "<stack datacenter>"
#                                      node_meta { environment = "<stack>", app = "<app>" }
#                                      retry_join = ["provider=aws tag_key=<key> tag_value=<value>"]
#   /etc/consul.d/secrets.hcl  (0640, owner consul)
#                                      encrypt = "<gossip key from SSM SecureString>"
#                                      acl { tokens { agent = "<agent token from SSM SecureString>" } }
# Consul merges every file in /etc/consul.d/ in lexical order.

server    = false
data_dir  = "/opt/consul"
log_level = "INFO"

# The HTTP API and DNS answer only on the node itself: consul-template, the deploy watch and
# dnsmasq (which forwards .consul to 127.0.0.1#8600) are all local.
client_addr = "127.0.0.1"
bind_addr   = "{{ GetPrivateIP }}"

ports {
  dns   = 8600
  http  = 8500
  https = -1
  grpc  = -1
}

# The gossip key comes from secrets.hcl; refuse unencrypted gossip either way.
encrypt_verify_incoming = true
encrypt_verify_outgoing = true

acl {
  enabled        = true
  default_policy = "deny"
  # Keep serving cached policies when the servers are unreachable instead of denying reads.
  down_policy = "extend-cache"
  # Tokens live only in secrets.hcl (mode 0640), never persisted into the data dir.
  enable_token_persistence = false
}

# Deploys arrive as `deploy` user events handled by a watch, not by remote exec.
disable_remote_exec  = true
enable_script_checks = false

# Leave the cluster cleanly when an Auto Scaling scale-in stops the instance.
leave_on_terminate = true
rejoin_after_leave = true

telemetry {
  disable_hostname = true
}
