"""The canary lock record and the node-filtered event against an in-memory Consul (no HTTP)."""

from __future__ import annotations

import re

import pytest

from components.consul.client import ConsulHttpError, ConsulUnreachable
from contracts.consul_event import EVENT_SIZE_LIMIT, encoded_event_size
from contracts.release_layout import deploy_event
from deploy.canary import CanaryError, CanaryRecord
from deploy.canary_lock import CanaryLock, fire_to
from tests.deploy.fake_consul import FakeConsul

KEY = "webapp/staging/deploy/webapp/canary"
EVENT = deploy_event("webapp", "staging")
RECORD = CanaryRecord("r2", "s3://b/releases/webapp/r2/manifest.yml",
                      "s3://b/releases/webapp/r1/manifest.yml", "r1", ("node-a", "node-b"), 30.0,
                      "2026-01-01T00:00:00Z", "alice")
UNREACHABLE = ConsulUnreachable("Consul is unreachable ([Errno 111] Connection refused)")


def lock(consul: FakeConsul) -> CanaryLock:
    return CanaryLock(consul, "webapp/staging", "webapp")


def test_the_lock_lives_under_the_apps_deploy_keys() -> None:
    assert lock(FakeConsul()).key == KEY


def test_no_record_reads_as_none_at_index_zero() -> None:
    assert lock(FakeConsul()).read() == (None, 0)


def test_take_writes_the_record_and_returns_its_index_for_the_delete() -> None:
    consul = FakeConsul()
    index = lock(consul).take(RECORD)
    assert consul.kv[KEY] == (RECORD.to_json().encode(), index)
    assert lock(consul).read() == (RECORD, index)


def test_a_second_take_is_refused_naming_the_holder() -> None:
    consul = FakeConsul()
    lock(consul).take(RECORD)
    other = CanaryRecord("r3", "s3://b/r3/m.yml", None, None, ("node-c",), 0.0, "later", "bob")
    with pytest.raises(CanaryError) as caught:
        lock(consul).take(other)
    assert str(caught.value) == (
        "a canary is already in flight (r2 by alice since 2026-01-01T00:00:00Z); see `python -m "
        "deploy status`, then finish it with `push --resume` or clear it with `push --abort`")
    assert lock(consul).read()[0] == RECORD


def test_a_refused_cas_with_the_record_gone_names_another_push() -> None:
    consul = FakeConsul()
    consul.put_answer = False
    with pytest.raises(CanaryError, match=r"^a canary is already in flight \(another push\); "):
        lock(consul).take(RECORD)


def test_an_accepted_write_that_reads_back_someone_elses_record_is_refused() -> None:
    consul = FakeConsul()
    consul.put_answer = True
    consul.set(KEY, RECORD.to_json())
    mine = CanaryRecord("r9", "s3://b/r9/m.yml", None, None, ("node-c",), 0.0, "now", "carol")
    with pytest.raises(CanaryError, match=r"^a canary is already in flight \(r2 by alice "):
        lock(consul).take(mine)


@pytest.mark.parametrize(("error", "says"), [
    (ConsulHttpError(403, "Permission denied"),
     f"Consul refused to write {KEY}: the token needs write on it (Consul answered 403 "
     "Permission denied)"),
    (ConsulHttpError(500, "boom"),
     f"could not write {KEY} to Consul: Consul answered 500 boom"),
    (UNREACHABLE, f"could not write {KEY} to Consul: {UNREACHABLE}"),
])
def test_a_failed_take_says_what_consul_answered(error: Exception, says: str) -> None:
    consul = FakeConsul()
    consul.fail["put_key"] = error
    with pytest.raises(CanaryError) as caught:
        lock(consul).take(RECORD)
    assert str(caught.value) == says
    assert caught.value.__cause__ is error


def test_an_unreadable_lock_says_so() -> None:
    consul = FakeConsul()
    consul.fail["read_key"] = UNREACHABLE
    with pytest.raises(CanaryError) as caught:
        lock(consul).read()
    assert str(caught.value) == f"could not read {KEY} from Consul: {UNREACHABLE}"
    assert caught.value.__cause__ is UNREACHABLE


