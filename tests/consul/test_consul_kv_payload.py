"""The pure KV sync planning: what a sync writes, deletes and refuses, and how it chunks.

No HTTP here; tests/consul/test_consul_kv_provider.py runs the same logic against Consul.
"""

from __future__ import annotations

import base64
import json

import pytest

from components.consul.kv_payload import (
    TXN_MAX_OPS,
    LiveEntry,
    chunk_ops,
    delete_op,
    drift_message,
    entry_problems,
    live_under,
    plan_sync,
    relative_key,
    result_indexes,
    txn_ops,
    undo_ops,
    write_op,
)

PREFIX = "app/staging"


def test_new_keys_are_written_only_if_absent() -> None:
    plan = plan_sync({"a": "1", "b": "2"}, {}, {}, None)
    assert [(w.key, w.cas_index) for w in plan.writes] == [("a", 0), ("b", 0)]


def test_changed_key_is_written_with_cas_on_the_recorded_index() -> None:
    plan = plan_sync({"a": "new"}, {"a": "old"}, {"a": 17}, None)
    assert [(w.key, w.value, w.cas_index) for w in plan.writes] == [("a", "new", 17)]


def test_unchanged_key_is_not_written() -> None:
    plan = plan_sync({"a": "1"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("1", 17)})
    assert (plan.writes, plan.unchanged) == ((), ("a",))


def test_key_dropped_from_config_is_deleted_with_cas() -> None:
    plan = plan_sync({}, {"a": "1"}, {"a": 17}, None)
    assert [(d.key, d.cas_index) for d in plan.deletes] == [("a", 17)]


def test_live_value_different_from_what_the_stack_wrote_is_drift() -> None:
    plan = plan_sync({"a": "1"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("manual", 30)})
    assert [(d.key, d.kind, d.live_index) for d in plan.drift] == [("a", "changed", 30)]


def test_drifted_key_keeps_the_recorded_index_so_its_cas_fails() -> None:
    plan = plan_sync({"a": "2"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("manual", 30)})
    assert plan.writes[0].cas_index == 17


def test_key_deleted_outside_pulumi_is_drift() -> None:
    plan = plan_sync({"a": "1"}, {"a": "1"}, {"a": 17}, {})
    assert [(d.key, d.kind) for d in plan.drift] == [("a", "deleted")]


def test_existing_key_the_stack_never_wrote_is_drift_not_adopted() -> None:
    plan = plan_sync({"a": "1"}, {}, {}, {"a": LiveEntry("1", 5)})
    assert [(d.key, d.kind) for d in plan.drift] == [("a", "foreign")]


def test_index_bump_with_the_same_value_is_adopted_not_drift() -> None:
    plan = plan_sync({"a": "2"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("1", 30)})
    assert (plan.drift, plan.writes[0].cas_index) == ((), 30)


def test_unchanged_key_records_its_live_index() -> None:
    plan = plan_sync({"a": "1"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("1", 30)})
    assert plan.unchanged_indexes == {"a": 30}


def test_keys_outside_the_prefix_are_ignored_in_a_listing() -> None:
    live = live_under(PREFIX, [
        {"Key": "app/staging/a", "Value": b"1", "ModifyIndex": 3},
        {"Key": "app/staging-old/b", "Value": b"2", "ModifyIndex": 4},
    ])
    assert list(live) == ["a"]


def test_relative_key_of_the_prefix_itself_is_none() -> None:
    assert relative_key(PREFIX, "app/staging/") is None


def test_write_op_is_a_base64_cas_on_the_full_key() -> None:
    op = write_op(PREFIX, "database/master-user", "webapp", 9)
    assert op == {"KV": {"Verb": "cas", "Key": "app/staging/database/master-user",
                         "Value": base64.b64encode(b"webapp").decode(), "Flags": 0, "Index": 9}}


def test_delete_op_is_a_delete_cas() -> None:
    assert delete_op(PREFIX, "a", 9) == {"KV": {"Verb": "delete-cas", "Key": "app/staging/a",
                                                "Index": 9}}


