"""The token table in docs/consul.md, generated from the token model (consul_tokens/model.py).

    python -m consul_tokens.doc_table          # rewrite the table in docs/consul.md
    python -m consul_tokens.doc_table --check  # exit 1 if the doc differs (tests run this check)
"""

from __future__ import annotations

import sys
from pathlib import Path

from consul_tokens.model import TOKENS, StackScope, actors, denials, policy_name

DOC = Path(__file__).resolve().parent.parent / "docs" / "consul.md"
START, END = "<!-- token-table: start (python -m consul_tokens.doc_table) -->", \
    "<!-- token-table: end -->"
# Placeholders, so the table reads for every stack.
SCOPE = StackScope("<app>", "<stack>", "<kv>", ("<svc>",))


def table() -> str:
    stored = {t.role: f"`{t.config_key}`" if t.config_key else "operator" for t in TOKENS}
    lines = ["| Token (stored as) | Actor | Sends it from | Request | Grant it needs |",
             "|---|---|---|---|---|"]
    for actor in actors(SCOPE):
        for r in actor.requests:
            g = r.needs
            lines.append(f"| {actor.token} ({stored[actor.token]}) | {actor.name} | "
                         f"{actor.where} | `{r.method} {r.path}`: {r.what} | "
                         f"`{g.resource} \"{g.segment}\"` {g.policy} |")
    for t in TOKENS:
        for g in denials(SCOPE, t.role):
            lines.append(f"| {t.role} ({stored[t.role]}) | (none: carved out) | | "
                         f"the deploy state is the deploy token's | "
                         f"`{g.resource} \"{g.segment}\"` {g.policy} |")
    names = ", ".join(f"`{policy_name(SCOPE, t.role)}`" for t in TOKENS)
    return "\n".join([*lines, "", f"Policies: {names}. `<kv>` is the stack's `kv.prefix`, "
                      "`<svc>` each failover service."]) + "\n"


def render(doc: str) -> str:
    head, sep, rest = doc.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{DOC}: the token table markers are missing ({START} ... {END})")
    return f"{head}{START}\n{table()}{END}{tail}"


def main(argv: list[str]) -> int:
    doc = DOC.read_text()
    try:
        wanted = render(doc)
    except ValueError as e:
        print(f"consul_tokens.doc_table: {e}", file=sys.stderr)
        return 2
    if "--check" in argv:
        if wanted != doc:
            print(f"consul_tokens.doc_table: {DOC} differs from the token model: run "
                  "`python -m consul_tokens.doc_table`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
