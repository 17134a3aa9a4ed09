"""The boot script every instance runs: join Consul, fetch secrets from SSM, pull the release.

Pure: settings in, script text out. Secrets are fetched at boot by parameter *name*; no secret
value can reach this text because the builder never receives one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts import consul_agent, lifecycle, release_layout
from contracts.escaping import UnsafeValue, env_line, hcl_string, heredoc, shell_word, url_path
from contracts.node_secrets import (
    AGENT_TOKEN_PARAMETER,
    CA_CERT_PARAMETER,
    GOSSIP_KEY_PARAMETER,
    TEMPLATE_TOKEN_PARAMETER,
)


@dataclass(frozen=True)
class BootSettings:
    """What an instance must know at boot; every field is safe to appear in user data."""

    environment: str
    app: str
    region: str
    datacenter: str
    kv_prefix: str
    release_bucket: str
    deploy_pointer_key: str
    ssm_prefix: str
    join_tag_key: str
    join_tag_value: str
    node_name_prefix: str
    tls: bool = False
    """Turn on the baked TLS block and write the CA certificate from SSM."""
    advertise_addr_wan: str = "none"
    """"public-ipv4": advertise the instance's public address to other datacenters."""
    hooks: LifecycleBoot | None = None
    """The group's lifecycle hooks; None: the instance completes none (no hooks defined)."""
    service: AppService | None = None
    """The app's Consul service and HTTP check; None: the app is not registered in Consul."""
    restart_concurrency: int = 1
    """Nodes that restart the app at once after consul-template renders new config."""


@dataclass(frozen=True)
class AppService:
    """The Consul service the app registers as, so each node's health is visible in Consul."""

    port: int
    health_path: str
    interval: int
    timeout: int


def service_hcl(app: str, stack: str, service: AppService, token: str) -> str:
    """/etc/consul.d/app-service.hcl: the app as a Consul service with an HTTP check.

    ``token`` is HCL-quoted text for the service's own `token` (boot passes a shell expansion):
    Consul 1.14 syncs a config-file service with that token, else the default (anonymous) one,
    never the agent token; 1.15+ would also try `config_file_service_registration`.
    """
    name = hcl_string(release_layout.service_name(app, stack))
    url = hcl_string(f"http://127.0.0.1:{service.port}{url_path(service.health_path)}")
    return (f"service {{\n  name = {name}\n  port = {service.port}\n  token = {token}\n"
            f"  check {{\n    id       = \"app-health\"\n    http     = {url}\n"
            f"    interval = \"{service.interval}s\"\n    timeout  = \"{service.timeout}s\"\n"
            "  }\n}\n")


def watch_hcl(event: str, token: str) -> str:
    """/etc/consul.d/watch-deploy.hcl: the stack's deploy ``event`` runs the image's handler
    through sudo (sudoers lets `consul` run exactly it). A watch without its own `token` runs with
    the default (anonymous) token and never sees an event; ``token`` is HCL-quoted like above."""
    handler = hcl_string(consul_agent.DEPLOY_HANDLER)
    return (f"watches = [\n  {{\n    type  = \"event\"\n"
            f"    name  = {hcl_string(event)}\n    token = {token}\n"
            f"    args  = [\"/usr/bin/sudo\", \"-n\", {handler}]\n  }}\n]\n")


def _consul_file(path: str, text: str, marker: str) -> str:
    """Shell that writes an agent file with $agent_token expanded (and nothing else: $, ` and \\
    in the text are escaped), readable by the consul group only."""
    body = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
    body = body.replace("\\$AGENT_TOKEN", "$agent_token")
    return (f"cat > {path} <<{marker}\n{body}{marker}\nchown root:consul {path}\n"
            f"chmod 0640 {path}\n")


@dataclass(frozen=True)
class LifecycleBoot:
    """What lifecycle-hook needs: where the app answers and how long it may take. No target
    group and no drain time: the group drains a terminating instance before Terminating:Wait."""

    health_url: str
    launch_deadline: int


def _lifecycle_env(boot: BootSettings) -> str:
    h = boot.hooks
    assert h is not None
    return "\n".join(env_line(k, v) for k, v in (
        ("AWS_REGION", boot.region),
        ("LAUNCH_HOOK", lifecycle.LAUNCH_HOOK),
        ("TERMINATE_HOOK", lifecycle.TERMINATE_HOOK),
        ("HEALTH_URL", h.health_url),
        ("LAUNCH_DEADLINE", h.launch_deadline),
    ))