@pytest.mark.parametrize("value", [b"not json", b"{}", b'{"release": "r2"}', b"[1]", b""])
def test_a_key_that_is_not_a_record_says_to_delete_it(value: bytes) -> None:
    consul = FakeConsul()
    consul.set(KEY, value)
    with pytest.raises(CanaryError, match=(
            rf"^{re.escape(KEY)} does not hold a canary record \(.+\); delete the key once no "
            r"push is running$")):
        lock(consul).read()


def test_a_key_without_a_value_says_to_delete_it() -> None:
    consul = FakeConsul()
    consul.kv[KEY] = (None, 12)
    with pytest.raises(CanaryError, match=r"^\S+ does not hold a canary record \(Expecting value"):
        lock(consul).read()


def test_release_deletes_the_record_only_at_the_index_it_was_taken_at() -> None:
    consul = FakeConsul()
    index = lock(consul).take(RECORD)
    lock(consul).release(index + 1)
    assert KEY in consul.kv
    lock(consul).release(index)
    assert KEY not in consul.kv


def test_a_failed_release_says_to_delete_the_key_by_hand() -> None:
    consul = FakeConsul()
    consul.fail["delete_key"] = UNREACHABLE
    with pytest.raises(CanaryError) as caught:
        lock(consul).release(5)
    assert str(caught.value) == (f"could not delete {KEY} (delete it by hand once no push "
                                 f"runs): {UNREACHABLE}")
    assert caught.value.__cause__ is UNREACHABLE


def test_fire_to_sends_the_deploy_event_to_exactly_the_named_nodes() -> None:
    consul = FakeConsul()
    assert fire_to(consul, EVENT, "s3://b/r2/m.yml", ["node-a", "ip-10.0.0.1"]) == "ev-1"
    assert consul.events == [(EVENT, "s3://b/r2/m.yml", r"^(node-a|ip-10\.0\.0\.1)$")]


def test_fire_to_without_an_id_in_the_answer_returns_empty() -> None:
    consul = FakeConsul()
    consul.fire_event = lambda *a, **k: {}
    assert fire_to(consul, EVENT, "s3://b/m", ["a"]) == ""


def test_fire_to_refuses_an_event_that_would_exceed_512_encoded_bytes_with_its_filter() -> None:
    # The boundary is Consul's own: tests/consul_agent/test_event_size.py measures it.
    consul = FakeConsul()
    longest = max(n for n in range(600)
                  if encoded_event_size(EVENT, b"x" * n, "^a$") <= EVENT_SIZE_LIMIT)
    assert fire_to(consul, EVENT, "s" * longest, ["a"]) == "ev-1"
    with pytest.raises(CanaryError) as caught:
        fire_to(consul, EVENT, "s" * (longest + 1), ["a"])
    assert str(caught.value) == (
        f"--canary: manifest URL {'s' * (longest + 1)} ({longest + 1} bytes) makes the encoded "
        f"'{EVENT}' event 513 bytes with its node filter; Consul allows 512: use a shorter bucket "
        "name or --release-id")
    assert len(consul.events) == 1


@pytest.mark.parametrize(("error", "says"), [
    (ConsulHttpError(403, "Permission denied"),
     f"Consul refused to fire event '{EVENT}': the token needs `event \"{EVENT}\" {{ policy = "
     "\"write\" }` (Consul answered 403 Permission denied)"),
    (ConsulHttpError(500, "boom"),
     f"could not fire event '{EVENT}' to a, b: Consul answered 500 boom"),
    (UNREACHABLE, f"could not fire event '{EVENT}' to a, b: {UNREACHABLE}"),
])
def test_a_failed_fire_says_what_consul_answered(error: Exception, says: str) -> None:
    consul = FakeConsul()
    consul.fail["fire_event"] = error
    with pytest.raises(CanaryError) as caught:
        fire_to(consul, EVENT, "s3://b/m", ["a", "b"])
    assert str(caught.value) == says
    assert caught.value.__cause__ is error


def test_a_refused_cas_is_refused_even_if_the_record_read_back_looks_like_ours() -> None:
    consul = FakeConsul()
    consul.set(KEY, RECORD.to_json())
    consul.put_answer = False
    with pytest.raises(CanaryError, match=r"^a canary is already in flight \(r2 by alice "):
        lock(consul).take(RECORD)
