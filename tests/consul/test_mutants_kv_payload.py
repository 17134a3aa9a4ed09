"""KV sync planning edges (the survivors of scripts/mutation in components/consul/kv_payload.py).

Pure data in, data out: Consul's listing as py-consul decodes it, the txn chunk limits at their
exact boundary, the undo of a half-applied sync, and the text an operator reads on drift.
"""

from __future__ import annotations

import base64

import pytest

from components.consul.kv_payload import (
    Drift,
    LiveEntry,
    chunk_ops,
    drift_message,
    live_under,
    op_size,
    plan_sync,
    relative_key,
    undo_ops,
    write_op,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_listing_skips_keys_outside_the_prefix_and_reads_the_rest() -> None:
    live = live_under("app/staging", [
        {"Key": "other/x", "Value": b"no", "ModifyIndex": 1},
        {"Key": "app/staging/a", "Value": b"caf\xc3\xa9", "ModifyIndex": 7, "Flags": 3},
        {"Key": "app/staging/b", "Value": None, "ModifyIndex": 8},
        {"Key": "app/staging/c", "Value": b"\xff", "ModifyIndex": 9, "Flags": None},
        {"Key": "app/staging/d", "Value": "text", "ModifyIndex": "10"},
    ])
    assert live == {"a": LiveEntry("café", 7, 3), "b": LiveEntry("", 8, 0),
                    "c": LiveEntry("\ufffd", 9, 0), "d": LiveEntry("text", 10, 0)}


def test_relative_key_ignores_slashes_around_the_prefix() -> None:
    assert relative_key("/app/staging/", "app/staging/db/user") == "db/user"
    assert relative_key("app/staging", "app/staging/") is None
    assert relative_key("app/staging", "app/stagingx/y") is None


def test_one_op_per_transaction_is_allowed_and_zero_is_refused() -> None:
    ops = [write_op("p", f"k{i}", "v", 0) for i in range(3)]
    assert chunk_ops(ops, max_ops=1) == [[op] for op in ops]
    with pytest.raises(ValueError, match="max_ops must be at least 1, got 0"):
        chunk_ops(ops, max_ops=0)


def test_ops_that_exactly_fill_the_body_limit_share_one_transaction() -> None:
    ops = [write_op("p", "a", "x" * 100, 0), write_op("p", "b", "y" * 100, 0)]
    exact = 2 + sum(op_size(op) for op in ops)  # the JSON list's brackets, then each op
    assert chunk_ops(ops, max_bytes=exact) == [ops]
    assert chunk_ops(ops, max_bytes=exact - 1) == [[ops[0]], [ops[1]]]
    # After a cut the new chunk starts from the brackets again, not from the old total.
    three = [*ops, write_op("p", "c", "z" * 100, 0)]
    assert chunk_ops(three, max_bytes=exact) == [ops, [three[2]]]
    assert chunk_ops(three, max_ops=2) == [ops, [three[2]]]


def test_op_size_leaves_room_for_the_framing() -> None:
    op = write_op("p", "a", "v", 0)
    assert op_size(op) > len(str(op))


def test_a_key_this_stack_never_wrote_is_foreign_drift_at_its_live_index() -> None:
    plan = plan_sync({"k": "v"}, {}, {}, {"k": LiveEntry("theirs", 42)})
    assert plan.drift == (Drift("k", "foreign", 0, 42),)


def test_undo_restores_what_each_committed_op_replaced() -> None:
    applied = [
        write_op("p", "skipped", "new", 0),     # its txn result is unknown: left alone
        write_op("p", "changed", "new", 5),
        write_op("p", "added", "new", 0),
        {"KV": {"Verb": "delete-cas", "Key": "p/removed", "Index": 6}},
        {"KV": {"Verb": "delete-cas", "Key": "p/gone-anyway", "Index": 7}},
    ]
    before = {"p/changed": LiveEntry("old", 5, 2), "p/added": None,
              "p/removed": LiveEntry("kept", 6, 1), "p/skipped": LiveEntry("s", 1)}
    undo = undo_ops(applied, {"p/changed": 11, "p/added": 12}, before)
    assert undo == [
        {"KV": {"Verb": "cas", "Key": "p/changed", "Flags": 2, "Index": 11, "Value": b64("old")}},
        {"KV": {"Verb": "delete-cas", "Key": "p/added", "Index": 12}},
        {"KV": {"Verb": "cas", "Key": "p/removed", "Flags": 1, "Index": 0, "Value": b64("kept")}},
    ]


def test_drift_message_lists_each_key_and_the_way_out_for_owned_keys() -> None:
    text = drift_message("app/s", [Drift("a", "changed", 3, 9), Drift("b", "deleted", 4, None)])
    assert text == (
        "  - app/s/a was changed outside Pulumi since the last up (ModifyIndex 9, this stack "
        "wrote 3)\n"
        "  - app/s/b was deleted outside Pulumi since the last up (this stack wrote it at "
        "ModifyIndex 4)\n"
        "Nothing was written. To go on, run `pulumi refresh` to take the live values into state "
        "and see the drift, then `pulumi up` to restore the configured values (or copy the "
        "change into the stack config).")


def test_drift_message_for_foreign_keys_says_the_stack_never_overwrites_them() -> None:
    text = drift_message("app/s", [Drift("x", "foreign", 0, 5)])
    assert text == (
        "  - app/s/x already exists in Consul (ModifyIndex 5) and this stack did not write it\n"
        "Nothing was written. To go on, delete keys this stack did not write, or choose another "
        "kv.prefix: the stack never overwrites them.")


def test_drift_message_with_both_kinds_gives_both_ways_out() -> None:
    text = drift_message("p", [Drift("x", "foreign", 0, 5), Drift("y", "changed", 1, 2)])
    assert text.endswith("change into the stack config); delete keys this stack did not write, "
                         "or choose another kv.prefix: the stack never overwrites them.")
