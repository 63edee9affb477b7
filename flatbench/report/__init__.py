"""The report layer: format-neutral tables (`Table` of `Row`s of `Cell`s: value, CI, sd, marks with
their p-values, notes, deviations), one builder per table kind (report.builders, .builders45,
.correlation, .claims, .strength), documents of them (report.documents) and renderers registered
by name (report.formats: markdown, latex, html, json). It renders what it is given: nothing here
trains, attacks, explains, plans or opens a database (flatbench.reporting gathers the inputs).

    from flatbench.report import Cell, Column, Row, Table, render_table
    t = Table("demo", [Column("AA", "AA ours")], [Row({"model": "lstm"}, {"AA": Cell(20.0, lo=15.6, hi=25.0)})])
    render_table(t, "markdown")
"""

from flatbench.report.formats import FORMATS, render, render_table
from flatbench.report.table import Cell, Column, Row, Table

__all__ = ["Cell", "Column", "Row", "Table", "FORMATS", "render", "render_table"]
