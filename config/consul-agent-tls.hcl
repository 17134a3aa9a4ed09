# TLS for a Consul client agent. Baked inert into /etc/consul.d/tls/agent-tls.hcl (Consul does
# not read subfolders of its config dir); the user data copies it to /etc/consul.d/tls.hcl when
# webtier:consul.tls.enabled is true, after writing the CA certificate from SSM to ca_file.
#
# No certificate or key is configured: with auto_encrypt the servers sign a certificate for this
# agent at join time (they need `auto_encrypt { allow_tls = true }`), so no CA key and no agent
# key is ever on disk here. The servers may then enforce verify_incoming on RPC.

tls {
  defaults {
    # The CA that signed the servers' certificates (public); written at boot, never baked.
    ca_file         = "/etc/consul.d/tls/ca.pem"
    verify_outgoing = true
  }
  internal_rpc {
    # Only a certificate for server.<datacenter>.<domain> may act as a server.
    verify_server_hostname = true
  }
}

auto_encrypt {
  tls = true
}
