"""Where releases live: the bucket, its S3 keys, and the deploy keys and event in Consul.

The instance scripts cannot import this (they run on the instances): they get the pointer key,
bucket and prefix from node.env, which the stack renders from these functions, and a test proves
the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.names import resource_prefix

# The Consul user event an older release fired for every stack alike; a node whose node.env names
# no DEPLOY_EVENT (user data rendered before the event was per stack) still watches this one.
LEGACY_DEPLOY_EVENT = "deploy"

# Where the app's releases live on an instance (releases/<id>, the `current` link, shared/): the
# image's app role creates it, and stretcher manifests name it literally (stretcher 1.1 renders
# no templates in a manifest).
APP_ROOT = "/opt/app"
APP_CONFIG_DIR = f"{APP_ROOT}/shared/config"
"""Where consul-template renders the app's config files (config/consul-template.hcl)."""
APP_CONFIG = f"{APP_CONFIG_DIR}/app.toml"
"""The config the app reads: boot starts the app only once consul-template has rendered it."""


def default_release_bucket(app: str, stack: str, account_id: str) -> str:
    """The release bucket a stack creates when webtier:release.bucketName is not set.

    The stack and the deploy command both name it with this one function.
    """
    return f"{app}-{stack}-releases-{account_id}"


def release_prefix(app: str) -> str:
    """S3 key prefix of every object of an app; the instance role may read only below it."""
    return f"releases/{app}"


def archive_key(app: str, release_id: str) -> str:
    return f"{release_prefix(app)}/{release_id}/{app}.tar.gz"


def manifest_key(app: str, release_id: str) -> str:
    return f"{release_prefix(app)}/{release_id}/manifest.yml"


DEPLOY_FOLDER = "deploy"
"""The folder under a stack's KV prefix that holds the deploy state: the deploy tool's and the
nodes' alone (the settings refuse KV values there and the kv-writer token is denied it)."""


def deploy_folder(kv_prefix: str) -> str:
    return f"{kv_prefix.strip('/')}/{DEPLOY_FOLDER}/"


def deploy_key_base(kv_prefix: str, app: str) -> str:
    """KV folder of an app's deploy state, under the stack's KV prefix."""
    return f"{deploy_folder(kv_prefix)}{app}"


@dataclass(frozen=True)
class DeployKeys:
    """The KV keys of an app's deploy state.

    current   the manifest URL instances deploy (read raw at boot by release-pull)
    previous  the URL `current` held before its last change
    history   JSON list of pushed releases, newest first (what rollback walks)
    nodes     folder of one key per node, `nodes/<node>` = JSON {release, manifest, since}:
              the release the node runs, written by the node itself (release-pull)
    canary    JSON record of the canary in flight, created with CAS index 0: the deploy lock
    """

    current: str
    previous: str
    history: str
    nodes: str
    canary: str


def deploy_keys(kv_prefix: str, app: str) -> DeployKeys:
    base = deploy_key_base(kv_prefix, app)
    return DeployKeys(f"{base}/current", f"{base}/previous", f"{base}/history",
                      f"{base}/nodes/", f"{base}/canary")


def node_release_key(kv_prefix: str, app: str, node: str) -> str:
    """The key a node reports its release under; node.env carries the folder as NODES_PREFIX."""
    return f"{deploy_keys(kv_prefix, app).nodes}{node}"


def restart_lock_prefix(kv_prefix: str, app: str) -> str:
    """The semaphore (`consul lock -n`) the nodes restart the app under after a KV change, so
    only restartConcurrency nodes restart at once; node.env carries it as RESTART_LOCK_PREFIX.
    Under the deploy folder, so `pulumi up` can never write or delete its keys."""
    return f"{deploy_key_base(kv_prefix, app)}/restart"


def deploy_event(app: str, stack: str) -> str:
    """The Consul user event a deploy of the stack fires; its nodes' watch handler runs on it.

    Per stack, so on a Consul cluster two stacks share, one's deploy never wakes the other's
    watches and the deploy token's `event` rule (write on this exact name) fires no other."""
    return f"{resource_prefix(app, stack)}-deploy"


def service_name(app: str, stack: str) -> str:
    """The Consul service the stack's app registers as (its HTTP check is the node's app
    health). Per stack, so a node's agent token (`service` write on this name) cannot register
    into another stack's service, which its health checks and failover queries would then count."""
    return resource_prefix(app, stack)
