"""Merging bootstrap's TLS-only statement into a state bucket's existing policy
(bootstrap/policies.py): every other statement kept in place, ours added or replaced by Sid, and
what changed said in words. IAM allows `Statement` as one object or a list (IAM JSON policy
reference, "Statement")."""

from __future__ import annotations

from typing import Any

from bootstrap.policies import TLS_SID, merged_bucket_policy, tls_only_bucket_policy

OURS = tls_only_bucket_policy("acme-state")
TLS = OURS["Statement"][0]


def other(sid: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-state/*"}


def test_the_tls_statement_denies_every_request_without_tls() -> None:
    assert TLS == {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                   "Action": "s3:*",
                   "Resource": ["arn:aws:s3:::acme-state", "arn:aws:s3:::acme-state/*"],
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert TLS_SID == "DenyInsecureTransport"
    assert OURS["Version"] == "2012-10-17"


def test_a_single_statement_object_is_kept_beside_ours() -> None:
    merged, changes = merged_bucket_policy({"Version": "2012-10-17",
                                            "Statement": other("Audit")}, OURS)
    assert merged == {"Version": "2012-10-17", "Statement": [other("Audit"), TLS]}
    assert changes == ["added DenyInsecureTransport", "kept 1 other statement"]


def test_several_others_are_counted_in_the_plural_and_keep_their_order() -> None:
    current = {"Version": "2012-10-17", "Statement": [other("A"), other("B")]}
    merged, changes = merged_bucket_policy(current, OURS)
    assert merged["Statement"] == [other("A"), other("B"), TLS]
    assert changes == ["added DenyInsecureTransport", "kept 2 other statements"]
    assert current["Statement"] == [other("A"), other("B")]  # the input is not changed


def test_our_statement_is_replaced_where_it_stands() -> None:
    stale = {**TLS, "Action": "s3:GetObject"}
    merged, changes = merged_bucket_policy({"Statement": [stale, other("A"), other("B")]}, OURS)
    assert merged["Statement"] == [TLS, other("A"), other("B")]
    assert changes == ["replaced DenyInsecureTransport", "kept 2 other statements"]


def test_nothing_to_change_says_nothing_even_with_other_statements() -> None:
    merged, changes = merged_bucket_policy({"Version": "2012-10-17",
                                            "Statement": [other("A"), TLS]}, OURS)
    assert (merged["Statement"], changes) == ([other("A"), TLS], [])


def test_the_existing_version_is_kept_and_ours_used_when_there_is_none() -> None:
    merged, _ = merged_bucket_policy({"Version": "2008-10-17", "Statement": []}, OURS)
    assert merged["Version"] == "2008-10-17"
    merged, _ = merged_bucket_policy({"Statement": []}, OURS)
    assert merged["Version"] == "2012-10-17"
    nothings: list[Any] = [None, "not a policy", {}]
    for nothing in nothings:
        merged, changes = merged_bucket_policy(nothing, OURS)
        assert (merged, changes) == (OURS, ["added DenyInsecureTransport"])


def test_a_statement_without_a_sid_or_not_an_object_is_kept_untouched() -> None:
    unnamed = {k: v for k, v in other("x").items() if k != "Sid"}
    merged, changes = merged_bucket_policy({"Statement": [unnamed, "junk"]}, OURS)
    assert merged["Statement"] == [unnamed, "junk", TLS]
    assert changes == ["added DenyInsecureTransport", "kept 2 other statements"]