def _restart_env(boot: BootSettings) -> list[tuple[str, object]]:
    """What app-config-restart (run when consul-template rendered new config) needs: the stack's
    restart semaphore and its limit, and the health it waits for before the next node goes."""
    env: list[tuple[str, object]] = [
        ("RESTART_LOCK_PREFIX", release_layout.restart_lock_prefix(boot.kv_prefix, boot.app)),
        ("RESTART_CONCURRENCY", boot.restart_concurrency)]
    if boot.service is not None:
        env += [("APP_SERVICE", release_layout.service_name(boot.app, boot.environment)),
                ("APP_HEALTH_URL",
                 f"http://127.0.0.1:{boot.service.port}{url_path(boot.service.health_path)}"),
                ("APP_CHECK_INTERVAL", boot.service.interval)]
    return env


IMDS = "http://169.254.169.254/latest"
CONFIG_WAIT = 60
"""Seconds boot waits for consul-template's first render before it starts the app anyway."""
# A Consul node name is a DNS label: boot joins it to the instance id in node.env and node.hcl.
NODE_NAME_PREFIX = re.compile(r"[A-Za-z0-9-]*")


def render(boot: BootSettings) -> str:
    if not NODE_NAME_PREFIX.fullmatch(boot.node_name_prefix):
        raise UnsafeValue(f"node name prefix {boot.node_name_prefix!r}: a Consul node name is "
                          "letters, digits and '-'")
    deploy_event = release_layout.deploy_event(boot.app, boot.environment)
    node_env = "\n".join(env_line(k, v) for k, v in (
        ("WEBTIER_ENV", boot.environment),
        ("APP_NAME", boot.app),
        ("AWS_REGION", boot.region),
        ("CONSUL_DATACENTER", boot.datacenter),
        ("KV_PREFIX", boot.kv_prefix),
        ("RELEASE_BUCKET", boot.release_bucket),
        ("DEPLOY_POINTER_KEY", boot.deploy_pointer_key),
        # Each node reports the release it runs under NODES_PREFIX<node> (release-pull).
        ("NODES_PREFIX", release_layout.deploy_keys(boot.kv_prefix, boot.app).nodes),
        # The event the watch runs the handler on; the handler acts on events of this name only.
        ("DEPLOY_EVENT", deploy_event),
        ("SSM_PREFIX", boot.ssm_prefix),
        ("CONSUL_NODE_NAME_PREFIX", boot.node_name_prefix),
        *_restart_env(boot),
    ))
    hooks_env = hooks_end = ""
    if boot.hooks is not None:
        env_file = lifecycle.LIFECYCLE_ENV
        hooks_env = (f"\n{heredoc(env_file, 'LIFECYCLE_ENV', _lifecycle_env(boot))}"
                     f"chmod 0644 {env_file}\n")
        hooks_end = ("# Terminating: drain and leave Consul first. Launching: the group waits in\n"
                     "# Pending:Wait until this instance says it is healthy (or abandons it).\n"
                     "systemctl enable --now lifecycle-watch.service\n"
                     "/usr/local/bin/lifecycle-hook launch\n")
    token = '"$AGENT_TOKEN"'
    service = ""
    if boot.service is not None:
        service = _consul_file(consul_agent.SERVICE_CONFIG, service_hcl(
            boot.app, boot.environment, boot.service, token), "APP_SERVICE")
        if boot.hooks is not None:
            service += _park_while_warming()
    node_config = consul_agent.NODE_CONFIG
    return f"""#!/bin/bash
# webtier boot: the image holds everything but the environment, the secrets and the release.
set -euo pipefail
umask 077
install -d -m 0755 /etc/webtier

{heredoc("/etc/webtier/node.env", "NODE_ENV", node_env)}chmod 0644 /etc/webtier/node.env
. /etc/webtier/node.env
{hooks_env}
# Secrets come from SSM SecureString parameters at boot, never through this script.
param() {{
  aws ssm get-parameter --region "$AWS_REGION" --with-decryption \\
    --name "$SSM_PREFIX/$1" --query Parameter.Value --output text
}}

# IMDSv2 only (the launch template requires a session token).
imds_session="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' \\
  {IMDS}/api/token)"
imds() {{
  curl -fsS -H "X-aws-ec2-metadata-token: $imds_session" "{IMDS}/meta-data/$1"
}}
instance_id="$(imds instance-id)"

# The node name carries the stack, so the agent token's node_prefix rule covers this stack only;
# release-pull reports under the same name (node.env), and deploy counts nodes by node_meta.
# Every value is written here, escaped once; only the instance id comes at boot, checked first.
[[ "$instance_id" =~ ^i-[0-9a-f]{{8,17}}$ ]] || {{
  echo "webtier boot: IMDS instance-id is not an instance id" >&2
  exit 1
}}
CONSUL_NODE_NAME="$CONSUL_NODE_NAME_PREFIX$instance_id"
printf 'CONSUL_NODE_NAME=%s\\n' "$CONSUL_NODE_NAME" >> /etc/webtier/node.env
{heredoc(node_config, "NODE_HCL", node_hcl(boot))}printf 'node_name  = "%s%s"\\n' \\
  {shell_word(hcl_string(boot.node_name_prefix)[1:-1])} "$instance_id" >> {node_config}
# umask 077 made it 0600 root:root: the agent runs as consul.
chown root:consul {node_config}
chmod 0640 {node_config}

# One token for everything the node does itself (consul_tokens/model.py): the agent's syncs,
# the app's registration, the deploy watch, release-pull's report and the lifecycle leave.
gossip_key="$(param {GOSSIP_KEY_PARAMETER})"
agent_token="$(param {AGENT_TOKEN_PARAMETER})"
printf 'encrypt = "%s"\\nacl {{\\n  tokens {{\\n    agent = "%s"\\n  }}\\n}}\\n' \\
  "$gossip_key" "$agent_token" > {consul_agent.SECRETS_CONFIG}
chown root:consul {consul_agent.SECRETS_CONFIG}
chmod 0640 {consul_agent.SECRETS_CONFIG}
{service}{_consul_file(consul_agent.WATCH_CONFIG, watch_hcl(deploy_event, token), "WATCH_DEPLOY")}\
printf 'CONSUL_HTTP_TOKEN=%s\\n' "$agent_token" > {consul_agent.NODE_TOKEN_ENV}
chmod 0600 {consul_agent.NODE_TOKEN_ENV}
unset gossip_key agent_token

printf 'CONSUL_HTTP_TOKEN=%s\\n' "$(param {TEMPLATE_TOKEN_PARAMETER})" \\
  > /etc/webtier/consul-template.env
chmod 0600 /etc/webtier/consul-template.env
{_tls(boot)}{_wan(boot)}
systemctl enable --now consul.service
# The app's config is rendered from KV before the release starts the app (release-pull's switch
# starts it), so the app never runs without it and needs no restart under app-config-restart's
# slot once the launch hook has seen it healthy. Bounded: a missing key must not hold the boot;
# the launch hook then judges the app's health.
systemctl enable --now consul-template.service
for _ in $(seq 1 {CONFIG_WAIT}); do
  [[ -s {release_layout.APP_CONFIG} ]] && break
  sleep 1
done
/usr/local/bin/release-pull
# Every later boot pulls again: deploys fired while the instance was off are not replayed to it.
systemctl enable release-pull.service
systemctl enable --now app.service
{hooks_end}"""


