"""The Consul double answers like a real Consul 1.14.11 agent, where the program looks.

The same script (tests/consul_agent/conformance_script.py) runs against the real agent
(tests/real_consul.py) and the double (tests/consul_double.py with its ACL and query
extensions); each step's status and the body parts the program reads must agree. Where they do
not, the step is listed in DIFFERENCES with the reason it is allowed: a difference found and
not listed fails, and so does a listed one that no longer differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.consul_agent.conformance_script import Observed, Target, run
from tests.consul_double import ConsulDouble
from tests.consul_double_acl import AclStore
from tests.consul_double_catalog import Catalog
from tests.real_consul import ConsulAgent

MANAGEMENT = "conformance-management-token"
PREFIX = f"webtier-test/conformance-{uuid.uuid4().hex[:8]}"
"""One prefix for both runs, so keys read back compare equal."""

DIFFERENCES: dict[str, str] = {
}
"""Step -> why the double may answer it differently (it serves faults, not these)."""


def _tokens(c: Target, prefix: str) -> tuple[str, str]:
    def make(rules: str) -> str:
        policy = c.send("PUT", "/v1/acl/policy", json={"Name": f"p-{uuid.uuid4().hex[:12]}",
                                                       "Rules": rules}).json()
        return str(c.send("PUT", "/v1/acl/token",
                          json={"Policies": [{"ID": policy["ID"]}]}).json()["SecretID"])

    return (make(f'key_prefix "{prefix}/" {{ policy = "read" }}'),
            make('key_prefix "somewhere-else/" { policy = "read" }'))


@pytest.fixture(scope="module")
def real(consul_agent: ConsulAgent) -> dict[str, Observed]:
    c = Target(consul_agent.address, consul_agent.management_token, consul_agent.verify)
    try:
        return run(c, PREFIX, *_tokens(c, PREFIX))
    finally:
        consul_agent.wipe(PREFIX)


@pytest.fixture(scope="module")
def double() -> Iterator[dict[str, Observed]]:
    with ConsulDouble(token=MANAGEMENT) as d:
        d.acl = AclStore()
        Catalog(d)
        c = Target(d.address, MANAGEMENT)
        yield run(c, PREFIX, *_tokens(c, PREFIX))


def test_the_script_covers_every_endpoint_the_program_calls(real: dict[str, Observed]) -> None:
    paths = {"kv put", "kv get", "kv recurse", "txn cas create", "event fire node filter",
             "health service none", "query update missing", "tokens by policy"}
    assert paths <= set(real)


def test_each_listed_difference_still_differs(real: dict[str, Observed],
                                              double: dict[str, Observed]) -> None:
    agreeing = [step for step in DIFFERENCES if real[step] == double[step]]
    assert agreeing == [], "these now agree: drop them from DIFFERENCES"


def test_the_double_answers_every_other_step_as_the_agent_does(
        real: dict[str, Observed], double: dict[str, Observed]) -> None:
    assert set(real) == set(double)
    differing = {step: {"agent": real[step], "double": double[step]}
                 for step in real if real[step] != double[step] and step not in DIFFERENCES}
    assert differing == {}
