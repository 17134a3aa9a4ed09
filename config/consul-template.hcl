# consul-template on every node: renders the app's config files from Consul KV.
# Installed to /etc/consul-template.d/ by the image (image/ansible/roles/consul_template); the
# templates it names are copied from config/templates/ to /etc/webtier/templates/.
#
# Runtime environment (consul-template.service):
#   /etc/webtier/node.env            KV_PREFIX (app/<stack>), WEBTIER_ENV, … written by user data
#   /etc/webtier/consul-template.env CONSUL_HTTP_TOKEN (mode 0600), written at boot from SSM
# The token is never in this file: consul-template reads CONSUL_HTTP_TOKEN from the environment.

consul {
  # The local client agent (consul.service); it forwards KV reads to the servers, over TLS when
  # the stack turns it on. Plain HTTP here on purpose: loopback only, see consul-agent.hcl.
  address = "127.0.0.1:8500"

  retry {
    enabled     = true
    attempts    = 12
    backoff     = "250ms"
    max_backoff = "1m"
  }
}

# Never debug or trace: at those levels consul-template logs its final config, token included.
log_level     = "info"
kill_signal   = "SIGINT"
reload_signal = "SIGHUP"

# Coalesce bursts of KV writes (one `pulumi up` writes many keys) into one render and one restart.
wait {
  min = "5s"
  max = "30s"
}

# After a render the app is restarted by app-config-restart.service (image role consul_template):
# at most webtier:consul.restartConcurrency nodes at once, each holding its slot of a Consul
# semaphore until the app's /health and Consul check pass, so a KV change rolls instead of
# restarting every node together (consul-template #337). --no-block: the wait for a slot is the
# unit's, not this render loop's. A render while the unit runs starts nothing new: the unit
# takes another turn itself when the files changed during its own.

# The app's config: carries the database password, so only the app user may read it.
template {
  source               = "/etc/webtier/templates/app.toml.ctmpl"
  destination          = "/opt/app/shared/config/app.toml"
  perms                = 0600
  user                 = "app"
  group                = "app"
  create_dest_dirs     = true
  error_on_missing_key = true
  backup               = false
  command              = "systemctl start --no-block app-config-restart.service"
  command_timeout      = "60s"
}

# Feature flags the front end fetches as a static file: no secrets.
template {
  source               = "/etc/webtier/templates/features.json.ctmpl"
  destination          = "/opt/app/shared/config/features.json"
  perms                = 0644
  user                 = "app"
  group                = "app"
  create_dest_dirs     = true
  error_on_missing_key = true
  backup               = false
  command              = "systemctl start --no-block app-config-restart.service"
  command_timeout      = "60s"
}
