"""docs/consul.md carries the one token table, exactly as the token model renders it."""

from __future__ import annotations

from pathlib import Path

from consul_tokens import doc_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_token_table_in_the_docs_is_the_models() -> None:
    doc = doc_table.DOC.read_text()
    assert doc_table.render(doc) == doc, "run `python -m consul_tokens.doc_table`"


def test_the_table_lists_every_request_of_every_actor_with_its_token() -> None:
    text = doc_table.table()
    assert "| kv-writer (`consulKvToken`) | (none: carved out)" in text
    assert '`key_prefix "<kv>/deploy/"` deny' in text
    assert "`PUT /v1/agent/leave`" in text
    assert "| deploy (operator) |" in text


def test_no_other_doc_carries_a_token_table_or_policy_rules() -> None:
    for page in DOCS.glob("*.md"):
        if page.name == "consul.md":
            continue
        text = page.read_text()
        assert "{ policy =" not in text, page.name
        assert "| Token" not in text, page.name
