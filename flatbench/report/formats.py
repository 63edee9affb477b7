"""Report formats, registered by name: a format is one module plus one line in `FORMATS`.

A format module defines

    SUFFIX = ".md"                      # file suffix of a whole report
    SHOWS = ("text",)                   # which document blocks it renders (see flatbench.report.document:
                                        # "text" = the prose reports, "page" = HTML-page extras,
                                        # "paper" = the paper-layout LaTeX blocks)
    def table(t: Table, **kw) -> str   # one format-neutral table
    def document(doc: Document) -> str # a whole report

and is imported only when used (so the HTML renderer's matplotlib never loads for Markdown).
To add one: write ``flatbench/report/<name>.py`` and add ``"<name>": "flatbench.report.<name>"``
below (flatbench/report/json.py is a complete small example).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from flatbench.errors import UnknownNameError

FORMATS: dict[str, str] = {
    "markdown": "flatbench.report.markdown",
    "latex": "flatbench.report.latex",
    "html": "flatbench.report.html",
    "json": "flatbench.report.json",
}


def renderer(fmt: str) -> ModuleType:
    """The module rendering format `fmt`."""
    if fmt not in FORMATS:
        raise UnknownNameError("report format", fmt, FORMATS)
    return importlib.import_module(FORMATS[fmt])


def render_table(table, fmt: str = "markdown", **kw) -> str:
    """One format-neutral `Table` as text in `fmt`."""
    return renderer(fmt).table(table, **kw)


def render(doc, fmt: str = "markdown") -> str:
    """A whole report (`Document`) as text in `fmt`."""
    return renderer(fmt).document(doc)


def suffix(fmt: str) -> str:
    return renderer(fmt).SUFFIX


__all__ = ["FORMATS", "renderer", "render_table", "render", "suffix"]
