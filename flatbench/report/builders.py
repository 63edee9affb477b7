"""Builders of Table 2, Table 3, LIME and the orderings: results in (one row per cell and attack, as
`flatbench.results.collect` gives them, seeds aggregated or not), a format-neutral `Table` out.

Every number carries its uncertainty: 95 % CIs, significance marks († FLAT differs from adv, ‡ a
method differs from base) with the p-values behind them, the across-seed sd on "mean of n" rows.
Renderers (flatbench.report.formats) turn the tables into Markdown, LaTeX, HTML, JSON.
"""

from __future__ import annotations

import pandas as pd

from flatbench.analysis.seeds import ALPHA, N_BOOT, N_PERM, ordering_counts
from flatbench.report import paper
from flatbench.registry import MODELS
from flatbench.report.paper import PRETTY
from flatbench.report.table import MISSING, Cell, Column, Row, Table, num

MARK_ADV, MARK_BASE = "†", "‡"
CLEAN_CI = ("clean_lo", "clean_hi")
# Models not in the paper, shown beside the paper row of the model they stand in for.
ORIENTATION = {n: s.stands_for for n, s in MODELS.specs().items() if s.stands_for}
KEY_FIELDS = ("model", "dataset", "method", "train_attack", "attack", "seed", "variant", "n_seeds")
# IG completeness (interpret stage metrics ig_rel_delta_*): a warning when the median relative
# delta reaches IG_DELTA_MEDIAN or the largest reaches IG_DELTA_MAX
IG_DELTA_MEDIAN, IG_DELTA_MAX = 0.01, 0.05


def pretty(x) -> str:
    return PRETTY.get(x, x)


def fmt(v, digits: int = 2) -> str:
    v = num(v)
    return MISSING if v is None else f"{v:.{digits}f}"


