"""The paper's table layouts in LaTeX (booktabs, ASCII): Table 2 (clean accuracy), Table 3 (AA /
KT / TI per dataset), Table 4 (transfer) and Table 5 (ablation), each from long-format rows
(see flatbench.report.latex_base for the input columns and conventions)."""

from __future__ import annotations

import pandas as pd

from flatbench.report.latex_base import (
    ATTACK_ORDER,
    DATASET_ORDER,
    DATASET_COLS,
    METHOD_ORDER,
    METRICS,
    MODEL_ORDER,
    _align_marks,
    _body,
    _bold_set,
    _Ctx,
    _fixed,
    _get,
    _header,
    _name,
    _num,
    _order,
    _paper_label,
    _prep,
    _wrap,
)

# --------------------------------------------------------------------------------------------
# Table 3: robustness (AA, KT, TI)


def table3_latex(df: pd.DataFrame, *, caption, label, paper: pd.DataFrame | None = None,
                 attacks_as: str = "rows", metrics=METRICS, note=None, star: bool = True) -> str:
    """The paper's Table 3: AA / KT / TI per dataset, rows grouped attack x model x method.

    ``attacks_as="rows"`` is the paper's layout (one row block per attack, datasets as column
    groups); ``"columns"`` makes attack x dataset the column groups instead. Base rows appear
    under every attack they were attacked with; adv/FLAT rows only under their train_attack.
    ``paper``: long format (attack, model, method, dataset, AA, KT, TI), adds an italic line
    under each of our rows."""
    if attacks_as not in ("rows", "columns"):
        raise ValueError("attacks_as must be 'rows' or 'columns'")
    d = _prep(df)
    d = d[d["attack"].notna()]
    # base and defences without a train attack (freelb) under every attack; adv/FLAT under their own
    ta = d["train_attack"].fillna("").astype(str)
    d = d[(d["method"] == "base") | (ta == "") | (ta == d["attack"])]
    if d.empty:
        raise ValueError("no Table 3 rows (attacked rows of base models, or of adv/FLAT models "
                         "evaluated with their own train_attack)")
    ours = {}
    for _, r in d.iterrows():
        ours.setdefault((r["attack"], r["model"], r["method"], r["dataset"]), r)
    ref = {}
    if paper is not None:
        for _, r in _prep(paper).iterrows():
            ref[(r["attack"], r["model"], r["method"], r["dataset"])] = r
    attacks = _order(d["attack"], ATTACK_ORDER)
    datasets = _order(d["dataset"], DATASET_ORDER)
    models = _order(d["model"], MODEL_ORDER)
    metrics = list(metrics)
    ctx = _Ctx()

    if attacks_as == "rows":
        groups = [(None, ds) for ds in datasets]
        levels = [[(_name(ds), len(metrics)) for ds in datasets]]
        label_names = ["Attack", "Model", "Method"]
        plan = [(a, m) for a in attacks for m in models]
    else:
        groups = [(a, ds) for a in attacks for ds in datasets if any(k[0] == a and k[3] == ds for k in ours)]
        levels = [[(_name(a), len(metrics) * sum(g[0] == a for g in groups)) for a in attacks],
                  [(_name(ds), len(metrics)) for _, ds in groups]]
        label_names = ["Model", "Method"]
        plan = [(None, m) for m in models]
    cols = [(a, ds, met) for a, ds in groups for met in metrics]

    blocks, last_outer = [], object()
    for a_row, m in plan:
        methods = [me for me in METHOD_ORDER + sorted(set(d["method"]) - set(METHOD_ORDER))
                   if any(k[1] == m and k[2] == me and (a_row is None or k[0] == a_row) for k in ours)]
        if not methods:
            continue
        keyed = {}
        for me in methods:
            for a, ds, met in cols:
                key = (a or a_row, m, me, ds)
                keyed[(me, a, ds, met)] = (ours.get(key), ref.get(key))
        bold = set()
        for a, ds, met in cols:
            bold |= {(me, a, ds, met) for me in
                     _bold_set({me: _get(keyed[(me, a, ds, met)][0], met) for me in methods})}
        rows = []
        for me in methods:
            cells, pcells = [_name(me)], [_paper_label()]
            for a, ds, met in cols:
                r, p = keyed[(me, a, ds, met)]
                cells.append(ctx.cell(_get(r, met), _get(r, f"{met}_lo"), _get(r, f"{met}_hi"),
                                      bold=(me, a, ds, met) in bold, marks=ctx.marks(r, met)))
                pcells.append(_get(p, met))
            has_paper = any(v is not None for v in pcells[1:])
            rows.append((cells, [pcells[0]] + [ctx.paper(v) for v in pcells[1:]] if has_paper else None))
        outer = None
        if a_row is not None and a_row != last_outer:
            outer, last_outer = _name(a_row), a_row
        blocks.append((outer, _name(m), rows))

    _align_marks([r for b in blocks for r in b[2]], 1)
    n_label = len(label_names)
    body = _body(blocks, n_label + len(cols), n_label - 2)
    colspec = "l" * n_label + "r" * len(cols)
    return _wrap(colspec, _header(label_names, levels, [met for _, _, met in cols]), body, caption=caption, label=label,
                 note=ctx.note(note), star=star)