def _park_while_warming() -> str:
    """Warmed for the pool, the instance runs and checks the app but is no node of the service:
    nothing may route to it or wait for it before it leaves the pool (lifecycle-hook registers
    it then). Read before the agent starts, so it is never registered, not even briefly."""
    live, parked = consul_agent.SERVICE_CONFIG, consul_agent.POOLED_SERVICE_CONFIG
    return ("case \"$(imds autoscaling/target-lifecycle-state || true)\" in\n"
            f"  Warmed:*) mv {live} {parked} ;;\nesac\n")


def _tls(boot: BootSettings) -> str:
    if not boot.tls:
        return ""
    ca, block = consul_agent.CA_FILE, consul_agent.TLS_TEMPLATE
    return f"""
# TLS: the CA certificate (public) comes from SSM; the agent gets its own certificate from the
# servers (auto_encrypt), so no key is ever written here.
param {CA_CERT_PARAMETER} > {ca}
grep -q 'BEGIN CERTIFICATE' {ca} || {{
  echo "webtier boot: SSM $SSM_PREFIX/{CA_CERT_PARAMETER} holds no PEM certificate" >&2
  exit 1
}}
chown root:consul {ca}
chmod 0644 {ca}
install -m 0640 -o root -g consul {block} {consul_agent.TLS_CONFIG}
"""


def _wan(boot: BootSettings) -> str:
    if boot.advertise_addr_wan != "public-ipv4":
        return ""
    return f"""
# Other datacenters' servers (translate_wan_addrs) hand out this address for this node.
public_ip="$(imds public-ipv4)" || {{
  echo "webtier boot: webtier:consul.wan.advertiseAddrWan is public-ipv4 but this instance" \\
    "has no public IPv4 address" >&2
  exit 1
}}
printf 'advertise_addr_wan = "%s"\\n' "$public_ip" > {consul_agent.WAN_CONFIG}
chown root:consul {consul_agent.WAN_CONFIG}
chmod 0640 {consul_agent.WAN_CONFIG}
"""



def node_hcl(boot: BootSettings) -> str:
    """/etc/consul.d/node.hcl without node_name, which needs the instance id known at boot."""
    retry_join = f"provider=aws tag_key={boot.join_tag_key} tag_value={boot.join_tag_value}"
    return (f"datacenter = {hcl_string(boot.datacenter)}\n"
            f"node_meta {{\n  environment = {hcl_string(boot.environment)}\n"
            f"  app         = {hcl_string(boot.app)}\n}}\n"
            f"retry_join = [{hcl_string(retry_join)}]\n")
