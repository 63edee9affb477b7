"""LaTeX (booktabs, ASCII only), for a paper to ``\\input``: the report format of the paper's layouts.

A document's "paper" blocks are rendered in order, joined by a newline: `PaperTable` blocks in the
layout they name (`LAYOUTS`: the paper's Tables 2-5 from flatbench.report.latex_layouts, the
correlation table, or plain booktabs of the shown texts), `Comment` blocks as ``%`` lines. A
single `Table` renders as plain booktabs. Free text is escaped; see flatbench.report.latex_base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flatbench.report.document import Comment, Document, PaperTable, visible
from flatbench.report.latex_base import Raw, escape  # noqa: F401 - re-exported
from flatbench.report.latex_layouts import table2_latex, table3_latex, table4_latex, table5_latex
from flatbench.report.table import Table

SUFFIX = ".tex"
SHOWS = ("paper",)
PREAMBLE = "\\documentclass{article}\n\\usepackage{booktabs,multirow,graphicx}\n"


def comment(text: str) -> str:
    return "\n".join("% " + escape(Raw(line)) for line in str(text).splitlines() or [""])


def rows_frame(t: Table) -> pd.DataFrame:
    """A table's raw values as the long-format rows the paper layouts read (clean CI as clean_lo/hi)."""
    return pd.DataFrame(t.records()).rename(columns={"clean_acc_lo": "clean_lo", "clean_acc_hi": "clean_hi"})


def booktabs(t: Table, *, caption: str = "", label: str = "") -> str:
    """The shown texts of any table as a booktabs table* (ASCII); "" for an empty table."""
    if t.empty:
        return ""
    df = t.frame()
    body = [" & ".join(escape(x) for x in r) + " \\\\" for r in df.astype(str).values.tolist()]
    head = " & ".join(escape(c) for c in df.columns) + " \\\\"
    out = ["\\begin{table*}[t]", "\\centering", "\\scriptsize",
           "\\resizebox{\\linewidth}{!}{%", "\\begin{tabular}{l" + "r" * (len(df.columns) - 1) + "}", "\\toprule",
           head, "\\midrule", *body, "\\bottomrule", "\\end{tabular}}",
           "\\caption{%s}" % escape(caption or t.name), "\\label{%s}" % (label or f"tab:{t.name}"), "\\end{table*}"]
    text = "\n".join(out) + "\n"
    text.encode("ascii")
    return text


def correlation_layout(t: Table, *, caption: str, label: str, deviations=()) -> str:
    """Fig. 4 / Table 9: one line per pair of quantities, Pearson (raw, log) and Spearman with CIs."""

    def r(c, key):
        v = c.get(key)
        if v is None or not np.isfinite(v):
            return "--"
        return f"${v:+.3f}$ {{\\scriptsize [${c[key + '_lo']:+.3f}$, ${c[key + '_hi']:+.3f}$]}}"

    names = {"freq": "word freq.", "replaced": "subst. freq.", "substituted": "times a substitute",
             "phi": "$\\phi$"}
    body = [f"{names[c['y']]} vs. {names[c['x']]} & {c['n']} & {r(c, 'pearson')} & {r(c, 'pearson_log')} & "
            f"{r(c, 'spearman')} & n/a \\\\" for c in t.records()]
    note = ("95\\% CIs by Fisher's z. Pearson on raw counts and on logs; Spearman on ranks. Paper Table 9: not "
            "available (no appendix in the source).")
    out = ["\\begin{table}[t]", "\\centering", "\\small", "\\begin{tabular}{lrrrrr}", "\\toprule",
           "Pair & $n$ & Pearson & Pearson (log) & Spearman & Paper \\\\", "\\midrule", *body, "\\bottomrule",
           "\\end{tabular}", f"\\caption{{{escape(caption)}}}", f"\\label{{{label}}}",
           f"\\par\\smallskip\\footnotesize {note}", "\\end{table}"]
    out += ["% deviation: " + escape(Raw(d)) for d in deviations]
    return ("\n".join(out) + "\n").encode("ascii", "replace").decode("ascii")


LAYOUTS = {
    "table2": lambda t, **kw: table2_latex(rows_frame(t), **kw),
    "table3": lambda t, **kw: table3_latex(rows_frame(t), **kw),
    "table4": lambda t, **kw: table4_latex(rows_frame(t), **kw),
    "table5": lambda t, **kw: table5_latex(rows_frame(t), **kw),
    "correlation": correlation_layout,
    "booktabs": booktabs,
}


def table(t: Table, **kw) -> str:
    return booktabs(t, **kw)


def block(b) -> str:
    if isinstance(b, Comment):
        return comment(b.text)
    if isinstance(b, PaperTable):
        try:
            return LAYOUTS[b.layout](b.table, **b.options)
        except ValueError as e:  # a layout with nothing to show yet
            return comment(f"no table yet: {e}")
    raise TypeError(f"latex cannot render {type(b).__name__}")


def document(doc: Document) -> str:
    text = "\n".join(block(b) for s in doc.sections for b in visible(s.blocks, SHOWS))
    text = text if text.endswith("\n") else text + "\n"
    text.encode("ascii")
    return text


def standalone_document(*tables: str) -> str:
    """A minimal compilable document (article + booktabs, multirow, graphicx) holding the tables."""
    return PREAMBLE + "\\begin{document}\n" + "\n".join(tables) + "\\end{document}\n"


__all__ = ["Raw", "escape", "comment", "table2_latex", "table3_latex", "table4_latex", "table5_latex",
           "standalone_document", "PREAMBLE", "LAYOUTS", "booktabs", "rows_frame"]
