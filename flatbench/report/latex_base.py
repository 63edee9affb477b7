"""LaTeX building blocks of the paper's table layouts (flatbench.report.latex_layouts): escaping,
the cell state of one table (CIs as value$\\pm$h, marks, n/a reasons, bold) and the booktabs frame.

Input is a DataFrame of our results, one row per model x dataset x method x train_attack x
attack (seeds aggregated by the caller) with the columns

    model, dataset, method, train_attack ('' for base), attack (NaN for clean-only rows),
    clean_acc, clean_lo, clean_hi, AA, AA_lo, AA_hi, KT, KT_lo, KT_hi, TI, TI_lo, TI_hi,
    AA_p_adv, AA_p_base, KT_p_adv, KT_p_base, TI_p_adv, TI_p_base (FLAT rows only).

Any value may be missing (NaN / None: rendered ``--``) or a string giving the reason it
could not be measured (rendered ``\\emph{n/a}`` with a mark, the reason in the table's note).
A value with both CI bounds is rendered ``value$\\pm$h`` with h = (hi - lo) / 2.

Every function returns ASCII-only text that compiles in

    \\documentclass{article}\\usepackage{booktabs,multirow,graphicx}\\begin{document}...

(see :func:`standalone_document`). Free text (captions, notes, reasons, unknown names) is
escaped; wrap text in :class:`Raw` to pass LaTeX through unescaped.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from flatbench.registry import ATTACKS, DATASET_NAMES, MODELS
from flatbench.report.paper import DATASET_COLS, PRETTY  # noqa: F401 - DATASET_COLS for the layouts

MODEL_ORDER = MODELS.names()  # the registry's order: the paper's, then additions
METHOD_ORDER = ["base", "adv", "flat"]
ATTACK_ORDER = ATTACKS.names()  # the registry's order: the paper's
DATASET_ORDER = list(DATASET_NAMES)
METRICS = ("AA", "KT", "TI")
ALPHA = 0.05

# Symbols for "not available" reasons; dagger and double dagger are the significance marks.
_NA_SYMBOLS = ["*", "\\S", "\\P", "\\|", "**", "\\S\\S", "\\P\\P", "\\|\\|"]


class Raw(str):
    """Text that is already LaTeX: passed through unescaped (non-ASCII is still replaced)."""


_SPECIALS = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "_": "\\_", "%": "\\%", "&": "\\&",
             "#": "\\#", "$": "\\$", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}"}
_UNICODE = {"β": "$\\beta$", "γ": "$\\gamma$", "Δ": "$\\Delta$", "δ": "$\\delta$", "α": "$\\alpha$",
            "τ": "$\\tau$", "φ": "$\\phi$", "′": "$^{\\prime}$", "·": "$\\cdot$", "±": "$\\pm$",
            "×": "$\\times$", "≤": "$\\leq$", "≥": "$\\geq$", "≈": "$\\approx$", "→": "$\\rightarrow$",
            "–": "--", "—": "---", "−": "-", "…": "\\ldots{}", "‘": "`", "’": "'", "“": "``", "”": "''",
            "•": "$\\bullet$", "†": "\\textdagger{}", "°": "$^{\\circ}$", "\u00a0": "~"}


def _unicode_to_ascii(text: str) -> str:
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        else:  # accented letters lose their accent; anything else becomes '?'
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 128)
            out.append(base or "?")
    return "".join(out)


def escape(text) -> str:
    """Free text -> LaTeX: specials escaped, non-ASCII replaced. :class:`Raw` text is not escaped."""
    if isinstance(text, Raw):
        return _unicode_to_ascii(text)
    text = "" if text is None else str(text)
    return _unicode_to_ascii("".join(_SPECIALS.get(ch, ch) for ch in text))


def _name(x) -> str:
    return escape(PRETTY.get(x, x))


def _order(values, order) -> list:
    vals = [v for v in dict.fromkeys(values) if isinstance(v, str) and v]
    known = [v for v in order if v in vals]
    return known + sorted(v for v in vals if v not in order)


def _num(v):
    """A float, a reason string (not measurable), or None (not measured)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v.strip() or None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _get(row, col):
    if row is None or col not in row.index:
        return None
    return _num(row[col])


def _fixed(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s) == 0 else "$-$" + s[1:]
    return s


