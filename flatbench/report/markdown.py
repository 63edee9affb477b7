"""Markdown (GitHub tables): the prose report."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.report.document import Document, Items, Para, TableBlock, visible
from flatbench.report.table import Table

SUFFIX = ".md"
SHOWS = ("text",)


def table(t: Table, empty: str = "(no results yet)", **_) -> str:
    if t.empty:
        return empty
    # a "|" inside a cell (e.g. |φ(w) − φ(s)|) would end the cell in a GitHub table
    frame = t.frame().apply(lambda col: col.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v))
    return tabulate(frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)


def block(b) -> str:
    if isinstance(b, TableBlock):
        return table(b.table, b.empty)
    if isinstance(b, Para):
        return b.text
    if isinstance(b, Items):
        return "\n".join("- " + x for x in b.lines)
    raise TypeError(f"markdown cannot render {type(b).__name__}")


def document(doc: Document) -> str:
    parts = [f"## {doc.title}"]
    for s in doc.sections:
        shown = visible(s.blocks, SHOWS)
        if not shown:
            continue
        if not s.lead:
            parts.append(f"## {s.heading}")
        parts += [block(b) for b in shown]
    if doc.progress:
        parts.append(doc.progress)
    if doc.deviations:
        parts += ["## Deviations from the paper", "\n".join("- " + d for d in doc.deviations)]
    return "\n\n".join(parts) + "\n"
