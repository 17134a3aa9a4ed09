"""The plan's Markdown as plain text for a terminal: the same words without the marks.

Handles the subset the plan's renderers write: headings, block quotes, bold/italic, code spans,
fenced blocks (shown indented; a Mermaid chart, meant for the job summary, is left out),
pipe tables (aligned columns) and the <details>/<summary> tags of a job summary.
"""

from __future__ import annotations

import re

_HEADING = re.compile(r"^#{1,6}\s+")
_QUOTE = re.compile(r"^>\s?")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`]*)`")
_TAG = re.compile(r"</?(?:details|summary)>")
_SEPARATOR = re.compile(r"^\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def inline(text: str) -> str:
    """A line without its emphasis, code marks and details tags."""
    text = _TAG.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)


def _cells(row: str) -> list[str]:
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [inline(c.strip()).replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def _table(rows: list[str]) -> list[str]:
    cells = [_cells(r) for r in rows if not _SEPARATOR.match(r.strip())]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in cells)
              for i in range(max(len(row) for row in cells))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]


def from_markdown(markdown: str) -> str:
    out: list[str] = []
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            language = line[3:].strip()
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            if language != "mermaid":
                out += [f"    {body}" if body else "" for body in lines[i + 1:end]]
            i = end + 1
            # A left-out chart leaves no blank line behind it.
            if language == "mermaid" and i < len(lines) and not lines[i] and out and not out[-1]:
                i += 1
            continue
        if line.lstrip().startswith("|"):
            end = i
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            out += _table(lines[i:end])
            i = end
            continue
        line = _QUOTE.sub("", _HEADING.sub("", line))
        text = inline(line)
        # A line that held only tags (<details>) goes; a blank line stays.
        if line.strip() and not text.strip():
            i += 1
            continue
        out.append(text)
        i += 1
    return "\n".join(out)
