# Consul client agent on every node: the static part, baked into the image as
# /etc/consul.d/consul.hcl. Nothing here differs between staging and production.
#
# Written at boot by the user data, next to this file (never baked, never in this repo):
#   /etc/consul.d/node.hcl     (0640, root:consul)  datacenter = "<stack datacenter>"
#                                      node_meta { environment = "<stack>", app = "<app>" }
#                                      retry_join = ["provider=aws tag_key=<key> tag_value=<value>"]
#   /etc/consul.d/secrets.hcl  (0640, owner consul)
#                                      encrypt = "<gossip key from SSM SecureString>"
#                                      acl { tokens { agent = "<agent token from SSM SecureString>" } }
#   /etc/consul.d/app-service.hcl, watch-deploy.hcl (0640, root:consul)  the app's service and
#                                      the deploy watch, each with the agent token as its `token`
#   /etc/consul.d/tls/ca.pem   (0644, root:consul)  the servers' CA certificate, from SSM
#   /etc/consul.d/tls.hcl      (0640)  a copy of the baked tls/agent-tls.hcl (config/consul-agent-
#                                      tls.hcl), only when webtier:consul.tls.enabled is true
#   /etc/consul.d/wan.hcl      (0640)  advertise_addr_wan = "<public IPv4 from IMDS>", only when
#                                      webtier:consul.wan.advertiseAddrWan is public-ipv4
# Consul merges every file at the top of /etc/consul.d/ in lexical order (not subfolders).

server    = false
data_dir  = "/opt/consul"
log_level = "INFO"

# The HTTP API and DNS answer only on the node itself: consul-template, the deploy watch and
# dnsmasq (which forwards .consul to 127.0.0.1#8600) are all local.
#
# TLS is for what crosses the network: RPC to the servers (tls.hcl, auto_encrypt). The local API
# stays plain HTTP on loopback on purpose: the bytes never leave the host, every local client
# (consul-template, the deploy watch, release-pull, dnsmasq) keeps working without a CA bundle,
# and ACL tokens still guard every call. No remote client talks to a node's agent (the program
# and the deploy command use the servers' HTTPS API), so HTTPS stays off here and no port beyond
# RPC and LAN gossip is opened to the cluster (contracts/consul_ports.py).
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

# Answers about another datacenter's nodes (DNS, catalog, the failover prepared query) carry
# their WAN address. The agent that *answers* translates, and the app asks this one.
translate_wan_addrs = true

# Deploys arrive as the stack's deploy user event handled by a watch, not by remote exec.
disable_remote_exec  = true
enable_script_checks = false

# A shutdown is not a leave: a node the group still holds in service but that was stopped,
# powered off or is rebooting must stay in the catalog (failed, its checks critical), so a deploy
# names it and waits for it instead of counting it out (the fleet harness's power-off scenario).
# Whenever the group takes an instance out (scale-in, back to the warm pool, warmed and about to
# be stopped), lifecycle-hook runs `consul leave` itself before completing the hook. A node that
# dies without leaving stays "failed" until the servers reap it after reconnect_timeout (a server
# setting, 72h by default); docs/consul.md says what that means for health, DNS and deploys.
leave_on_terminate = false
rejoin_after_leave = true

# A check's new output reaches the servers at once, not up to 5 minutes later: the app's /health
# body names the release it runs, and `deploy` reads it from the catalog. With the default
# check_update_interval (5m) a restart between two checks left the status passing and the
# catalog saying the old release, so a canary timed out on a node that ran the new one (found by
# the fleet harness's canary scenario). The body changes only with the release or the config,
# so this adds no steady write load (Consul's agent configuration reference).
check_update_interval = "0s"

telemetry {
  disable_hostname = true
}

# No call home: by default every agent asks checkpoint-api.hashicorp.com for updates (found by the
# fleet harness, tests/fleet_harness, where the call has nowhere to go).
disable_update_check = true
