"""The deploy state's KV keys, from the stack's KV prefix as written in config."""

from __future__ import annotations

from contracts.release_layout import DeployKeys, deploy_keys, node_release_key


def test_deploy_keys_drop_the_prefixs_slashes_on_both_sides() -> None:
    # "X" at the prefix's edges: only slashes are trimmed, not any other character.
    base = "webtier/X/deploy/web"
    assert deploy_keys("/webtier/X/", "web") == DeployKeys(
        f"{base}/current", f"{base}/previous", f"{base}/history", f"{base}/nodes/",
        f"{base}/canary")
    assert deploy_keys("X/staging", "web").current == "X/staging/deploy/web/current"


def test_a_node_reports_under_the_nodes_folder() -> None:
    assert node_release_key("/webtier/staging/", "web", "web-i-0abc") == \
        "webtier/staging/deploy/web/nodes/web-i-0abc"