def _prep(df: pd.DataFrame) -> pd.DataFrame:
    d = df.copy()
    for c in ("model", "dataset", "method", "train_attack", "attack"):
        if c in d.columns:
            d[c] = d[c].map(lambda x: x.strip().lower() if isinstance(x, str) else x)
    if "train_attack" in d.columns:
        d["train_attack"] = d["train_attack"].map(lambda x: x if isinstance(x, str) else "")
    else:
        d["train_attack"] = ""
    if "attack" in d.columns:
        d["attack"] = d["attack"].map(lambda x: x if isinstance(x, str) and x else None)
    return d


@dataclass
class _Ctx:
    """Rendering state of one table: which marks were used, for its note."""

    reasons: dict = field(default_factory=dict)
    used: set = field(default_factory=set)
    tested: bool = False
    bold_text: str = "Bold: best of the methods within a model (higher is better)."

    def na(self, reason: str) -> str:
        if reason not in self.reasons:
            i = len(self.reasons)
            self.reasons[reason] = _NA_SYMBOLS[i] if i < len(_NA_SYMBOLS) else f"*{i + 1}"
        return "\\emph{n/a}$^{%s}$" % self.reasons[reason]

    def cell(self, v, lo=None, hi=None, *, digits=2, bold=False, marks="") -> str:
        if v is None:
            self.used.add("missing")
            return "--"
        if isinstance(v, str):
            return self.na(v)
        s = _fixed(v, digits)
        if bold:
            self.used.add("bold")
            s = "\\textbf{%s}" % s
        if isinstance(lo, float) and isinstance(hi, float):
            h = abs(hi - lo) / 2
            self.used.add("pm")
            s += "$\\pm$" + _fixed(h, 1 if h >= 1 else 2)
        if marks:
            s += "$^{%s}$" % marks
        return s

    def paper(self, v, digits=2) -> str:
        self.used.add("paper")
        if v is None:
            self.used.add("paper_missing")
            return "{\\scriptsize --}"
        if isinstance(v, str):
            return "{\\scriptsize %s}" % self.na(v)
        return "{\\scriptsize\\textit{%s}}" % _fixed(v, digits)

    def marks(self, row, metric) -> str:
        # as the Markdown tables: FLAT vs adv (dagger) and vs base; every other method but base vs base
        if row is None or row.get("method") in (None, "base"):
            return ""
        p_adv = _get(row, f"{metric}_p_adv") if row.get("method") == "flat" else None
        p_base = _get(row, f"{metric}_p_base")
        m = ""
        for p, sym in ((p_adv, "\\dagger"), (p_base, "\\ddagger")):
            if isinstance(p, float):
                self.tested = True
                if p < ALPHA:
                    m += sym
        return m

    def note(self, extra=None) -> str:
        parts = []
        if "pm" in self.used:
            parts.append("value$\\pm$h: our estimate and the half-width h of its 95\\% confidence interval.")
        if "bold" in self.used:
            parts.append(self.bold_text)
        if self.tested:
            parts.append(f"$^{{\\dagger}}$: FLAT differs significantly from adv; $^{{\\ddagger}}$: FLAT, adv "
                         f"or another defence differs significantly from base ($p<{ALPHA:g}$).")
        if "paper" in self.used:
            parts.append("\\textit{Italic} lines: the paper's numbers.")
        if "missing" in self.used:
            parts.append("--: not measured.")
        if "paper_missing" in self.used:
            parts.append("-- on a paper line: no number in the paper.")
        for reason, sym in self.reasons.items():
            parts.append("$^{%s}$n/a: %s." % (sym, escape(reason).rstrip(".")))
        if extra:
            parts.append(escape(extra))
        return " ".join(parts)


def _bold_set(values: dict, digits=2) -> set:
    """Keys of the best (highest, as displayed) values; empty when fewer than two are numbers."""
    nums = {k: round(v, digits) for k, v in values.items() if isinstance(v, float)}
    if len(nums) < 2:
        return set()
    best = max(nums.values())
    return {k for k, v in nums.items() if v == best}


