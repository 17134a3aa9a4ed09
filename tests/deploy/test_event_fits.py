"""The stack's deploy event's size is checked before anything is written: a plain push's
manifest URL, and a canary's node filter sized for the largest fleet the stack allows (the byte
model itself is held to a real agent in tests/consul_agent/test_event_size.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from contracts.consul_event import (
    EVENT_SIZE_LIMIT,
    encoded_event_size,
    node_filter,
    worst_canary_filter,
)
from contracts.release_layout import deploy_event
from deploy.canary import CanaryError, check_canary_fits
from deploy.pointer import PointerError, check_event_fits
from deploy.target import stack_defaults

PROD = "webapp-production-"
EVENT = deploy_event("webapp", "production")
MANIFEST = ("s3://webapp-production-releases-123456789012/releases/webapp/"
            "20261207T180000Z-0123abcd/manifest.yml")


def test_production_allows_a_fleet_of_twenty() -> None:
    assert stack_defaults("production")["fleet_max"] == 20


def test_half_of_productions_largest_fleet_fits_as_a_canary() -> None:
    # The case the old 480-byte payload rule let through to fail at fire time (9+ nodes).
    check_canary_fits("50%", MANIFEST, 20, PROD, EVENT)
    check_canary_fits("10", MANIFEST, 20, PROD, EVENT)


def test_a_canary_too_large_to_encode_is_refused_naming_canary_and_the_most_that_fits() -> None:
    with pytest.raises(CanaryError) as caught:
        check_canary_fits("95%", MANIFEST, 20, PROD, EVENT)
    most = max(n for n in range(1, 21) if encoded_event_size(
        EVENT, MANIFEST.encode(), worst_canary_filter(PROD, n)) <= EVENT_SIZE_LIMIT)
    message = str(caught.value)
    assert message.startswith("--canary 95%: up to 19 of at most 20 nodes "
                              f"(webtier:fleet.maxSize) makes the encoded '{EVENT}' event ")
    assert message.endswith(f"Consul allows 512: use --canary {most} or fewer nodes")
    assert "\n" not in message
    check_canary_fits(str(most), MANIFEST, 20, PROD, EVENT)
    with pytest.raises(CanaryError):
        check_canary_fits(str(most + 1), MANIFEST, 20, PROD, EVENT)


def test_a_percentage_canary_is_sized_for_the_maximum_not_todays_fleet() -> None:
    # 75% of 20 does not fit, whatever the fleet runs today; 75% of 4 does.
    check_canary_fits("75%", MANIFEST, 4, "webapp-staging-", EVENT)
    with pytest.raises(CanaryError, match="of at most 20 nodes"):
        check_canary_fits("75%", MANIFEST, 20, PROD, EVENT)


def test_a_manifest_url_that_leaves_no_room_for_any_node_says_to_shorten_it() -> None:
    with pytest.raises(CanaryError, match=r"shorten the manifest URL"):
        check_canary_fits("1", "s3://" + "b" * 390, 20, PROD, EVENT)


def test_a_plain_push_whose_event_cannot_fire_is_refused_before_the_upload() -> None:
    longest = max(n for n in range(600)
                  if encoded_event_size(EVENT, b"x" * n) <= EVENT_SIZE_LIMIT)
    check_event_fits(EVENT, "s" * longest)
    with pytest.raises(PointerError, match=r"^manifest URL s+ \(\d+ bytes\) makes the encoded "
                       rf"'{EVENT}' event 513 bytes; Consul allows 512: use a shorter bucket"):
        check_event_fits(EVENT, "s" * (longest + 1))


def test_the_worst_canary_filter_is_never_shorter_than_a_real_one() -> None:
    real = [f"{PROD}i-{n:017x}" for n in (0x0abc, 0xfff00000000000, 0x1)]
    assert len(node_filter(real)) <= len(worst_canary_filter(PROD, 3))
    eight = [f"{PROD}i-{n:08x}" for n in (1, 2)]
    assert len(node_filter(eight)) <= len(worst_canary_filter(PROD, 2))


def test_a_node_filter_matches_exactly_its_nodes() -> None:

    nodes = ["webapp-production-i-0abc", "webapp-production-i-0abd", "a.b"]
    pattern = re.compile(node_filter(nodes))
    assert all(pattern.search(n) for n in nodes)
    assert not pattern.search("webapp-production-i-0abcd")
    assert not pattern.search("axb")
    assert node_filter(["only-one"]) == "^only-one$"


def test_the_checked_size_assumes_the_largest_lamport_time_a_cluster_can_reach() -> None:
    # A long-lived cluster's event clock takes up to 9 bytes; a fresh one 1 (what tests measure).
    worst = encoded_event_size("deploy", b"s3://b/m.yml", "^n$")
    assert worst == encoded_event_size("deploy", b"s3://b/m.yml", "^n$", ltime=2**64 - 1)
    assert worst == encoded_event_size("deploy", b"s3://b/m.yml", "^n$", ltime=1) + 8


def test_a_push_whose_event_could_not_fire_is_refused_before_anything_is_uploaded() -> None:
    from deploy.publish import planned_release
    from deploy.target import Target

    target = Target(stack="staging", app="webapp", bucket="b" * 400, kv_prefix="webapp/staging",
                    keep=5, region="us-east-1", s3_endpoint=None, consul_addr="http://x:8500",
                    consul_token=None, consul_ca=None)
    with pytest.raises(PointerError, match=r"makes the encoded 'webapp-staging-deploy' event \d+ "):
        planned_release(target, "r1")
    assert planned_release(replace(target, bucket="b" * 40), "r1").release == "r1"


def test_the_cli_refuses_such_a_canary_with_exit_1_before_any_call(tmp_path: Path) -> None:
    import io

    from deploy.cli import main

    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "index.html").write_text("hi")
    err = io.StringIO()
    code = main(["push", "--stack", "production", "--canary", "95%", "--bucket",
                 "webapp-production-releases-123456789012", "--consul-addr", "127.0.0.1:9",
                 "--s3-endpoint", "http://127.0.0.1:9", "--region", "us-east-1",
                 str(tmp_path / "release")], env={}, out=io.StringIO(), err=err)
    lines = err.getvalue().strip().splitlines()
    assert code == 1
    assert len(lines) == 1
    assert "--canary 95%: up to 19 of at most 20 nodes" in lines[0]