# --------------------------------------------------------------------------------------------
# Table 2: clean accuracy


def _paper_long_table2(paper: pd.DataFrame) -> dict:
    p = _prep(paper)
    if "dataset" not in p.columns:
        cols = [c for c in p.columns if c in DATASET_COLS or c.lower() in DATASET_ORDER]
        p = p.melt(id_vars=["model", "method", "train_attack"], value_vars=cols, var_name="dataset",
                   value_name="acc")
        p["dataset"] = p["dataset"].str.lower()
    val = "acc" if "acc" in p.columns else "clean_acc"
    return {(r["model"], r["method"], r["train_attack"], r["dataset"]): _num(r[val]) for _, r in p.iterrows()}


def _method_label(method: str, train_attack: str, show_train: bool = True) -> str:
    s = _name(method)
    return s + f" ({_name(train_attack)})" if (train_attack and show_train) else s


def table2_latex(df: pd.DataFrame, *, caption, label, paper: pd.DataFrame | None = None, bold: bool = False,
                 note=None, star: bool = False) -> str:
    """The paper's Table 2: clean test accuracy (%), rows model x method (train attack), columns
    datasets. ``paper``: table2_clean_accuracy.csv (wide) or paper.table2() (long)."""
    d = _prep(df)
    if d.empty:
        raise ValueError("no Table 2 rows")
    # clean-only rows (attack NaN) first, then any attacked row carrying the same clean accuracy
    d = d.assign(_attacked=d["attack"].notna() if "attack" in d.columns else False).sort_values(
        "_attacked", kind="stable")
    ours = {}
    for _, r in d.iterrows():
        k = (r["model"], r["method"], r["train_attack"], r["dataset"])
        if k not in ours or (_get(ours[k], "clean_acc") is None and _get(r, "clean_acc") is not None):
            ours[k] = r
    ref = _paper_long_table2(paper) if paper is not None else {}
    datasets = _order(d["dataset"], DATASET_ORDER)
    ctx = _Ctx()
    blocks = []
    for m in _order(d["model"], MODEL_ORDER):
        keys = sorted({k[1:3] for k in ours if k[0] == m}, key=_method_sort_key)
        if not keys:
            continue
        bolds = {}
        if bold:
            for ds in datasets:
                bolds[ds] = _bold_set({mt: _get(ours.get((m,) + mt + (ds,)), "clean_acc") for mt in keys})
        rows = []
        for mt in keys:
            cells, pvals = [_method_label(*mt)], []
            for ds in datasets:
                r = ours.get((m,) + mt + (ds,))
                cells.append(ctx.cell(_get(r, "clean_acc"), _get(r, "clean_lo"), _get(r, "clean_hi"),
                                      bold=mt in bolds.get(ds, ())))
                pvals.append(ref.get((m,) + mt + (ds,)))
            prow = [_paper_label()] + [ctx.paper(v) for v in pvals] if any(v is not None for v in pvals) else None
            rows.append((cells, prow))
        blocks.append((None, _name(m), rows))
    body = _body(blocks, 2 + len(datasets), 0)
    header = _header(["Model", "Method"], [], [_name(ds) for ds in datasets])
    return _wrap("ll" + "r" * len(datasets), header, body, caption=caption, label=label,
                 note=ctx.note(note), star=star)


def _method_sort_key(mt: tuple) -> tuple:
    """(method, train attack) rows in the paper's order: base, adv, FLAT, each by attack."""
    return (METHOD_ORDER.index(mt[0]) if mt[0] in METHOD_ORDER else 99,
            ATTACK_ORDER.index(mt[1]) if mt[1] in ATTACK_ORDER else -1, mt)


# --------------------------------------------------------------------------------------------
# Table 4: transfer to unforeseen attacks (AA)


def _paper_long_table4(paper: pd.DataFrame) -> dict:
    p = _prep(paper)
    if "attack" not in p.columns or p["attack"].isna().all():
        cols = [c for c in paper.columns if c.lower() in ATTACK_ORDER]
        p = p.drop(columns=["attack"], errors="ignore").melt(
            id_vars=["model", "method"], value_vars=cols, var_name="attack", value_name="AA")
        p["attack"] = p["attack"].str.lower()
    return {(r["model"], r["method"], r["attack"]): _num(r["AA"]) for _, r in p.iterrows()}


