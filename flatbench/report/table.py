"""The format-neutral table every report is made of.

A builder (flatbench.report.builders, .builders45, .correlation, ...) turns results into a `Table`;
a renderer registered by name (flatbench.report.formats: markdown, latex, html, json, ...) turns
a `Table` into text. Nothing here knows a format.

    Table(name, columns=[Column(key, title)], rows=[Row(key={...}, cells={col_key: Cell(...)})])

- `Cell`: one value with what goes with it: ``value`` (a number; a string = text, e.g. the reason
  it was not measured; None = not measured), its 95 % CI (``lo``, ``hi``), the across-seed ``sd``,
  significance ``marks`` ("†", "‡") with the ``p`` values behind them, a free ``note`` and the
  ``deviations`` that apply to it. ``digits`` / ``ci_digits`` / ``signed`` say how it is shown;
  ``text`` overrides the shown text (e.g. "yes*", "12.3 [10.1, 14.2] / 15.0"). ``display()`` is
  the canonical plain text: ``value[marks][ ± sd][ [lo, hi]]``, "–" when not measured.
- `Row`: its cells by column key, and ``key``: what identifies it (model, dataset, method,
  train_attack, attack, seed, variant, ...), for machine readers and pivoting renderers.
- `Column`: ``key`` (stable, used by code and machine formats) and ``title`` (shown).
- `Table`: ``name`` (the kind, e.g. "table3"), ``columns``, ``rows``, ``notes`` (text under it)
  and ``meta`` (anything a renderer of this kind may use, e.g. the paper layout's inputs).
  ``frame()``: the shown texts as a DataFrame (titles as columns); ``records()``: raw values,
  one dict per row (the row key, then ``<col>``, ``<col>_lo``, ``<col>_hi``, ``<col>_sd``,
  ``<col>_p_<ref>``, ``<col>_marks``); ``to_dict()``: JSON-able.

Example (a builder of a new kind)::

    from flatbench.report.table import Cell, Column, Row, Table

    def build_claims(rows) -> Table:
        cols = [Column("claim", "Claim"), Column("AA", "AA ours")]
        return Table("claims", cols, [Row({"claim": r.id}, {"claim": Cell(r.text),
                                           "AA": Cell(r.aa, lo=r.lo, hi=r.hi, marks=r.marks)})
                                      for r in rows])

    render_table(build_claims(...), "markdown")   # flatbench.report.formats
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

MISSING = "–"


def num(v) -> float | None:
    """A finite float, or None (missing / NaN / bool / not a number)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


@dataclass
class Cell:
    value: float | int | str | None = None
    lo: float | None = None
    hi: float | None = None
    sd: float | None = None
    marks: str = ""
    p: dict[str, float] = field(default_factory=dict)
    digits: int = 2
    ci_digits: int | None = None
    signed: bool = False
    text: str | None = None
    note: str = ""
    deviations: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.value, str):
            self.value = num(self.value)
        self.lo, self.hi, self.sd = num(self.lo), num(self.hi), num(self.sd)

    @property
    def measured(self) -> bool:
        return isinstance(self.value, float)

    def display(self) -> str:
        """The shown text: ``text`` if set, else ``value[marks][ ± sd][ [lo, hi]]`` ("–": none)."""
        if self.text is not None:
            return self.text
        v = self.value
        if v is None:
            return MISSING
        if isinstance(v, str):
            return v
        s = f"{v:{'+' if self.signed else ''}.{self.digits}f}{self.marks}"
        if self.sd is not None:
            s += f" ± {self.sd:.{self.digits}f}"
        if self.lo is not None and self.hi is not None:
            cd = self.digits if self.ci_digits is None else self.ci_digits
            s += f" [{self.lo:.{cd}f}, {self.hi:.{cd}f}]"
        return s

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the shown text, the value and whatever else the cell carries."""
        out: dict[str, Any] = {"text": self.display(), "value": self.value}
        for k in ("lo", "hi", "sd", "marks", "p", "note"):
            if getattr(self, k) not in (None, "", {}):
                out[k] = getattr(self, k)
        if self.deviations:
            out["deviations"] = list(self.deviations)
        return out

    def raw(self, prefix: str) -> dict[str, Any]:
        """Machine-readable fields of this cell, named after its column."""
        out: dict[str, Any] = {prefix: self.value if self.text is None or self.value is not None else self.text}
        for k in ("lo", "hi", "sd"):
            if getattr(self, k) is not None:
                out[f"{prefix}_{k}"] = getattr(self, k)
        for ref, p in self.p.items():
            out[f"{prefix}_p_{ref}"] = p
        if self.marks:
            out[f"{prefix}_marks"] = self.marks
        if self.note:
            out[f"{prefix}_note"] = self.note
        if self.deviations:
            out[f"{prefix}_deviations"] = list(self.deviations)
        return out


def text(s) -> Cell:
    """A cell that is only text."""
    return Cell(str(s))


@dataclass
class Column:
    key: str
    title: str = ""

    def __post_init__(self):
        self.title = self.title or self.key


@dataclass
class Row:
    key: dict[str, Any]
    cells: dict[str, Cell]

    def get(self, col: str) -> Cell:
        return self.cells.get(col) or Cell()


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.rows

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def frame(self) -> pd.DataFrame:
        """The shown texts, one column per `Column` (named by its title)."""
        if not self.rows:
            return pd.DataFrame()
        return pd.DataFrame([[r.get(c.key).display() for c in self.columns] for r in self.rows],
                            columns=[c.title for c in self.columns])

    def records(self) -> list[dict[str, Any]]:
        """Raw values: per row its key, then each cell's `Cell.raw` fields (a label cell named like
        a key field, e.g. "method" shown "FLAT (PWWS)", leaves the key's raw value)."""
        out = []
        for r in self.rows:
            rec = dict(r.key)
            for c in self.columns:
                if c.key not in r.key:
                    rec.update(r.get(c.key).raw(c.key))
            out.append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [{"key": c.key, "title": c.title} for c in self.columns],
                "rows": [{"key": r.key, "cells": {c.key: r.get(c.key).to_dict() for c in self.columns}}
                         for r in self.rows],
                "notes": list(self.notes)}


def from_frame(name: str, df: pd.DataFrame, notes: list[str] | None = None) -> Table:
    """A table of plain text cells from a DataFrame of shown strings (columns = titles)."""
    cols = [Column(str(c), str(c)) for c in df.columns]
    rows = [Row({}, {c.key: text(v) for c, v in zip(cols, vals)}) for vals in df.astype(str).values.tolist()]
    return Table(name, cols, rows, list(notes or []))


__all__ = ["Cell", "Column", "Row", "Table", "MISSING", "num", "text", "from_frame"]