def _header(label_names: list[str], levels: list[list[tuple[str, int]]], leaf: list[str]) -> list[str]:
    """booktabs header: grouped levels (text, span) over the value columns, with cmidrules."""
    n = len(label_names)
    lines = ["\\toprule"]
    for level in levels:
        cells, rules, col = [""] * n, [], n + 1
        for text, span in level:
            cells.append("\\multicolumn{%d}{c}{%s}" % (span, text))
            if text:
                rules.append("\\cmidrule(lr){%d-%d}" % (col, col + span - 1))
            col += span
        lines.append(" & ".join(cells) + " \\\\")
        lines.append(" ".join(rules))
    lines.append(" & ".join(label_names + ["\\multicolumn{1}{c}{%s}" % x for x in leaf]) + " \\\\")
    lines.append("\\midrule")
    return lines


def _wrap(colspec: str, header: list[str], body: list[str], *, caption, label, note: str, star: bool,
          size: str = "\\small") -> str:
    env = "table*" if star else "table"
    out = [f"\\begin{{{env}}}[t]", "\\centering", size, "\\setlength{\\tabcolsep}{3pt}",
           "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
           f"\\begin{{tabular}}{{@{{}}{colspec}@{{}}}}", *header, *body, "\\bottomrule",
           "\\end{tabular}}"]
    if note:
        out += ["\\par\\smallskip", "\\parbox{\\linewidth}{\\footnotesize\\raggedright %s}" % note]
    out += ["\\caption{%s}" % escape(caption), "\\label{%s}" % re.sub(r"[^A-Za-z0-9:._/+-]", "-", str(label)),
            f"\\end{{{env}}}"]
    text = "\n".join(line for line in out if line) + "\n"
    text.encode("ascii")  # guaranteed by construction; fail loudly otherwise
    return text


_MARKS = re.compile(r"\$\^\{((?:\\d?dagger)+)\}\$$")


def _align_marks(rows, first: int) -> None:
    """Right-aligned columns stay aligned on the number when some cells carry significance
    marks: every cell of a column with marks gets an invisible superscript filling it up to
    the column's widest mark (dagger and double dagger are equally wide). In place on
    rows = [(our_cells, paper_cells or None)]; value cells start at index ``first``."""
    if not rows:
        return
    for j in range(first, len(rows[0][0])):
        counts = []
        for cells, _ in rows:
            m = _MARKS.search(cells[j])
            counts.append(0 if m is None else m.group(1).count("dagger"))
        k = max(counts)
        if not k:
            continue
        for (cells, pcells), n in zip(rows, counts):
            fill = "\\phantom{%s}" % ("\\dagger" * (k - n)) if k > n else ""
            cells[j] = cells[j][:-2] + fill + "}$" if n else cells[j] + "$^{%s}$" % fill
            if pcells is not None:
                pcells[j] = pcells[j] + "$^{\\phantom{%s}}$" % ("\\dagger" * k)


def _multirow(n: int, text: str) -> str:
    return text if n <= 1 else "\\multirow{%d}{*}{%s}" % (n, text)


def _body(blocks, ncols: int, n_outer: int) -> list[str]:
    """blocks: [(outer_text or None, model_text, [(our_cells, paper_cells or None), ...])].

    outer_text starts a new outer group (a \\multirow in the first column, \\midrule before it);
    each block is one model (a \\multirow over its lines, \\cmidrule between models)."""
    lines: list[str] = []
    # how many lines each outer group spans
    spans: list[int] = []
    for outer, _, rows in blocks:
        nl = sum(1 + (p is not None) for _, p in rows)
        if outer is not None or not spans:
            spans.append(nl)
        else:
            spans[-1] += nl
    gi = -1
    for bi, (outer, model, rows) in enumerate(blocks):
        if outer is not None:
            gi += 1
            if bi:
                lines.append("\\midrule")
        elif bi:
            lines.append("\\cmidrule(lr){%d-%d}" % (n_outer + 1, ncols))
        nl = sum(1 + (p is not None) for _, p in rows)
        first = True
        for ours, paper_cells in rows:
            lead = []
            if n_outer:
                lead.append(_multirow(spans[gi], outer) if (first and outer is not None) else "")
            lead.append(_multirow(nl, model) if first else "")
            lines.append(" & ".join(lead + ours) + " \\\\")
            if paper_cells is not None:
                lines.append(" & ".join([""] * len(lead) + paper_cells) + " \\\\")
            first = False
    return lines


def _paper_label() -> str:
    return "{\\scriptsize\\textit{paper}}"

