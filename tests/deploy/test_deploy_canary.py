"""The canary state machine with a fake clock, and the contracts the nodes and the tool share."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from components.fleet.user_data import AppService, service_hcl
from components.settings import SettingsError, parse_settings
from contracts import release_layout
from deploy.canary import (
    DEFAULT_CRITICAL_GRACE,
    CanaryError,
    CanaryRecord,
    Clock,
    WaitResult,
    canary_count,
    choose_canaries,
    describe_failure,
    explain,
    wait_for_release,
)
from deploy.fleet_status import UNREGISTERED, NodeStatus, render_table
from tests.deploy.canary_fleet import node_env_text
from tests.instance.test_instance_scripts import pull
from tests.mocks import stack_config


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> Clock:
        return Clock(lambda: self.t, self.sleep)

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def node(name: str, release: str | None, health: str = "passing", output: str = "") -> NodeStatus:
    return NodeStatus(name, release, "2026-01-01T00:00:00Z", health, output)


def script(*frames: list[NodeStatus]) -> Callable[[], list[NodeStatus]]:
    """A fleet that answers each frame once, then keeps answering the last."""
    answers = list(frames)

    def fleet() -> list[NodeStatus]:
        return answers.pop(0) if len(answers) > 1 else answers[0]
    return fleet


@pytest.mark.parametrize(("spec", "healthy", "count"), [
    ("1", 4, 1), ("2", 4, 2), ("3", 4, 3), ("25%", 4, 1), ("50%", 5, 3), ("1%", 3, 1),
    ("99%", 101, 100), ("1%", 101, 2),
])
def test_canary_count_takes_n_nodes_or_a_percentage_rounded_up(spec: str, healthy: int,
                                                               count: int) -> None:
    assert canary_count(spec, healthy) == count


@pytest.mark.parametrize(("spec", "healthy"), [("4", 4), ("9", 4), ("100%", 3), ("50%", 1),
                                               ("1", 1)])
def test_a_canary_of_the_whole_fleet_is_refused_not_done(spec: str, healthy: int) -> None:
    with pytest.raises(CanaryError, match="the whole fleet; a canary must leave at least one"):
        canary_count(spec, healthy)


@pytest.mark.parametrize("spec", ["0", "-1", "x", "0%", "150%", "%"])
def test_canary_count_refuses_what_is_not_a_node_count_naming_the_flag(spec: str) -> None:
    with pytest.raises(CanaryError, match="--canary"):
        canary_count(spec, 3)


def test_canary_nodes_are_healthy_ones_chosen_by_name() -> None:
    nodes = [node("c", "r1"), node("a", "r1", "critical"), node("b", "r1"), node("d", "r1")]
    assert choose_canaries(nodes, "2") == ("b", "c")


def test_canary_without_a_healthy_node_is_refused() -> None:
    with pytest.raises(CanaryError, match="no node of the service is healthy"):
        choose_canaries([node("a", "r1", "critical")], "1")


def test_wait_succeeds_only_after_the_bake_time_on_the_release() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r1")], [node("a", "r2")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=60, bake=5,
                              nodes=["a"], poll=1)
    assert result.ok
    assert clock.t >= 5


def test_wait_fails_fast_when_the_release_stays_critical_and_names_the_output() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r2", "critical", "HTTP GET /health: 500 broken")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=600, bake=3,
                              nodes=["a"], poll=1)
    assert not result.ok
    assert clock.t < 10
    assert "a (critical, runs r2): HTTP GET /health: 500 broken" in describe_failure(result)


def test_a_flapping_check_restarts_the_bake() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r2")], [node("a", "r2")], [node("a", "r2", "critical")],
                   [node("a", "r2")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=60, bake=3,
                              nodes=["a"], poll=1)
    assert result.ok
    assert clock.t >= 6


def test_wait_times_out_naming_the_nodes_not_on_the_release() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r2"), node("b", "r1")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=10, poll=1)
    assert not result.ok
    assert [n.node for n in result.failing] == ["b"]
    assert "timed out after 10s" in result.reason


def test_a_canary_node_leaving_the_service_fails_the_canary() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r1", UNREGISTERED)])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=10, nodes=["a"])
    assert not result.ok
    assert "left the service: a" in result.reason


def test_status_wait_follows_only_healthy_nodes() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r2"), node("b", "r1", "critical")])
    assert wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=10,
                            healthy_only=True).ok


def test_canary_record_survives_its_kv_json() -> None:
    record = CanaryRecord("r2", "s3://b/releases/a/r2/manifest.yml", "s3://b/x", "r1",
                          ("node-a",), 30.0, "2026-01-01T00:00:00Z", "me")
    assert CanaryRecord.from_json(record.to_json()) == record


def test_status_table_marks_nodes_off_the_pointer_release() -> None:
    lines = render_table([node("a", "r1"), node("b", "r2", "critical")], "r1")
    assert lines[0] == "nodes: 2 (1 healthy)"
    assert lines[1].startswith("   a ")
    assert lines[2].startswith(" ! b ")


# --- contracts: what the nodes get agrees with what the tool reads ------------------------------


def test_node_env_names_the_nodes_prefix_the_deploy_tool_reads() -> None:
    path_env = dict(line.split("=", 1) for line in
                    node_env_text("webapp", "webapp/staging", "b").splitlines())
    keys = release_layout.deploy_keys(path_env["KV_PREFIX"], path_env["APP_NAME"])
    assert path_env["NODES_PREFIX"] == keys.nodes
    assert pull.report_key(path_env, "ip-10-0-0-1") == \
        release_layout.node_release_key("webapp/staging", "webapp", "ip-10-0-0-1")


def test_service_definition_names_the_app_and_checks_the_health_path() -> None:
    hcl = service_hcl("webapp", "staging", AppService(8080, "/health", 10, 5), '"t"')
    assert f'name = "{release_layout.service_name("webapp", "staging")}"' in hcl
    assert 'http     = "http://127.0.0.1:8080/health"' in hcl
    assert re.search(r'interval = "10s"\n\s+timeout  = "5s"', hcl)


def test_a_check_timeout_longer_than_its_interval_is_refused_by_its_key() -> None:
    config, secrets = stack_config("staging", overrides={
        "webtier:consul.serviceCheck": {"interval": 5, "timeout": 10}})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert any(p.startswith("webtier:consul.serviceCheck.timeout = 10")
               for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("url", [
    "s3://b/releases/webapp/r1\n/manifest.yml",
    "s3://b/releases/webapp/r1/manifest.yml\n",
    "s3://b/releases/webapp/r1\x1b[2J/manifest.yml",
])
def test_an_event_payload_with_control_characters_is_refused(url: str) -> None:
    with pytest.raises(pull.Refused):
        pull.release_id_of(url, "b", "webapp")



# --- exact boundaries and texts ------------------------------------------------------------------


def test_canary_record_is_stored_as_indented_json_an_operator_can_read() -> None:
    record = CanaryRecord("r2", "s3://b/m2", "s3://b/m1", "r1", ("a", "b"), 30.0, "t", "me")
    assert record.to_json() == (
        '{\n "release": "r2",\n "manifest": "s3://b/m2",\n "current": "s3://b/m1",\n'
        ' "current_release": "r1",\n "nodes": [\n  "a",\n  "b"\n ],\n "bake": 30.0,\n'
        ' "at": "t",\n "by": "me"\n}')


def test_without_bake_a_node_must_be_on_the_release_and_healthy_only_once() -> None:
    clock = FakeClock()
    result = wait_for_release("r2", fleet=script([node("a", "r2")]), clock=clock.clock(),
                              timeout=60)
    assert (result, clock.t) == (WaitResult(True), 0)


def test_without_bake_a_critical_node_fails_after_the_default_grace() -> None:
    clock = FakeClock()
    result = wait_for_release("r2", fleet=script([node("a", "r2", "critical", "500")]),
                              clock=clock.clock(), timeout=60, poll=1)
    assert result == WaitResult(False, "health check not passing for 10s on r2",
                                [node("a", "r2", "critical", "500")])
    assert clock.t == DEFAULT_CRITICAL_GRACE == 10


def test_a_one_second_bake_is_also_the_grace_of_a_critical_node() -> None:
    clock = FakeClock()
    result = wait_for_release("r2", fleet=script([node("a", "r2", "warning")]),
                              clock=clock.clock(), timeout=60, bake=1, poll=0.5)
    assert (result.reason, clock.t) == ("health check not passing for 1s on r2", 1)


def test_a_wait_counts_unhealthy_nodes_unless_told_to_follow_healthy_ones_only() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r2"), node("b", "r1", "critical", "down")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=3, poll=1)
    assert result == WaitResult(False, "timed out after 3s waiting for r2",
                                [node("b", "r1", "critical", "down")])
    assert clock.t == 3


def test_failures_name_each_node_its_health_release_and_check_output() -> None:
    result = WaitResult(False, "timed out", [node("a", None), node("b", "r1", "critical", "500")])
    assert describe_failure(result) == ("timed out: a (passing, runs nothing reported): no check "
                                        "output; b (critical, runs r1): 500")
    assert describe_failure(WaitResult(False, "no node")) == "no node"


@pytest.mark.parametrize("spec", ["0", "x", "0%", "100.5%"])
def test_a_bad_canary_spec_is_one_line_saying_what_is_allowed(spec: str) -> None:
    with pytest.raises(CanaryError) as caught:
        canary_count(spec, 3)
    assert str(caught.value) == (f"--canary {spec!r}: must be a whole number of nodes (>= 1) or "
                                 "a percentage like 25%")


def test_a_canary_with_no_healthy_node_says_where_to_look() -> None:
    with pytest.raises(CanaryError) as caught:
        canary_count("1", 0)
    assert str(caught.value) == ("--canary: no node of the service is healthy, so none can take "
                                 "the canary; check `python -m deploy status`")


def test_a_canary_node_gone_from_the_fleet_fails_naming_the_ones_still_listed() -> None:
    clock = FakeClock()
    fleet = script([node("a", "r1", UNREGISTERED), node("c", "r2")])
    result = wait_for_release("r2", fleet=fleet, clock=clock.clock(), timeout=10,
                              nodes=["a", "b", "c"])
    assert result == WaitResult(False, "left the service: a, b", [node("a", "r1", UNREGISTERED)])
    assert clock.t == 0


def test_a_fleet_scaled_to_zero_has_nothing_to_wait_for() -> None:
    clock = FakeClock()
    assert wait_for_release("r2", fleet=script([node("a", "r1", UNREGISTERED)]),
                            clock=clock.clock(), timeout=10) == \
        WaitResult(True, "no node is registered in the service or InService in its group")
    assert clock.t == 0


def test_following_healthy_nodes_when_none_is_healthy_times_out_saying_so() -> None:
    clock = FakeClock()
    result = wait_for_release("r2", fleet=script([node("a", "r2", "critical")]),
                              clock=clock.clock(), timeout=2, poll=1, healthy_only=True)
    assert result == WaitResult(False, "timed out after 2s waiting for r2 (no node is "
                                "healthy)", [])
    assert clock.t == 2


def test_a_canary_left_without_a_release_to_return_to_says_nothing() -> None:
    record = CanaryRecord("r2", "s3://b/m2", None, None, ("a",), 0.0, "t", "me")
    assert explain(record, "staging") == [
        "canary in flight: r2 on a since t (by me); the pointer still names nothing",
        "  finish it: python -m deploy push --stack staging --resume",
        "  abandon it (the canary nodes go back to nothing): python -m deploy push --stack "
        "staging --abort"]


def test_the_wait_polls_every_half_second_unless_told() -> None:
    clock = FakeClock()
    assert wait_for_release("r2", fleet=script([node("a", "r2")]), clock=clock.clock(),
                            timeout=60, bake=1).ok
    assert clock.t == 1.0