def table4_latex(df: pd.DataFrame, *, caption, label, paper: pd.DataFrame | None = None, note=None,
                 star: bool = False, paper_dataset: str = "sst2", paper_train_attack: str = "textfooler") -> str:
    """The paper's Table 4: after-attack accuracy (%) per attack, rows model x method.

    A cell may hold a string (why it was not measured): rendered n/a with a mark and the
    reason in the note. With several datasets the attacks are grouped under each dataset.
    ``paper`` (table4_transfer_sst2.csv, wide, or long model/method/attack/AA) is matched only
    for ``paper_dataset`` rows whose models were trained with ``paper_train_attack``."""
    d = _prep(df)
    d = d[d["attack"].notna()]
    if d.empty:
        raise ValueError("no Table 4 rows (no attacked rows)")
    ours = {}
    for _, r in d.iterrows():
        ours.setdefault((r["model"], r["method"], r["train_attack"], r["dataset"], r["attack"]), r)
    ref = _paper_long_table4(paper) if paper is not None else {}
    datasets = _order(d["dataset"], DATASET_ORDER)
    groups = [(ds, a) for ds in datasets for a in _order(d["attack"], ATTACK_ORDER)
              if any(k[3] == ds and k[4] == a for k in ours)]
    show_train = len({t for t in d["train_attack"] if t}) > 1
    ctx = _Ctx()
    blocks = []
    for m in _order(d["model"], MODEL_ORDER):
        keys = sorted({k[1:3] for k in ours if k[0] == m}, key=_method_sort_key)
        if not keys:
            continue
        bolds = {g: _bold_set({mt: _get(ours.get((m,) + mt + g), "AA") for mt in keys}) for g in groups}
        rows = []
        for mt in keys:
            cells, pvals = [_method_label(*mt, show_train=show_train)], []
            for g in groups:
                r = ours.get((m,) + mt + g)
                cells.append(ctx.cell(_get(r, "AA"), _get(r, "AA_lo"), _get(r, "AA_hi"), bold=mt in bolds[g],
                                      marks=ctx.marks(r, "AA")))
                ok = g[0] == paper_dataset and (mt[0] == "base" or mt[1] == paper_train_attack)
                pvals.append(ref.get((m, mt[0], g[1])) if ok else None)
            prow = [_paper_label()] + [ctx.paper(v) for v in pvals] if any(v is not None for v in pvals) else None
            rows.append((cells, prow))
        blocks.append((None, _name(m), rows))
    _align_marks([r for b in blocks for r in b[2]], 1)
    levels = [[(_name(ds), sum(g[0] == ds for g in groups)) for ds in datasets]] if len(datasets) > 1 else []
    header = _header(["Model", "Method"], levels, [_name(a) for _, a in groups])
    body = _body(blocks, 2 + len(groups), 0)
    return _wrap("ll" + "r" * len(groups), header, body, caption=caption, label=label,
                 note=ctx.note(note), star=star)


# --------------------------------------------------------------------------------------------
# Table 5: ablation over (beta, gamma)


def table5_latex(df: pd.DataFrame, *, caption, label, paper: pd.DataFrame | None = None, note=None,
                 star: bool = False) -> str:
    """The paper's Table 5: SA (clean_acc) and AA of LSTM-FLAT per (beta, gamma), ours beside the
    paper's (``paper``: table5_ablation.csv, columns beta, gamma, SA, AA)."""
    if df.empty or not {"beta", "gamma"} <= set(df.columns):
        raise ValueError("Table 5 needs rows with beta and gamma columns")
    pairs = sorted({(float(b), float(g)) for b, g in zip(df["beta"], df["gamma"])}, key=lambda x: (-x[0], -x[1]))

    def pick(rows, col, lo, hi):
        for _, r in rows.iterrows():
            v = _get(r, col)
            if v is not None:
                return v, _get(r, lo), _get(r, hi)
        return None, None, None

    ours = {}
    for b, g in pairs:
        rows = df[(df["beta"].astype(float) == b) & (df["gamma"].astype(float) == g)]
        ours[(b, g)] = {"SA": pick(rows, "clean_acc", "clean_lo", "clean_hi"), "AA": pick(rows, "AA", "AA_lo", "AA_hi")}
    ref = {}
    if paper is not None:
        for _, r in paper.iterrows():
            ref[(float(r["beta"]), float(r["gamma"]))] = {"SA": _num(r["SA"]), "AA": _num(r["AA"])}
    ctx = _Ctx(bold_text="Bold: the best of our rows (higher is better).")
    bolds = {c: _bold_set({k: ours[k][c][0] for k in pairs}) for c in ("SA", "AA")}
    body = []
    for k in pairs:
        cells = ["$%g$" % k[0], "$%g$" % k[1]]
        for c in ("SA", "AA"):
            cells.append(ctx.cell(*ours[k][c], bold=k in bolds[c]))
            if paper is not None:
                v = ref.get(k, {}).get(c)
                cells.append("--" if v is None else "\\textit{%s}" % _fixed(v, 2))
        body.append(" & ".join(cells) + " \\\\")
    if paper is not None:
        ctx.used.discard("paper")
        levels = [[("SA (\\%)", 2), ("AA (\\%)", 2)]]
        leaf = ["Ours", "\\textit{Paper}"] * 2
    else:
        levels, leaf = [], ["SA (\\%)", "AA (\\%)"]
    header = _header(["$\\beta$", "$\\gamma$"], levels, leaf)
    return _wrap("ll" + "r" * len(leaf), header, body, caption=caption, label=label, note=ctx.note(note),
                 star=star)

