"""JSON: every format-neutral table of a report, with raw values and the shown texts.

The whole new format is this file plus its line in flatbench.report.formats.FORMATS;
leaderboards/<grid>.json is written with it."""

from __future__ import annotations

import json

from flatbench.report.document import Document
from flatbench.report.table import Table

SUFFIX = ".json"
SHOWS = ("text",)


def _clean(x):
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def table(t: Table, **_) -> str:
    return json.dumps(_clean(t.to_dict()), ensure_ascii=False, indent=1) + "\n"


def document(doc: Document) -> str:
    out = {"title": doc.title, "tables": {i: _clean(t.to_dict()) for i, t in doc.tables(SHOWS)},
           "progress": doc.progress, "deviations": doc.deviations}
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"
