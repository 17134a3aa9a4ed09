"""Text and Markdown for the offline plan: the resource tree, a PR-comment diff, a stack comparison.

Pure functions over `plan.model` data. Same input, same bytes: every collection is sorted or
kept in registration order, and nothing depends on time, paths or hash seeds.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contracts.escaping import terminal_text
from mock_engine import PROMOTED_AMI, SECRET, UNKNOWN
from plan.comparison import Comparison, SettingDifference
from plan.model import (
    MISSING,
    Change,
    Resource,
    flatten,
    is_mock,
    json_document,
    roll_estimate,
    top_key,
)
from plan.resource_types import HIDDEN_IN_TREE, SHOWN
from plan.user_data_text import decoded_user_data

LIMIT = 160  # longer values are cut, with their length and a digest so a change still shows
SPLIT = 100  # a map or list longer than this shows one leaf per line in the tree
_MOCK_TOKEN = re.compile(rf"[^\s\[\],{{}}]*(?:{re.escape(PROMOTED_AMI)}|[-/]mock)\b")
_PLAIN = re.compile(r"^[\w./:@*<>+=-][\w ./:@*<>+=,-]*\Z")
LEGEND = ("[secret] = secret value · [unknown] = known only once the update runs · "
          "[mock] = made up by the mock engine (what AWS assigns, the AMI a promotion finds)")
_DEFAULT_OPTIONS: Mapping[str, Any] = {
    "deleteBeforeReplace": False, "protect": False, "retainOnDelete": False,
    "ignoreChanges": [], "replaceOnChanges": [],
}


def show(value: Any, limit: int | None = LIMIT) -> str:
    """One value on one line: markers as [secret]/[unknown], long strings cut with a digest."""
    if value is SECRET:
        return "[secret]"
    if value is UNKNOWN:
        return "[unknown]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {show(value[k], None)}" for k in sorted(value)) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show(v, None) for v in value) + "]"
    elif isinstance(value, str):
        text = value if _PLAIN.match(value) and value.strip() == value else json.dumps(value)
        if is_mock(value):
            text = f"[mock] {text}"
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    if limit is None or len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{text[:limit - 40]}… ({len(text)} chars, sha256:{digest})"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _mark_mock(line: str) -> str:
    """Each made-up value inside a line of text labelled, as whole values are (show)."""
    return _MOCK_TOKEN.sub(lambda m: f"[mock] {m.group(0)}", line)


def _input_lines(key: str, value: Any) -> list[str]:
    """``key: value`` lines for the tree; a map too long for one line gets a line per leaf."""
    if isinstance(value, str) and top_key(key) == "userData":
        # Every line, so a reviewer reads each command an instance would run as root; escapes
        # made visible, so no line can redraw the terminal.
        text = decoded_user_data(value) or value
        return [f"{key}: <user data: {len(text.splitlines())} lines, sha256:{_digest(text)}>",
                *(f"  | {_mark_mock(terminal_text(line))}".rstrip()
                  for line in text.splitlines())]
    if isinstance(value, str) and json_document(value) is not None:
        return [f"{key}: <JSON document: {len(value)} chars, sha256:{_digest(value)}>"]
    if isinstance(value, Mapping | list) and len(show(value, None)) > SPLIT:
        return [line for path, leaf in flatten({key: value}).items()
                for line in _input_lines(path, leaf)]
    return [f"{key}: {show(value)}"]


def _options(res: Resource) -> str:
    parts = []
    for k, v in sorted(res.options.items()):
        if k in _DEFAULT_OPTIONS and v != _DEFAULT_OPTIONS[k] and v not in ([], False, None):
            parts.append(f"{k}={show(v)}")
    return f"  [{'; '.join(parts)}]" if parts else ""


def tree(stack: str, items: Sequence[Resource], warnings: Sequence[str] = ()) -> str:
    """The resources a stack manages, component -> children, with the inputs that matter."""
    keys = {r.key for r in items}
    children: dict[str | None, list[Resource]] = {}
    for res in items:
        parent = res.parent if res.parent in keys else None
        children.setdefault(parent, []).append(res)
    for group in children.values():
        group.sort(key=lambda r: (r.name, r.type))
    lines = [f"Offline plan for stack {stack}: {len(items)} resources "
             "(mock engine: nothing was created, no command ran)", LEGEND, ""]
    lines += [f"WARNING: secret in plain text: {w}" for w in warnings]

    def walk(res: Resource, lead: str, branch: str, below: str) -> None:
        lines.append(f"{lead}{branch}{res.type}  {res.name}{_options(res)}")
        kids = children.get(res.key, [])
        pad = lead + below + ("│   " if kids else "    ")
        shown = SHOWN.get(res.type) or tuple(sorted(k for k in res.inputs
                                                    if k not in HIDDEN_IN_TREE))
        for key in shown:
            if key in res.inputs:
                lines.extend(f"{pad}  {line}" for line in _input_lines(key, res.inputs[key]))
        if (rolls := roll_estimate(res)) is not None:
            lines.append(f"{pad}  rolls instances: {rolls}")
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            walk(kid, lead + below, "└── " if last else "├── ", "    " if last else "│   ")

    for root in children.get(None, []):
        walk(root, "", "", "")
    return "\n".join(lines) + "\n"


# --- Markdown ---------------------------------------------------------------------------------

def code(text: str) -> str:
    """``text`` as a Markdown code span that survives backticks and table pipes."""
    text = text.replace("\n", "⏎").replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(value: Any) -> str:
    return "*(none)*" if value is MISSING else code(show(value))


_VERB = {"create": "create", "delete": "**delete**", "replace": "**replace**", "update": "update",
         "same": "options only"}


def diff_markdown(stack: str, base: str, changes: Sequence[Change],
                  warnings: Sequence[str] = (), note: str | None = None) -> str:
    """A PR comment: what `pulumi up` of ``stack`` would change, from ``base`` to the work tree."""
    out = [f"### Offline plan for `{stack}`: {code(base)} → working tree", ""]
    if note:
        out += [f"> {note}", ""]
    for w in warnings:  # a blank line after each, or Markdown runs the quote into what follows
        out += [f"> **Secret in plain text**: {code(w)}", ""]
    if not changes:
        out += ["No changes.", ""]
        return "\n".join(out)
    counts = {a: sum(1 for c in changes if c.action == a)
              for a in ("replace", "update", "create", "delete")}
    out += [" · ".join(f"**{n}** to {a}" for a, n in counts.items()), ""]
    for c in changes:
        if c.rolls:
            out += [f"> **Rolls instances**: {code(c.name)}: {c.rolls}", ""]
        if c.launch_note:
            out += [f"> **New launch settings**: {code(c.name)}: {c.launch_note}", ""]
    out += ["| action | resource | type | why |", "|---|---|---|---|"]
    for c in changes:
        why = "; ".join(c.reasons) or _default_reason(c)
        if c.rolls:
            why = f"{why}; rolls instances" if why else "rolls instances"
        verb = "**new version**" if c.new_version else _VERB[c.action]
        out.append(f"| {verb} | {code(c.name)} | {code(c.type)} | {why} |")
    detailed = [c for c in changes if c.inputs or c.options]
    if detailed:
        out += ["", "<details><summary>Changed inputs</summary>", ""]
        for c in detailed:
            out += [f"#### {code(c.name)} ({c.action})", "", "| input | before | after |",
                    "|---|---|---|"]
            for ic in [*c.inputs, *c.options]:
                mark = " *(forces replacement)*" if ic.replaces else ""
                label = ic.path if ic in c.inputs else f"option {ic.path}"
                out.append(f"| {code(label)}{mark} | {_cell(ic.before)} | "
                           f"{_cell(ic.after)} |")
            out += _long_text_diffs(c)
            out.append("")
        out += ["</details>"]
    out.append("")
    return "\n".join(out)


def _default_reason(c: Change) -> str:
    if c.action == "same":
        return "resource options change; nothing changes in the cloud"
    return ""


def _long_text_diffs(c: Change) -> list[str]:
    out: list[str] = []
    for ic in c.inputs:
        out += text_diff(ic.path, ic.before, ic.after, "before", "after")
    return out


def text_diff(path: str, a: Any, b: Any, a_name: str, b_name: str) -> list[str]:
    """A line diff of changed multi-line text (user data), which a table cell can only cut."""
    texts = []
    for v in (a, b):
        text = v if isinstance(v, str) else ""
        if top_key(path) == "userData":
            text = decoded_user_data(text) or text
        texts.append(text)
    if not any("\n" in t for t in texts):
        return []
    lines = list(difflib.unified_diff(texts[0].splitlines(), texts[1].splitlines(),
                                      a_name, b_name, lineterm="", n=2))
    # User data is shown whole: every command an instance runs must reach the reviewer.
    if len(lines) > 200 and top_key(path) != "userData":
        lines = [*lines[:200], f"… {len(lines) - 200} more lines"]
    return ["", f"{code(path)}:", "", "```diff", *lines, "```"]


def compare_markdown(left: str, right: str, comparison: Comparison) -> str:
    """Differences between two stacks: setting values, and resources only one stack has."""
    out = [f"### Stacks compared: `{left}` and `{right}`", ""]
    only = [(left, r) for r in comparison.only_left] + [(right, r) for r in comparison.only_right]
    if only:
        out += ["> **The stacks differ in structure, not only in setting values**: "
                f"{len(only)} resource(s) exist in one stack only.", "",
                "| only in | resource | type |", "|---|---|---|"]
        out += [f"| `{s}` | {code(r.name)} | {code(r.type)} |" for s, r in only]
        out.append("")
    real = [d for d in comparison.differences if not d.only_stack_name]
    named = [d for d in comparison.differences if d.only_stack_name]
    if not real and not named and not only:
        out += ["The stacks manage the same resources with the same inputs.", ""]
        return "\n".join(out)
    out += [f"#### Setting values that differ ({len(real)})", ""]
    if real:
        out += _difference_table(left, right, real)
        for d in real:
            diff = text_diff(d.path, d.left, d.right, left, right)
            if diff:
                out += [f"<details><summary>{code(d.path)} of {code(d.label)}</summary>", *diff,
                        "", "</details>", ""]
    else:
        out += ["None.", ""]
    if named:
        out += [f"<details><summary>{len(named)} input(s) differ only by the stack's name"
                "</summary>", ""]
        out += _difference_table(left, right, named)
        out += ["</details>", ""]
    return "\n".join(out)


def _difference_table(left: str, right: str, rows: Iterable[SettingDifference]) -> list[str]:
    out = [f"| resource | input | `{left}` | `{right}` |", "|---|---|---|---|"]
    out += [f"| {code(d.label)} | {code(d.path)} | {_cell(d.left)} | {_cell(d.right)} |"
            for d in rows]
    out.append("")
    return out