def test_txn_ops_hold_writes_and_deletes_in_key_order() -> None:
    plan = plan_sync({"b": "2", "c": "3"}, {"a": "1", "c": "0"}, {"a": 1, "c": 2}, None)
    assert [op["KV"]["Key"] for op in txn_ops(PREFIX, plan)] == [
        "app/staging/a", "app/staging/b", "app/staging/c"]


@pytest.mark.parametrize(("n", "chunks"), [(1, 1), (128, 1), (129, 2), (1000, 8)])
def test_ops_are_chunked_to_the_txn_op_limit(n: int, chunks: int) -> None:
    ops = [write_op(PREFIX, f"k{i}", "v", 0) for i in range(n)]
    result = chunk_ops(ops)
    assert (len(result), max(len(c) for c in result), sum(len(c) for c in result)) == (
        chunks, min(n, TXN_MAX_OPS), n)


def test_ops_are_chunked_to_the_txn_body_size_limit() -> None:
    # 100 kB values are ~133 kB in base64: three fit in Consul's 512 KiB body, a fourth does not.
    ops = [write_op(PREFIX, f"k{i}", "x" * 100_000, 0) for i in range(12)]
    result = chunk_ops(ops, max_bytes=512 * 1024)
    assert all(len(json.dumps(c)) <= 512 * 1024 for c in result)
    assert [len(c) for c in result] == [3, 3, 3, 3]


def test_chunking_keeps_op_order() -> None:
    ops = [write_op(PREFIX, f"k{i:03}", "v", 0) for i in range(130)]
    assert [op for chunk in chunk_ops(ops) for op in chunk] == ops


def test_undo_of_a_new_key_deletes_it_at_the_index_the_txn_gave_it() -> None:
    applied = [write_op(PREFIX, "a", "1", 0)]
    assert undo_ops(applied, {"app/staging/a": 40}, {"app/staging/a": None}) == [
        {"KV": {"Verb": "delete-cas", "Key": "app/staging/a", "Index": 40}}]


def test_undo_of_an_update_restores_the_old_value_with_cas() -> None:
    applied = [write_op(PREFIX, "a", "new", 10)]
    undo = undo_ops(applied, {"app/staging/a": 40}, {"app/staging/a": LiveEntry("old", 10)})
    assert undo[0]["KV"]["Verb"] == "cas"
    assert (undo[0]["KV"]["Index"], base64.b64decode(undo[0]["KV"]["Value"])) == (40, b"old")


def test_undo_of_a_delete_recreates_the_key_only_if_still_absent() -> None:
    applied = [delete_op(PREFIX, "a", 10)]
    undo = undo_ops(applied, {}, {"app/staging/a": LiveEntry("old", 10)})
    assert (undo[0]["KV"]["Verb"], undo[0]["KV"]["Index"]) == ("cas", 0)


def test_result_indexes_maps_full_keys_to_new_modify_index() -> None:
    results = [{"KV": {"Key": "app/staging/a", "ModifyIndex": 41, "Value": None}}]
    assert result_indexes(results) == {"app/staging/a": 41}


def test_entry_problems_reject_absolute_and_empty_segment_keys() -> None:
    problems = entry_problems(PREFIX, {"/a": "", "a//b": "", "ok/key": ""})
    assert len(problems) == 2
    assert all("relative to the prefix" in p for p in problems)


def test_entry_problems_reject_a_value_over_consul_limit() -> None:
    assert "at most" in entry_problems(PREFIX, {"big": "x" * (512 * 1024 + 1)})[0]


def test_entry_problems_reject_a_bad_prefix() -> None:
    assert "prefix" in entry_problems("/app//x", {})[0]


def test_drift_message_names_the_full_key_and_both_indexes() -> None:
    plan = plan_sync({"a": "1"}, {"a": "1"}, {"a": 17}, {"a": LiveEntry("x", 30)})
    message = drift_message(PREFIX, plan.drift)
    assert "app/staging/a" in message
    assert "ModifyIndex 30" in message
    assert "wrote 17" in message
    assert "pulumi refresh" in message