def rows_of(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def aggregated(r: dict) -> bool:
    """A "mean of n seeds" row (from `aggregate_seeds`)."""
    return num(r.get("n_seeds")) is not None and num(r.get("seed")) is None


def fewer_attacked(r: dict) -> int | None:
    """How many of a "mean of n" row's seeds were attacked, where fewer than n (base models are
    shared across attacks: their clean accuracy can cover seeds one attack has not reached)."""
    n, m = num(r.get("n_seeds")), num(r.get("n_seeds_attacked"))
    return int(m) if n is not None and m is not None and 0 < m < n else None


def seed_label(r: dict, attacked: bool = True) -> str:
    """The Seed column: the seed, or "mean of n" (with how many of them were attacked where fewer:
    ``attacked`` False for a table without after-attack numbers)."""
    if aggregated(r):
        m = fewer_attacked(r) if attacked else None
        return f"mean of {int(r['n_seeds'])}" + (f" (attacked: {m})" if m else "")
    s = num(r.get("seed"))
    return MISSING if s is None else f"{s:g}"


def show_seed(df: pd.DataFrame) -> bool:
    return "seed" in df.columns and (df["seed"].nunique(dropna=False) > 1 or "n_seeds" in df.columns
                                     and (pd.to_numeric(df["n_seeds"], errors="coerce") > 1).any())


def row_key(r: dict) -> dict:
    """What identifies a results row (raw names, None for missing)."""
    out = {}
    for k in KEY_FIELDS:
        v = r.get(k)
        out[k] = None if v is None or (isinstance(v, float) and v != v) else v
    out["train_attack"] = out["train_attack"] or ""
    return out


def refs_of(method) -> tuple:
    """The references a method's row is tested against, with their marks: FLAT against adv (†) and
    base (‡), every other method but base against base (‡)."""
    return {"flat": (("adv", MARK_ADV), ("base", MARK_BASE)), "base": ()}.get(method, (("base", MARK_BASE),))


def marks(r: dict, metric: str, alpha: float = ALPHA) -> str:
    """Significance marks of a row's metric (paired two-sided tests, p < alpha)."""
    return "".join(sym for ref, sym in refs_of(r.get("method"))
                   if (p := num(r.get(f"{metric}_p_{ref}"))) is not None and p < alpha)


def stat(r: dict, col: str, digits: int = 2, ci_digits: int | None = None, *, tested: bool = False,
         ci: tuple[str, str] | None = None) -> Cell:
    """A measured cell: value, 95 % CI (`<col>_lo`/`_hi` or the columns `ci` names), the across-seed
    sd on aggregated rows, and (tested=True) the paired tests' p-values and marks."""
    lo_c, hi_c = ci or (f"{col}_lo", f"{col}_hi")
    p = {}
    if tested:
        p = {ref: v for ref, _ in refs_of(r.get("method")) if (v := num(r.get(f"{col}_p_{ref}"))) is not None}
    return Cell(r.get(col), lo=r.get(lo_c), hi=r.get(hi_c), sd=r.get(f"{col}_sd") if aggregated(r) else None,
                marks=marks(r, col) if tested else "", p=p, digits=digits, ci_digits=ci_digits)


def paper_cell(v) -> Cell:
    return Cell(v)


def diff(ours, ref, digits: int = 2) -> Cell:
    ours, ref = num(ours), num(ref)
    return Cell(None if ours is None or ref is None else ours - ref, digits=digits, signed=True)


def count(v) -> Cell:
    return Cell(v, digits=0)


def label_cells(r: dict, with_seed: bool, attacked: bool = True, **extra) -> dict:
    out = {"model": Cell(pretty(r["model"])), "dataset": Cell(pretty(r["dataset"]))}
    out.update({k: Cell(v) for k, v in extra.items()})
    if with_seed:
        out["seed"] = Cell(seed_label(r, attacked))
    return out


# ----------------------------------------------------------------------------------------------
# Table 2


def clean_table(df: pd.DataFrame) -> Table:
    """Table 2: clean test accuracy (%), with its exact 95 % CI where known."""
    ref = paper.table2().set_index(["model", "method", "train_attack", "dataset"])["acc"]
    with_seed = show_seed(df)
    cols = [Column("model", "Model"), Column("method", "Method"), Column("dataset", "Dataset")]
    cols += [Column("seed", "Seed")] if with_seed else []
    cols += [Column("clean_paper", "Paper"), Column("clean_acc", "Ours"), Column("clean_diff", "Δ")]
    rows, seen = [], set()
    for r in rows_of(df):
        k = (r["model"], r["method"], r.get("train_attack") or "", r["dataset"])
        sk = k + ((seed_label(r, attacked=False),) if with_seed else ()) + (r.get("variant") or "",)
        if sk in seen:
            continue
        seen.add(sk)
        p = ref.get((ORIENTATION.get(r["model"], r["model"]),) + k[1:])
        method = pretty(r["method"]) + (f" ({pretty(r['train_attack'])})" if r.get("train_attack") else "")
        cells = label_cells(r, with_seed, attacked=False, method=method)
        cells.update(clean_paper=paper_cell(p), clean_acc=stat(r, "clean_acc", 2, 1, ci=CLEAN_CI),
                     clean_diff=diff(r.get("clean_acc"), p))
        rows.append(Row(row_key(r), cells))
    return Table("table2", cols, rows)


# ----------------------------------------------------------------------------------------------
# Table 3


def ig_delta(r: dict) -> dict | None:
    """The interpret stage's IG completeness (relative delta: median, p95, max), if it recorded it."""
    d = {k: num(r.get(f"ig_rel_delta_{k}")) for k in ("median", "p95", "max")}
    return d if any(v is not None for v in d.values()) else None


def ig_delta_cell(d: dict | None) -> Cell:
    if d is None:
        return Cell()
    warn = (d["median"] or 0) >= IG_DELTA_MEDIAN or (d["max"] or 0) >= IG_DELTA_MAX
    return Cell(d["median"], text="/".join(fmt(d[k], 3) for k in ("median", "p95", "max")) + (" ⚠" if warn else ""),
                note="IG completeness: relative delta median/p95/max" + (" (over the threshold)" if warn else ""))


def robustness_table(df: pd.DataFrame) -> Table:
    """Table 3: after-attack accuracy (%), Kendall's tau and top-5 intersection (IG), each with
    its 95 % CI and significance marks (see LEGEND), the succeeded-only and magnitude readings,
    the pair counts and (where the interpret stages recorded it) IG's completeness delta."""
    ref = paper.table3().set_index(["attack", "model", "method", "dataset"])
    with_seed = show_seed(df)
    recs = [r for r in rows_of(df) if isinstance(r.get("attack"), str)]
    with_delta = any(ig_delta(r) for r in recs)
    cols = [Column("attack", "Attack"), Column("model", "Model"), Column("method", "Method"),
            Column("dataset", "Dataset")] + ([Column("seed", "Seed")] if with_seed else [])
    cols += [Column(k, t) for k, t in (
        ("clean_acc", "Clean"), ("AA_paper", "AA paper"), ("AA", "AA ours"), ("AA_diff", "ΔAA"),
        ("KT_paper", "KT paper"), ("KT", "KT ours"), ("TI_paper", "TI paper"), ("TI", "TI ours"),
        ("KT_succ", "KT succ"), ("TI_succ", "TI succ"), ("KT_abs", "KT abs"), ("TI_abs", "TI abs"),
        ("n_pairs", "Pairs"), ("degenerate", "Deg. KT/TI"))]
    cols += [Column("ig_delta", "IG δ med/p95/max")] if with_delta else []
    rows = []
    for r in recs:
        ta = r.get("train_attack") or ""
        k = (r["attack"], ORIENTATION.get(r["model"], r["model"]), r["method"], r["dataset"])
        p = ref.loc[k] if k in ref.index and (r["method"] == "base" or ta == r["attack"]) else None
        pa = None if p is None else p["AA"]
        method = pretty(r["method"]) + (f" ({pretty(ta)})" if ta and ta != r["attack"] else "") \
            + (f" [{r['variant']}]" if isinstance(r.get("variant"), str) and r.get("variant") else "")
        cells = label_cells(r, with_seed, attack=pretty(r["attack"]), method=method)
        deg = (count(r.get("KT_degenerate")).display(), count(r.get("TI_degenerate")).display())
        cells.update(clean_acc=Cell(r.get("clean_acc")), AA_paper=paper_cell(pa),
                     AA=stat(r, "AA", 2, 1, tested=True), AA_diff=diff(r.get("AA"), pa),
                     KT_paper=paper_cell(None if p is None else p["KT"]), KT=stat(r, "KT", 2, 2, tested=True),
                     TI_paper=paper_cell(None if p is None else p["TI"]), TI=stat(r, "TI", 2, 2, tested=True),
                     KT_succ=stat(r, "KT_succ", 2, 2), TI_succ=stat(r, "TI_succ", 2, 2),
                     KT_abs=Cell(r.get("KT_abs")), TI_abs=Cell(r.get("TI_abs")), n_pairs=count(r.get("n_pairs")),
                     degenerate=Cell(None if deg == (MISSING, MISSING) else "/".join(deg)))
        if with_delta:
            cells["ig_delta"] = ig_delta_cell(ig_delta(r))
        rows.append(Row(row_key(r), cells))
    return Table("table3", cols, rows)


def ig_delta_warning(table: Table) -> str | None:
    """One line naming the Table 3 rows whose IG completeness delta is over the thresholds."""
    bad = [r for r in table.rows if (r.get("ig_delta").text or "").endswith("⚠")]
    if not bad:
        return None
    names = "; ".join(" ".join(r.get(k).display() for k in ("model", "method", "dataset", "attack"))
                      + (f" seed {r.get('seed').display()}" if "seed" in r.cells else "") for r in bad)
    return (f"⚠ IG completeness: the relative delta |Σ attributions − (F(x) − F(baseline))| / |F(x) − F(baseline)| "
            f"has median ≥ {IG_DELTA_MEDIAN:g} or max ≥ {IG_DELTA_MAX:g} in: {names} (more IG steps would "
            "tighten these attributions).")


def lime_table(df: pd.DataFrame) -> Table:
    """LIME consistency (the paper's appendix Table 8; its numbers are not available to us); one
    row per cell and seed, with the seed column as Table 3's where there are several."""
    with_seed = show_seed(df)
    cols = [Column("attack", "Attack"), Column("model", "Model"), Column("method", "Method"),
            Column("dataset", "Dataset")] + ([Column("seed", "Seed")] if with_seed else [])
    cols += [Column("LIME_KT", "KT ours"), Column("LIME_TI", "TI ours"), Column("LIME_KT_abs", "KT abs"),
             Column("LIME_TI_abs", "TI abs")]
    rows = []
    for r in rows_of(df):
        if num(r.get("LIME_KT")) is None:
            continue
        cells = label_cells(r, with_seed, attack=pretty(r["attack"]), method=pretty(r["method"]))
        cells.update({c: Cell(r.get(c)) for c in ("LIME_KT", "LIME_TI", "LIME_KT_abs", "LIME_TI_abs")})
        rows.append(Row(row_key(r), cells))
    return Table("lime", cols, rows)


# ----------------------------------------------------------------------------------------------
# orderings


def ordering_cell(g: pd.DataFrame) -> Cell:
    """yes / no: the ordering holds or not; * = significant (p < 0.05); = tie; – not comparable."""
    if g.empty or pd.isna(g["holds"].iloc[0]):
        return Cell()
    r = g.iloc[0]
    p = {"p": float(r["p"])} if num(r["p"]) is not None else {}
    if r["a"] == r["b"]:
        return Cell("=", p=p)
    return Cell(("yes" if r["holds"] else "no") + ("*" if r["significant"] or r["reversed"] else ""), p=p)


def orderings_table(orders: pd.DataFrame) -> Table:
    """`flatbench.analysis.seeds.orderings` wide: one row per model/dataset/attack, one column per
    comparison and metric."""
    if orders.empty:
        return Table("orderings", [])
    orders = orders.copy()
    # a row per model/dataset/attack: the comparisons of a defence without a train attack
    # (freelb>base) join the row of the models trained with that same attack
    ta = orders["train_attack"].fillna("")
    orders["row_ta"] = [t if t and t != a else "" for t, a in zip(ta, orders["attack"])]
    comps = list(dict.fromkeys(["FLAT>adv", "FLAT>base", "adv>base", *orders["comparison"]]))
    cols = [Column("attack", "Attack"), Column("model", "Model"), Column("dataset", "Dataset")]
    cols += [Column(f"{comp} {m}") for comp in comps for m in ("AA", "KT", "TI")]
    rows = []
    for k, g in orders.groupby(["attack", "model", "dataset", "row_ta"], sort=False):
        attack = pretty(k[0]) + (f" (trained {pretty(k[3])})" if k[3] else "")
        cells = {"attack": Cell(attack), "model": Cell(pretty(k[1])), "dataset": Cell(pretty(k[2]))}
        for comp in comps:
            for m in ("AA", "KT", "TI"):
                cells[f"{comp} {m}"] = ordering_cell(g[(g["comparison"] == comp) & (g["metric"] == m)])
        rows.append(Row({"attack": k[0], "model": k[1], "dataset": k[2], "train_attack": k[3]}, cells))
    return Table("orderings", cols, rows)


def orderings_summary(orders: pd.DataFrame) -> list[str]:
    """One line per comparison: how many model/dataset/attack settings show the ordering
    significantly (p < 0.05), of how many comparable, per metric; and significant reversals."""
    counts = ordering_counts(orders)
    lines = []
    for comp in dict.fromkeys(counts["comparison"]):
        c = counts[counts["comparison"] == comp]
        parts = [f"{r.metric} {r.significant}/{r.n}" + (f" (reversed: {r.reversed})" if r.reversed else "")
                 for r in c.itertuples()]
        lines.append(f"{comp}, significant (p < {ALPHA:g}) of comparable: " + ", ".join(parts))
    return lines


# ----------------------------------------------------------------------------------------------
# notes


LEGEND = (f"95 % CIs in brackets. AA and clean accuracy: exact binomial (Clopper–Pearson) over the attacked "
          f"(test) examples, robust = the attack failed. KT/TI: seeded stratified bootstrap ({N_BOOT} "
          "replicates, pairs resampled within each gold class) of the class-macro mean. "
          f"Marks (two-sided paired tests, p < {ALPHA:g}, on the examples both models share, joined by "
          f"example id): {MARK_ADV} FLAT differs from adv (same train attack), {MARK_BASE} FLAT, adv or another defence (e.g. freelb) differs "
          "from base, same model/dataset/attack/seed; AA by the exact McNemar test of per-example "
          f"robustness, KT/TI by a sign-flip permutation test ({N_PERM} draws) of the class-macro mean "
          "difference. Pair rule: KT/TI \"ours\" (the headline) use the paper's pairs, every attacked "
          "example with an adversarial counterpart (attack succeeded or failed; skipped examples and "
          "texts the attack left unchanged are removed); \"succ\" only the pairs whose attack flipped "
          "the prediction (CI, no marks). Degenerate pairs (KT: fewer than 2 aligned words or a constant "
          "side; TI@5: fewer than 5 aligned words) have no value and are left out of the means; "
          "\"Deg. KT/TI\" counts them, \"Pairs\" counts all pairs. Several seeds: per-seed rows, then "
          "\"mean of n\" rows with the across-seed mean ± sd (ddof 1), CIs pooled over all seeds' "
          "examples and tests on the pooled pairs matched by (seed, example).")
RANKING_NOTE = ("KT/TI: Kendall's tau and top-5 intersection of IG word attributions of each original/"
                "adversarial pair, toward the gold label, macro-averaged over gold classes. \"ours\" ranks "
                "words by signed attribution (evidence for the label); \"abs\" by magnitude, as the "
                "metrics' sources (Chen et al. 2019; Ghorbani et al. 2019) do. The paper does not say which.")
CLEAN_NOTE = "95 % CIs in brackets: exact binomial (Clopper–Pearson) over the test examples."
LEGEND_SHORT = (f"95 % CIs in brackets: exact binomial (Clopper–Pearson) over the attacked examples (robust = "
                f"the attack failed). Marks: {MARK_ADV} FLAT differs from adv, {MARK_BASE} FLAT, adv or another defence (e.g. freelb) differs from "
                f"base (exact McNemar test on the shared examples, p < {ALPHA:g}).")
ABLATION_NOTE = ("95 % CIs in brackets: exact binomial (Clopper–Pearson), SA over the test examples, AA over "
                 "the attacked examples (robust = the attack failed).")
ORDERINGS_NOTE = ("yes / no: the ordering holds or not in our numbers (aggregated over seeds where there are "
                  f"several); * = the paired test finds the two differ (p < {ALPHA:g}), so \"yes*\" is a "
                  "significant ordering and \"no*\" a significant reversal; = tie; – not comparable.")
LATEX_NOTE = (f"95% CIs: exact binomial (Clopper-Pearson) for accuracies, stratified bootstrap ({N_BOOT} "
              "replicates) of the class-macro mean for KT/TI. Tests: exact McNemar (AA), paired sign-flip "
              "permutation test (KT/TI) on the examples both models share.")


def stand_in_note(models) -> str | None:
    stand_ins = sorted(set(models) & set(ORIENTATION))
    if not stand_ins:
        return None
    return "; ".join(f"{pretty(m)} rows show the paper's {pretty(ORIENTATION[m])} numbers, for orientation only"
                     for m in stand_ins)


__all__ = ["clean_table", "robustness_table", "lime_table", "orderings_table", "orderings_summary", "marks", "stat",
           "ig_delta_warning", "LEGEND", "RANKING_NOTE", "CLEAN_NOTE", "LEGEND_SHORT", "ABLATION_NOTE",
           "ORDERINGS_NOTE", "LATEX_NOTE", "ORIENTATION", "MARK_ADV", "MARK_BASE"]
