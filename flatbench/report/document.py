"""A whole report, format-neutral: a title, sections of blocks, progress and deviations.

Blocks: `TableBlock` (a format-neutral `Table`), `Para` (a paragraph), `Items` (a bullet list),
`Comment` (a remark the paper-layout format keeps as a comment), `PaperTable` (a table in one of
the paper's own layouts, for the LaTeX format), `Extra` (page-only content drawn from data: "image"
= {png_base64, alt, caption}; "interpretation" = top-k curves and attribution heat-maps).
Every block says who shows it (``show``): "text" blocks are the prose report (Markdown, HTML,
JSON, ...), "page" blocks only the HTML page, "paper" blocks only the paper-layout LaTeX. A
format lists the kinds it shows (its module's SHOWS); see flatbench.report.formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flatbench.report.table import Table


@dataclass
class Block:
    show: str = field(default="text", kw_only=True)


@dataclass
class TableBlock(Block):
    table: Table
    id: str = ""
    empty: str = "(no results yet)"


@dataclass
class Para(Block):
    text: str
    style: str = "note"  # "note" | "legend"


@dataclass
class Items(Block):
    lines: list[str]


@dataclass
class Comment(Block):
    text: str
    show: str = field(default="paper", kw_only=True)


@dataclass
class PaperTable(Block):
    """A table in the paper's layout: `layout` names it (flatbench.report.latex.LAYOUTS)."""

    table: Table
    layout: str
    options: dict[str, Any] = field(default_factory=dict)
    show: str = field(default="paper", kw_only=True)


@dataclass
class Extra(Block):
    """Page-only content a page renderer draws from data (e.g. "interpretation": curves and pairs)."""

    kind: str
    data: Any = None
    show: str = field(default="page", kw_only=True)


@dataclass
class Section:
    id: str
    heading: str
    blocks: list[Block] = field(default_factory=list)
    lead: bool = False  # the report's main section: the title is its heading in the prose formats


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)
    progress: str | None = None
    deviations: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def tables(self, show=("text",)) -> list[tuple[str, Table]]:
        """(id, table) of every table block shown by a format showing `show`."""
        return [(b.id or b.table.name, b.table) for s in self.sections for b in s.blocks
                if isinstance(b, (TableBlock, PaperTable)) and b.show in show]


def visible(blocks, shows) -> list[Block]:
    return [b for b in blocks if b.show in shows]


__all__ = ["Block", "TableBlock", "Para", "Items", "Comment", "PaperTable", "Extra", "Section", "Document",
           "visible"]
