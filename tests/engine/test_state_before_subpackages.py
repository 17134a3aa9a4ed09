"""State written before components/ had subsystem packages still previews, refreshes and destroys.

Pulumi pickles each dynamic provider into state by module path (`components.kv_provider`,
`components.prepared_query`), and the components' type tokens are in every URN. The first `up`
runs the code of commit BEFORE, taken from git history, in its own process; the later steps run
today's code on the same stack. Real: the Pulumi CLI and engine, the dynamic provider host.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from components.consul.kv import ConsulConnection, ConsulKv, ConsulKvArgs
from components.consul.prepared_query import PreparedQueries, PreparedQueriesArgs
from tests.engine.workspace import ROOT, Captured, engine_env, inline_stack
from tests.real_consul import ConsulAgent

pytestmark = [pytest.mark.integration, pytest.mark.engine]

BEFORE = "8932c38"  # the last commit with every component module directly in components/
PROJECT = "webtier-layout"
STACK = "before"
SERVICE = "layoutweb"
ENTRIES = {"service/port": "8080", "feature/flag": "on"}


def program(address: str, prefix: str, token: str) -> None:
    """The same resources in both trees: KV entries and one failover query."""
    ConsulKv("kv", ConsulKvArgs(prefix=prefix, entries=dict(ENTRIES),
                                connection=ConsulConnection(address=address, token=token)))
    PreparedQueries("queries", PreparedQueriesArgs(
        services=[SERVICE], peers=["dc2"], datacenter="dc1", address=address, token=token,
        ca_pem=None))


# Run by the old tree's Python path: the same program, importing the old module paths.
OLD_RUN = """
import sys
from pulumi import automation as auto
import pulumi
from components.consul_kv import ConsulConnection, ConsulKv, ConsulKvArgs
from components.prepared_query import PreparedQueries, PreparedQueriesArgs
from tests.engine.workspace import inline_stack
from pathlib import Path
from typing import Any
address, tmp, prefix, token = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def program():
    ConsulKv("kv", ConsulKvArgs(prefix=prefix, entries={entries!r},
             connection=ConsulConnection(address=address, token=token)))
    PreparedQueries("queries", PreparedQueriesArgs(services=[{service!r}], peers=["dc2"],
        datacenter="dc1", address=address, token=token, ca_pem=None))
inline_stack(tmp, {project!r}, {stack!r}, program).up()
"""


def old_tree(into: Path) -> Path:
    """components/ and contracts/ as they were at BEFORE; a shallow clone fails here, naming why."""
    archive = subprocess.run(["git", "archive", "--format=tar", BEFORE, "components", "contracts"],
                             cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"commit {BEFORE} is not in this clone's history (a shallow clone?): "
                    "run `git fetch --unshallow`", pytrace=False)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / "tests").symlink_to(ROOT / "tests")
    return into


def test_state_from_before_the_move_previews_refreshes_and_destroys(
        tmp_path: Path, consul_agent: ConsulAgent) -> None:
    address, token = consul_agent.address, consul_agent.management_token
    prefix = consul_agent.fresh_prefix()
    old = old_tree(tmp_path / "old")
    script = OLD_RUN.format(entries=ENTRIES, service=SERVICE, project=PROJECT, stack=STACK)
    # The token goes through argv of a child of this test only, never into output or state text.
    ran = subprocess.run([sys.executable, "-c", script, address, str(tmp_path / "eng"), prefix,
                          token],
                         cwd=old, capture_output=True, text=True, check=False, timeout=600,
                         env={**os.environ, **engine_env(tmp_path / "eng"),
                              "PYTHONPATH": str(old)})
    assert ran.returncode == 0, ran.stderr[-2000:]
    stack = inline_stack(tmp_path / "eng", PROJECT, STACK, lambda: program(address, prefix, token))
    # The state names the old module paths: the aliases are what make the steps below work.
    assert pickled_modules(stack.export_stack().deployment) == {
        b"components.kv_provider", b"components.prepared_query"}

    previewed = stack.preview(on_output=Captured())
    assert set(previewed.change_summary) == {"same"}, previewed.stdout

    refreshed = stack.refresh(on_output=Captured())
    assert set(refreshed.summary.resource_changes or {}) <= {"same"}, refreshed.stdout

    def kv_keys() -> set[str]:
        listed = consul_agent.api("GET", f"/v1/kv/{prefix}/", params={"keys": ""})
        return set(listed.json()) if listed.status_code == 200 else set()

    def queries() -> list[str]:
        return [q["Name"] for q in consul_agent.api("GET", "/v1/query").json()
                if q["Name"].startswith(SERVICE)]

    written = {f"{prefix}/{k}" for k in ENTRIES}
    assert written <= kv_keys()
    assert queries() == [f"{SERVICE}-failover"]
    destroyed = stack.destroy(on_output=Captured())
    assert destroyed.summary.resource_changes == {"delete": 5}
    assert not written & kv_keys()
    assert queries() == []


def pickled_modules(deployment: dict[str, Any]) -> set[bytes]:
    """The module path each dynamic resource's pickled provider names."""
    found = set()
    for resource in deployment.get("resources", []):
        provider = resource.get("inputs", {}).get("__provider")
        if isinstance(provider, dict):  # a secret: the export holds it as JSON plaintext
            provider = json.loads(provider["plaintext"])
        if provider:
            raw = base64.b64decode(provider)
            found |= {m for m in (b"components.kv_provider", b"components.prepared_query",
                                  b"components.consul.") if m in raw}
    return found
