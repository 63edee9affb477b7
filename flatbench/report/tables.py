"""Markdown / LaTeX tables: the paper's numbers and ours side by side, with the difference, and
the uncertainty of ours (95 % CIs, significance marks, seed spread; see flatbench.results)."""

from __future__ import annotations

import math

import pandas as pd
from tabulate import tabulate

from flatbench.interpret.plots import save_figure
from flatbench.report import paper
from flatbench.report.paper import PRETTY
from flatbench.registry import ATTACKS
from flatbench.results import (
    ALPHA,
    N_BOOT,
    N_PERM,
    aggregate_seeds,
    has_several_seeds,
    ordering_counts,
    orderings,
    with_aggregates,
)

FORMATS = {"markdown": "github", "latex": "latex_booktabs"}
MARK_ADV, MARK_BASE = "†", "‡"

def _p(x):
    return PRETTY.get(x, x)


def _f(v) -> float | None:
    """A finite float, or None (missing / NaN / not a number)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _fmt(v, digits=2):
    v = _f(v)
    return "–" if v is None else f"{v:.{digits}f}"


def _diff(ours, ref, digits=2):
    ours, ref = _f(ours), _f(ref)
    if ours is None or ref is None:
        return "–"
    return f"{ours - ref:+.{digits}f}"


def marks(r: dict, metric: str, alpha: float = ALPHA) -> str:
    """Significance marks of a cell: on FLAT rows † = differs from adv, ‡ = differs from base;
    on the rows of every other method but base (adv, freelb) ‡ = differs from base (paired
    two-sided test, p < alpha)."""
    method = r.get("method")
    refs = {"flat": (("adv", MARK_ADV), ("base", MARK_BASE)), "base": ()}.get(method, (("base", MARK_BASE),))
    out = ""
    for ref, sym in refs:
        p = _f(r.get(f"{metric}_p_{ref}"))
        if p is not None and p < alpha:
            out += sym
    return out


def cell(r: dict, col: str, digits: int = 2, ci_digits: int | None = None, mark: str = "",
         ci: tuple[str, str] | None = None) -> str:
    """`value[marks][ ± sd][ [lo, hi]]`: the number, its significance marks, the across-seed sd
    (aggregated rows only: `<col>_sd`) and its 95 % CI (`<col>_lo`, `<col>_hi`, or the columns
    `ci` names), e.g. `12.33† [8.9, 16.4]` or `12.33 ± 1.20 [10.9, 13.9]`; `–` when not measured."""
    v = _f(r.get(col))
    if v is None:
        return "–"
    s = f"{v:.{digits}f}{mark}"
    sd = _f(r.get(f"{col}_sd")) if _aggregated(r) else None
    if sd is not None:
        s += f" ± {sd:.{digits}f}"
    lo_c, hi_c = ci or (f"{col}_lo", f"{col}_hi")
    lo, hi = _f(r.get(lo_c)), _f(r.get(hi_c))
    if lo is not None and hi is not None:
        cd = digits if ci_digits is None else ci_digits
        s += f" [{lo:.{cd}f}, {hi:.{cd}f}]"
    return s


def _aggregated(r: dict) -> bool:
    return _f(r.get("n_seeds")) is not None and _f(r.get("seed")) is None


def _seed(r: dict) -> str:
    if _aggregated(r):
        return f"mean of {int(r['n_seeds'])}"
    s = _f(r.get("seed"))
    return "–" if s is None else f"{s:g}"


def _count(v) -> str:
    v = _f(v)
    return "–" if v is None else f"{v:.0f}"


def _rows(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def _show_seed(df: pd.DataFrame) -> bool:
    return "seed" in df.columns and (df["seed"].nunique(dropna=False) > 1 or "n_seeds" in df.columns
                                     and (pd.to_numeric(df["n_seeds"], errors="coerce") > 1).any())


CLEAN_CI = ("clean_lo", "clean_hi")

# Models not in the paper, shown beside the paper row of the model they stand in for.
ORIENTATION = {"minilm": "bert"}


def clean_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 2: clean test accuracy (%), with its exact 95 % CI where known."""
    ref = paper.table2().set_index(["model", "method", "train_attack", "dataset"])["acc"]
    show_seed = _show_seed(df)
    rows = []
    seen = set()
    for r in _rows(df):
        k = (r["model"], r["method"], r.get("train_attack") or "", r["dataset"])
        sk = k + ((_seed(r),) if show_seed else ()) + (r.get("variant") or "",)
        if sk in seen:
            continue
        seen.add(sk)
        p = ref.get((ORIENTATION.get(r["model"], r["model"]),) + k[1:])
        row = {"Model": _p(r["model"]),
               "Method": _p(r["method"]) + (f" ({_p(r['train_attack'])})" if r.get("train_attack") else ""),
               "Dataset": _p(r["dataset"])}
        if show_seed:
            row["Seed"] = _seed(r)
        row.update({"Paper": _fmt(p), "Ours": cell(r, "clean_acc", 2, 1, ci=CLEAN_CI), "Δ": _diff(r.get("clean_acc"), p)})
        rows.append(row)
    return pd.DataFrame(rows)


def robustness_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 3: after-attack accuracy (%), Kendall's tau and top-5 intersection (IG), each with
    its 95 % CI and significance marks (see LEGEND), the succeeded-only and magnitude readings,
    and the pair counts."""
    ref = paper.table3().set_index(["attack", "model", "method", "dataset"])
    show_seed = _show_seed(df)
    rows = []
    for r in _rows(df):
        if not isinstance(r.get("attack"), str):
            continue
        ta = r.get("train_attack") or ""
        k = (r["attack"], ORIENTATION.get(r["model"], r["model"]), r["method"], r["dataset"])
        p = ref.loc[k] if k in ref.index and (r["method"] == "base" or ta == r["attack"]) else None
        pa = None if p is None else p["AA"]
        row = {"Attack": _p(r["attack"]), "Model": _p(r["model"]),
               "Method": _p(r["method"]) + (f" ({_p(ta)})" if ta and ta != r["attack"] else "")
               + (f" [{r['variant']}]" if isinstance(r.get("variant"), str) and r.get("variant") else ""),
               "Dataset": _p(r["dataset"])}
        if show_seed:
            row["Seed"] = _seed(r)
        deg = (_count(r.get("KT_degenerate")), _count(r.get("TI_degenerate")))
        row.update({"Clean": _fmt(r.get("clean_acc")),
                    "AA paper": _fmt(pa), "AA ours": cell(r, "AA", 2, 1, marks(r, "AA")),
                    "ΔAA": _diff(r.get("AA"), pa),
                    "KT paper": _fmt(None if p is None else p["KT"]), "KT ours": cell(r, "KT", 2, 2, marks(r, "KT")),
                    "TI paper": _fmt(None if p is None else p["TI"]), "TI ours": cell(r, "TI", 2, 2, marks(r, "TI")),
                    "KT succ": cell(r, "KT_succ", 2, 2), "TI succ": cell(r, "TI_succ", 2, 2),
                    "KT abs": _fmt(r.get("KT_abs")), "TI abs": _fmt(r.get("TI_abs")),
                    "Pairs": _count(r.get("n_pairs")),
                    "Deg. KT/TI": "–" if deg == ("–", "–") else "/".join(deg)})
        rows.append(row)
    return pd.DataFrame(rows)


def _bae_paper() -> dict:
    """(model, method) -> (best estimate, tier) of Table 4's reconstructed BAE column."""
    return {(r.model, r.method): (float(r.AA), r.tier) for r in paper.table4_bae().itertuples()}


def transfer_paper_cell(model: str, method: str, attack: str) -> tuple[float | None, str, str]:
    """The paper's Table 4 number for a cell: (value, shown text, tier). BAE is reconstructed from
    broken OCR (shared/paper/table4_bae_reconstruction.csv): tier A cells are shown as they are
    with "(A)", tier B / C best estimates with a leading "~" and their tier; other columns are
    transcribed cleanly (tier "")."""
    if attack == "bae":
        est = _bae_paper().get((ORIENTATION.get(model, model), method))
        if est is None:
            return None, "–", ""
        v, tier = est
        return v, (f"{v:.2f} (A)" if tier == "A" else f"~{v:.2f} ({tier})"), tier
    ref = paper.table4().set_index(["model", "method", "attack"])["AA"]
    v = _f(ref.get((ORIENTATION.get(model, model), method, attack)))
    return v, _fmt(v), ""


def _unavailable(r: dict) -> str:
    u = r.get("unavailable")
    return u if isinstance(u, str) and u else ""


def transfer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 4: after-attack accuracy (%) on SST2 under unforeseen attacks, with 95 % CIs.

    A row with an ``unavailable`` reason (an attack whose resources are missing here) shows the
    reason ("online only: needs ...") instead of a number. BAE's paper cells carry their
    reconstruction tier (see `transfer_paper_cell`); Δ against a tier B / C estimate has a "~"."""
    show_seed = _show_seed(df)
    rows = []
    for r in _rows(df):
        if not isinstance(r.get("attack"), str):
            continue
        p, ptext, tier = transfer_paper_cell(r["model"], r["method"], r["attack"])
        row = {"Model": _p(r["model"]), "Method": _p(r["method"]), "Attack": _p(r["attack"])}
        if show_seed:
            row["Seed"] = _seed(r)
        reason = _unavailable(r)
        d = _diff(r.get("AA"), p)
        if tier in ("B", "C") and d != "–":
            d = "~" + d
        row.update({"AA paper": ptext, "AA ours": reason or cell(r, "AA", 2, 1, marks(r, "AA")),
                    "Δ": "–" if reason else d})
        rows.append(row)
    return pd.DataFrame(rows)


TRANSFER_ORDER = tuple(a for a in ATTACKS.names() if a != "textfooler")  # Table 4: unforeseen by TextFooler-trained models


def transfer_wide(df: pd.DataFrame) -> pd.DataFrame:
    """Table 4 in the paper's layout: one row per model and method, one column per attack, each
    cell `ours [CI] / paper` (or the reason it was not measured)."""
    attacks = [a for a in TRANSFER_ORDER if a in set(df.get("attack", []))] + sorted(
        a for a in set(df.get("attack", [])) if isinstance(a, str) and a not in TRANSFER_ORDER)
    rows = {}
    for r in _rows(df):
        if not isinstance(r.get("attack"), str):
            continue
        k = (r["model"], r["method"], r.get("train_attack") or "") + ((_seed(r),) if _show_seed(df) else ())
        row = rows.setdefault(k, {"Model": _p(r["model"]),
                                  "Method": _p(r["method"]) + (f" ({_p(r['train_attack'])})" if r.get("train_attack")
                                                               else ""),
                                  **({"Seed": _seed(r)} if _show_seed(df) else {}),
                                  "Clean": cell(r, "clean_acc", 2, 1, ci=CLEAN_CI)})
        _, ptext, _ = transfer_paper_cell(r["model"], r["method"], r["attack"])
        reason = _unavailable(r)
        ours = reason or cell(r, "AA", 2, 1, marks(r, "AA"))
        row[_p(r["attack"])] = f"{ours} / {ptext}"
    out = pd.DataFrame(list(rows.values()))
    cols = [c for c in ("Model", "Method", "Seed", "Clean") if c in out.columns] + [_p(a) for a in attacks
                                                                                   if _p(a) in out.columns]
    return out[cols] if not out.empty else out


def transfer_orderings(df: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Per model and attack: does FLAT > adv, FLAT > base, adv > base hold in AA (ours), is it
    significant (exact McNemar on the shared test examples), and does the paper's Table 4 show
    it? Cells `yes` / `no`, `*` = p < alpha, `–` not comparable."""
    orders = orderings(df, alpha)
    if orders.empty:
        return pd.DataFrame()
    orders = orders[orders["metric"] == "AA"]
    rows = []
    for (attack, model), g in orders.groupby(["attack", "model"], sort=False):
        row = {"Attack": _p(attack), "Model": _p(model)}
        for comp, hi, lo in (("FLAT>adv", "flat", "adv"), ("FLAT>base", "flat", "base"), ("adv>base", "adv", "base")):
            gg = g[g["comparison"] == comp]
            ours = _ordering_cell(gg)
            p = _f(gg["p"].iloc[0]) if not gg.empty else None
            a, _, _ = transfer_paper_cell(model, hi, attack)
            b, _, _ = transfer_paper_cell(model, lo, attack)
            row[f"{comp} ours"] = ours + (f" (p={p:.3g})" if p is not None and ours not in ("–", "=") else "")
            row[f"{comp} paper"] = "–" if a is None or b is None else ("yes" if a > b else "no" if a < b else "=")
        rows.append(row)
    return pd.DataFrame(rows)


TRANSFER_NOTE = ("AA = after-attack accuracy (%) on a seeded random subset of the SST2 test set (seed 13; the "
                 "attacked count is in the CSV, `attacked_n`). 95 % CIs in brackets: exact binomial "
                 "(Clopper–Pearson) over the attacked examples (robust = the attack failed). Marks: "
                 f"{MARK_ADV} FLAT differs from adv, {MARK_BASE} FLAT, adv or another defence (e.g. freelb) differs from base (exact McNemar test "
                 f"of per-example robustness on the shared examples, p < {ALPHA:g}). Paper BAE cells are "
                 "reconstructed from broken OCR (shared/paper/table4_bae_reconstruction.csv): \"(A)\" = fragment "
                 "and tail agree (transcribed), \"~x (B)\" = tens digit + tail, unconfirmed, \"~x (C)\" = the "
                 "least certain reading; Δ against a B/C estimate carries a \"~\". \"online only: needs …\" = the "
                 "attack's resources do not exist offline here; it runs where they are present.")


def transfer_report(grid, df: pd.DataFrame, deviations: list[str], progress: dict,
                    unavailable: dict[str, str] | None = None, fmt: str = "markdown") -> str:
    """`flatbench transfer`'s Markdown: the wide Table 4 (ours / paper), the long table with Δ,
    the orderings against the paper's, what could not run here and why, the deviations."""
    h = lambda t: f"## {t}"  # noqa: E731
    agg = aggregate_seeds(df) if not df.empty else df
    sections = [h(f"{grid.name}: {grid.description}".strip())]
    sections.append(render(transfer_wide(agg), fmt))
    sections.append("Cells: ours [95 % CI] / paper.")
    sections.append(h("Ours beside the paper, cell by cell"))
    sections.append(render(transfer_table(agg), fmt))
    sections.append(TRANSFER_NOTE)
    orders = transfer_orderings(agg)
    if not orders.empty:
        sections.append(h("Orderings (AA): FLAT > adv > base?"))
        sections.append(render(orders, fmt))
        sections.append("ours: yes / no = the ordering holds in our AA; * = exact McNemar p < 0.05 (significant; "
                        "\"no*\" a significant reversal); = tie; – not comparable. paper: the same ordering in "
                        "the paper's Table 4 (BAE: reconstructed values).")
    if unavailable:
        sections.append(h("Attacks not run here"))
        sections.append("\n".join(f"- {_p(a)}: {why}" for a, why in unavailable.items()))
    sections.append(f"{progress['done']}/{progress['total']} stages of the runnable attacks complete.")
    if deviations:
        sections.append(h("Deviations from the paper"))
        sections.append("\n".join("- " + d for d in deviations))
    return "\n\n".join(sections) + "\n"


def ablation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 5: standard (clean) and after-attack accuracy of LSTM-FLAT for each (beta, gamma)."""
    ref = paper.table5()
    show_seed = _show_seed(df)
    rows = []
    for r in _rows(df):
        p = ref[(ref["beta"] == r.get("beta")) & (ref["gamma"] == r.get("gamma"))]
        sa, aa = (None, None) if p.empty else (float(p["SA"].iloc[0]), float(p["AA"].iloc[0]))
        row = {"β": f"{r['beta']:g}", "γ": f"{r['gamma']:g}"}
        if show_seed:
            row["Seed"] = _seed(r)
        row.update({"SA paper": _fmt(sa), "SA ours": cell(r, "clean_acc", 2, 1, ci=CLEAN_CI),
                    "AA paper": _fmt(aa), "AA ours": cell(r, "AA", 2, 1), "ΔAA": _diff(r.get("AA"), aa)})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_transfer(df: pd.DataFrame, path, title: str = "") -> list:
    """Table 4 as a figure: AA (%) per attack, one bar per model/method with its 95 % CI, the
    paper's value as a marker (hollow for a reconstructed BAE tier B/C estimate); attacks not run
    here are labelled with the reason. Returns [path] (nothing without attacked rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    d = df[df["attack"].apply(lambda a: isinstance(a, str))] if "attack" in df.columns else df.iloc[0:0]
    if d.empty:
        return []
    attacks = [a for a in TRANSFER_ORDER if a in set(d["attack"])] + sorted(set(d["attack"]) - set(TRANSFER_ORDER))
    groups = list(dict.fromkeys(zip(d["model"], d["method"])))
    width = 0.8 / max(1, len(groups))
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(attacks), 3.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    recs = {(r["model"], r["method"], r["attack"]): r for r in _rows(d)}
    for gi, (m, meth) in enumerate(groups):
        xs, ys, lo, hi, px, py, hollow = [], [], [], [], [], [], []
        for ai, a in enumerate(attacks):
            r = recs.get((m, meth, a), {})
            x = ai - 0.4 + width * (gi + 0.5)
            v = _f(r.get("AA"))
            if v is not None and not _unavailable(r):
                xs.append(x)
                ys.append(v)
                lo.append(v - (_f(r.get("AA_lo")) if _f(r.get("AA_lo")) is not None else v))
                hi.append((_f(r.get("AA_hi")) if _f(r.get("AA_hi")) is not None else v) - v)
            pv, _, tier = transfer_paper_cell(m, meth, a)
            if pv is not None:
                px.append(x)
                py.append(pv)
                hollow.append(tier in ("B", "C"))
        c = colours[gi % len(colours)]
        ax.bar(xs, ys, width, yerr=[lo, hi], color=c, capsize=2, label=f"{_p(m)}-{_p(meth)}")
        for x, y, h in zip(px, py, hollow):
            ax.plot([x], [y], marker="o", mfc="none" if h else "k", mec="k", ms=4)
    for ai, a in enumerate(attacks):
        why = next((_unavailable(r) for r in _rows(d) if r["attack"] == a and _unavailable(r)), "")
        if why:
            ax.text(ai, 55, why.replace("online only: needs ", "online only,\nneeds ").replace(", ", ",\n"),
                    ha="center", va="center", fontsize=6, color="0.3")
    ax.set_xticks(np.arange(len(attacks)), [_p(a) for a in attacks])
    ax.set_ylabel("after-attack accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title((title + "\n" if title else "") + "bars: ours, 95 % CI; dots: paper (hollow: reconstructed BAE B/C)",
                 fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return [save_figure(fig, path)]


def _variant_label(beta, gamma) -> str:
    return f"beta={beta:g},gamma={gamma:g}"


def ablation_significance(df: pd.DataFrame, mech: dict | None, reference: str | None) -> pd.DataFrame:
    """Each variant against (beta, gamma) = (0.1, 0.001): SA and AA differences with exact McNemar
    p-values (SA: per test example clean correctness, from the models; AA: per attacked example
    robustness, from the attack records), and whether the paper's ordering (the reference is
    best) holds in ours and in the paper's Table 5."""
    from flatbench.results import paired_p, read_records

    ref_p = paper.table5()
    if df.empty or reference is None:
        return pd.DataFrame()
    recs = {r.get("variant"): r for r in _rows(df)}
    ref = recs.get(reference)
    if ref is None:
        return pd.DataFrame()
    rows = []
    for v, r in recs.items():
        if v == reference:
            continue
        p = ref_p[(ref_p["beta"] == r.get("beta")) & (ref_p["gamma"] == r.get("gamma"))]
        pr = ref_p[(ref_p["beta"] == 0.1) & (ref_p["gamma"] == 0.001)]
        mv = (mech or {}).get("variants", {}).get(v, {})
        aa_p = paired_p("AA", read_records(ref.get("attack_dir")), read_records(r.get("attack_dir")))
        row = {"β": f"{r['beta']:g}", "γ": f"{r['gamma']:g}"}
        for col, name, pv in (("clean_acc", "SA", mv.get("clean_p_ref")), ("AA", "AA", aa_p)):
            a, b = _f(ref.get(col)), _f(r.get(col))
            pa = None if p.empty or pr.empty else (float(pr[name].iloc[0]), float(p[name].iloc[0]))
            row[f"{name}: ref − this (ours)"] = "–" if a is None or b is None else f"{a - b:+.2f}"
            row[f"{name} p"] = "–" if _f(pv) is None else f"{pv:.3g}"
            row[f"{name} ref best? ours"] = ("–" if a is None or b is None else
                                            ("yes" if a > b else "no" if a < b else "=") +
                                            ("*" if _f(pv) is not None and pv < ALPHA else ""))
            row[f"{name} paper"] = "–" if pa is None else ("yes" if pa[0] > pa[1] else "no" if pa[0] < pa[1] else "=")
        rows.append(row)
    return pd.DataFrame(rows)


def mechanism_table(mech: dict | None) -> pd.DataFrame:
    """Per variant: phi over the vocabulary (mean, median, 5 % quantile, share >= 0.9 / 0.99) and the
    Fig. 5 synonym L1 (mean and variance with bootstrap CIs; p of "variance differs from the
    reference's")."""
    if not mech:
        return pd.DataFrame()
    rows = []
    for label, v in mech["variants"].items():
        ph, l1 = v["phi_vocab"], v["l1"]
        rows.append({"variant": label, "φ mean": f"{ph['mean']:.3f}", "φ median": f"{ph['median']:.3f}",
                     "φ q05–q95": f"{ph['q05']:.3f}–{ph['q95']:.3f}",
                     "share φ≥0.9": f"{ph['share_ge_0.9']:.3f}", "share φ≥0.99": f"{ph['share_ge_0.99']:.3f}",
                     "train words φ mean": f"{v['phi_train']['mean']:.3f}",
                     "L1 mean [CI]": f"{l1['mean']:.4f} [{l1['mean_lo']:.4f}, {l1['mean_hi']:.4f}]",
                     "L1 variance [CI]": f"{l1['var']:.5f} [{l1['var_lo']:.5f}, {l1['var_hi']:.5f}]",
                     "var p vs ref": "–" if _f(v.get("l1_var_p_ref")) is None else
                     (f"{v['l1_var_p_ref']:.3g}" if v["l1_var_p_ref"] > 0 else "<0.001")})
    return pd.DataFrame(rows)


def mechanism_latex(mech: dict | None, *, caption: str, label: str) -> str:
    """The mechanism table as booktabs LaTeX (ASCII)."""
    from flatbench.report.latex import escape

    t = mechanism_table(mech)
    if t.empty:
        return ""
    body = [" & ".join(escape(x) for x in r) + " \\\\" for r in t.astype(str).values.tolist()]
    head = " & ".join(escape(c) for c in t.columns) + " \\\\"
    out = ["\\begin{table*}[t]", "\\centering", "\\scriptsize",
           "\\resizebox{\\linewidth}{!}{%", "\\begin{tabular}{l" + "r" * (len(t.columns) - 1) + "}", "\\toprule",
           head, "\\midrule", *body, "\\bottomrule", "\\end{tabular}}",
           "\\caption{%s}" % escape(caption), "\\label{%s}" % label, "\\end{table*}"]
    text = "\n".join(out) + "\n"
    text.encode("ascii")
    return text


def ablation_report(grid, df: pd.DataFrame, deviations: list[str], progress: dict, mech: dict | None,
                    reference: str | None, fmt: str = "markdown") -> str:
    """`flatbench ablate`'s Markdown: Table 5 beside the paper, each variant against the reference
    (0.1, 0.001) with paired tests, the mask-value and Fig. 5 synonym-L1 checks, deviations."""
    h = lambda t: f"## {t}"  # noqa: E731
    agg = aggregate_seeds(df) if not df.empty else df
    sections = [h(f"{grid.name}: {grid.description}".strip()), render(ablation_table(agg), fmt), ABLATION_NOTE]
    sig = ablation_significance(agg, mech, reference)
    if not sig.empty:
        sections += [h("Is (β, γ) = (0.1, 0.001) the best? (the paper's Table 5 ordering)"), render(sig, fmt),
                     "ref − this: our reference row minus this row (positive = the reference is better). p: exact "
                     "McNemar test on the same examples (SA: the 1,821 test examples' clean correctness, "
                     "recomputed from the cached models; AA: per attacked example robustness). yes* = the "
                     f"reference is better and p < {ALPHA:g}. paper: the same comparison in the paper's Table 5."]
    mt = mechanism_table(mech)
    if not mt.empty:
        sections += [h("Mechanism checks from the cached models"), render(mt, fmt),
                     "φ = the mask keep-probability of a word (flatbench.models.masks: from the word's own "
                     "embedding), over every vocabulary word but <pad>/<unk>; \"train words\": those in the "
                     "training split. Paper: with β = 0 \"all masks are close to 1\". Fig. 5 (paper: Appendix D, "
                     f"not available): |φ(w) − φ(s)| for {mech['n_words']} seeded random training words w "
                     f"(seed 0) and their {mech['k']} nearest neighbours s in the counter-fitted space "
                     f"({mech['synonym_space']}; the space the attacks use, restricted to the model's "
                     "vocabulary, no cosine bound), pooled over all word–synonym pairs; CIs: bootstrap over the "
                     "sampled words (2,000 replicates); var p: paired bootstrap test of equal variance against the "
                     "reference. Paper: with γ = 0 the L1 \"varies more\" (larger variance). Example sets: "
                     + "; ".join(f"{w}: {', '.join(ss[:5])}…" for w, ss in mech.get("examples", [])[:3]) + "."]
    sections.append(f"{progress['done']}/{progress['total']} stages complete.")
    if deviations:
        sections += [h("Deviations from the paper"), "\n".join("- " + d for d in deviations)]
    return "\n\n".join(sections) + "\n"


def lime_table(df: pd.DataFrame) -> pd.DataFrame:
    """LIME consistency (the paper's appendix Table 8; its numbers are not available to us)."""
    rows = []
    for r in _rows(df):
        if _f(r.get("LIME_KT")) is None:
            continue
        rows.append({"Attack": _p(r["attack"]), "Model": _p(r["model"]), "Method": _p(r["method"]),
                     "Dataset": _p(r["dataset"]), "KT ours": _fmt(r["LIME_KT"]), "TI ours": _fmt(r.get("LIME_TI")),
                     "KT abs": _fmt(r.get("LIME_KT_abs")), "TI abs": _fmt(r.get("LIME_TI_abs"))})
    return pd.DataFrame(rows)


def _ordering_cell(g: pd.DataFrame) -> str:
    if g.empty or pd.isna(g["holds"].iloc[0]):
        return "–"
    r = g.iloc[0]
    if r["a"] == r["b"]:
        return "="
    return ("yes" if r["holds"] else "no") + ("*" if r["significant"] or r["reversed"] else "")


def orderings_table(orders: pd.DataFrame) -> pd.DataFrame:
    """`flatbench.results.orderings` wide: one row per model/dataset/attack, one column per
    comparison and metric: yes / no (the ordering holds or not), * = the paired test says the two
    differ (p < 0.05), = tie, – not comparable."""
    if orders.empty:
        return pd.DataFrame()
    rows = []
    orders = orders.copy()
    # a row per model/dataset/attack: the comparisons of a defence without a train attack
    # (freelb>base) join the row of the models trained with that same attack
    ta = orders["train_attack"].fillna("")
    orders["row_ta"] = [t if t and t != a else "" for t, a in zip(ta, orders["attack"])]
    comps = list(dict.fromkeys(["FLAT>adv", "FLAT>base", "adv>base", *orders["comparison"]]))
    for k, g in orders.groupby(["attack", "model", "dataset", "row_ta"], sort=False):
        row = {"Attack": _p(k[0]), "Model": _p(k[1]), "Dataset": _p(k[2])}
        if k[3]:
            row["Attack"] += f" (trained {_p(k[3])})"
        for comp in comps:
            for m in ("AA", "KT", "TI"):
                row[f"{comp} {m}"] = _ordering_cell(g[(g["comparison"] == comp) & (g["metric"] == m)])
        rows.append(row)
    return pd.DataFrame(rows)


def orderings_summary(orders: pd.DataFrame) -> str:
    """One line per comparison: how many model/dataset/attack settings show the ordering
    significantly (p < 0.05), of how many comparable, per metric; and significant reversals."""
    counts = ordering_counts(orders)
    lines = []
    for comp in dict.fromkeys(counts["comparison"]):
        c = counts[counts["comparison"] == comp]
        parts = [f"{r.metric} {r.significant}/{r.n}" + (f" (reversed: {r.reversed})" if r.reversed else "")
                 for r in c.itertuples()]
        lines.append(f"- {comp}, significant (p < {ALPHA:g}) of comparable: " + ", ".join(parts))
    return "\n".join(lines)


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


def write_plots(df: pd.DataFrame, out_dir) -> list:
    """Top-k curves (k = 1..10) per model/method for IG and LIME, and the Fig. 3-style pair
    visuals the interpret stages drew, copied beside them."""
    import shutil
    from pathlib import Path

    from flatbench.interpret.plots import plot_topk_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "interpret_dir" not in df.columns:
        return written
    rows = df[df["interpret_dir"].notna()]
    for (attack, dataset), g in rows.groupby(["attack", "dataset"]):
        results = {f"{_p(r.model)}-{_p(r.method)}": {c: getattr(r, c) for c in df.columns if "_topk_" in c}
                   for r in g.itertuples()}
        for method in ("ig", "lime"):
            p = out / f"topk_{method}_{attack}_{dataset}.png"
            plot_topk_curves(results, p, method=method, title=f"{method.upper()} top-k, {_p(attack)}, {_p(dataset)}")
            written.append(p)
        for r in g.itertuples():
            for fig in sorted(Path(r.interpret_dir).glob("figures/pair_*.*"))[:2]:
                dst = out / f"{r.cell}-{attack}-{fig.name}"
                shutil.copyfile(fig, dst)
                written.append(dst)
    return written


RANKING_NOTE = ("KT/TI: Kendall's tau and top-5 intersection of IG word attributions of each original/"
                "adversarial pair, toward the gold label, macro-averaged over gold classes. \"ours\" ranks "
                "words by signed attribution (evidence for the label); \"abs\" by magnitude, as the "
                "metrics' sources (Chen et al. 2019; Ghorbani et al. 2019) do. The paper does not say which.")


def render(table: pd.DataFrame, fmt: str = "markdown") -> str:
    if table.empty:
        return "(no results yet)"
    return tabulate(table, headers="keys", tablefmt=FORMATS[fmt], showindex=False, disable_numparse=True)


def _kind(grid, df: pd.DataFrame) -> str:
    kind = grid.paper_table or ("table3" if "AA" in df else "table2")
    if kind not in ("table4", "table5") and not ("attack" in df.columns and df["attack"].notna().any()):
        return "table2"
    return kind


def report(grid, df: pd.DataFrame, deviations: list[str], progress: dict, fmt: str = "markdown") -> str:
    """The grid's tables: Markdown (ours beside the paper's, CIs, marks, orderings) or LaTeX in
    the paper's layouts (flatbench.report.latex), both from `collect`'s rows."""
    if fmt == "latex":
        return latex_report(grid, df, deviations, progress)
    sections = []
    h = lambda t: f"## {t}"  # noqa: E731
    kind = _kind(grid, df)
    agg = aggregate_seeds(df) if not df.empty else df
    view = with_aggregates(df, agg) if not df.empty and has_several_seeds(df) else df
    sections.append(h(f"{grid.name}: {grid.description}".strip()))
    if kind == "table5":
        sections.append(render(ablation_table(view), fmt))
        sections.append(ABLATION_NOTE)
    elif kind == "table4":
        sections.append(render(transfer_table(view), fmt))
        sections.append(LEGEND_SHORT)
    elif kind == "table3":
        sections.append(render(robustness_table(view), fmt))
        sections.append(LEGEND)
        sections.append(RANKING_NOTE)
        stand_ins = sorted(set(df["model"]) & set(ORIENTATION))
        if stand_ins:
            sections.append("; ".join(f"{_p(m)} rows show the paper's {_p(ORIENTATION[m])} numbers, for orientation only"
                                      for m in stand_ins))
        orders = orderings(agg)
        if not orders.empty:
            sections.append(h("Orderings (FLAT > adv > base?)"))
            sections.append(render(orderings_table(orders), fmt))
            sections.append(ORDERINGS_NOTE)
            sections.append(orderings_summary(orders))
        lime = lime_table(view)
        if not lime.empty:
            sections.append(h("LIME consistency (paper: appendix Table 8, numbers not available to us)"))
            sections.append(render(lime, fmt))
        sections.append(h("Clean accuracy (Table 2 cells)"))
        sections.append(render(clean_table(view), fmt))
    else:
        sections.append(render(clean_table(view), fmt))
        if not df.empty and "clean_lo" in df.columns and df["clean_lo"].notna().any():
            sections.append(CLEAN_NOTE)
    sections.append(f"{progress['done']}/{progress['total']} stages complete.")
    if deviations:
        sections.append(h("Deviations from the paper"))
        sections.append("\n".join("- " + d for d in deviations))
    return "\n\n".join(sections) + "\n"


CLEAN_NOTE = "95 % CIs in brackets: exact binomial (Clopper–Pearson) over the test examples."
LEGEND_SHORT = (f"95 % CIs in brackets: exact binomial (Clopper–Pearson) over the attacked examples (robust = "
                f"the attack failed). Marks: {MARK_ADV} FLAT differs from adv, {MARK_BASE} FLAT, adv or another defence (e.g. freelb) differs from "
                f"base (exact McNemar test on the shared examples, p < {ALPHA:g}).")
ABLATION_NOTE = ("95 % CIs in brackets: exact binomial (Clopper–Pearson), SA over the test examples, AA over "
                 "the attacked examples (robust = the attack failed).")
ORDERINGS_NOTE = ("yes / no: the ordering holds or not in our numbers (aggregated over seeds where there are "
                  f"several); * = the paired test finds the two differ (p < {ALPHA:g}), so \"yes*\" is a "
                  "significant ordering and \"no*\" a significant reversal; = tie; – not comparable.")


# ----------------------------------------------------------------------------------------------
# LaTeX


def _comment(text: str) -> str:
    from flatbench.report.latex import Raw, escape

    return "\n".join("% " + escape(Raw(line)) for line in str(text).splitlines() or [""])


def _paper3(models) -> pd.DataFrame:
    p = paper.table3()
    extra = [p[p["model"] == ORIENTATION[m]].assign(model=m) for m in sorted(set(models) & set(ORIENTATION))]
    return pd.concat([p, *extra], ignore_index=True) if extra else p


LATEX_NOTE = (f"95% CIs: exact binomial (Clopper-Pearson) for accuracies, stratified bootstrap ({N_BOOT} "
              "replicates) of the class-macro mean for KT/TI. Tests: exact McNemar (AA), paired sign-flip "
              "permutation test (KT/TI) on the examples both models share.")


def latex_report(grid, df: pd.DataFrame, deviations: list[str], progress: dict) -> str:
    """LaTeX (ASCII only): the grid's tables in the paper's layouts (flatbench.report.latex), seeds
    aggregated (mean; CIs and tests pooled), caption = the grid's description, label tab:<grid>;
    orderings, progress and deviations as comments."""
    from flatbench.report.latex import table2_latex, table3_latex, table4_latex, table5_latex

    kind = _kind(grid, df)
    agg = aggregate_seeds(df) if not df.empty else df
    caption = grid.description or grid.name
    label = f"tab:{grid.name}"
    seeds_note = ""
    if not df.empty and has_several_seeds(df):
        seeds_note = " Values: mean over seeds; CIs and tests pooled over the seeds' examples."
    out = [_comment(f"{grid.name}: {grid.description}".strip())]
    try:
        if kind == "table5":
            out.append(table5_latex(agg, caption=caption, label=label, paper=paper.table5(),
                                    note=LATEX_NOTE + seeds_note))
        elif kind == "table4":
            out.append(table4_latex(agg, caption=caption, label=label, paper=paper.table4(),
                                    note=LATEX_NOTE + seeds_note))
        elif kind == "table3":
            stand_ins = sorted(set(agg["model"]) & set(ORIENTATION))
            note = LATEX_NOTE + seeds_note + "".join(
                f" {_p(m)} paper lines: the paper's {_p(ORIENTATION[m])} numbers, for orientation only."
                for m in stand_ins)
            out.append(table3_latex(agg, caption=caption, label=label, paper=_paper3(agg["model"]), note=note))
            out.append(table2_latex(agg, caption=f"{grid.name}: clean accuracy (%)", label=f"{label}-clean",
                                    paper=paper.table2()))
            orders = orderings(agg)
            if not orders.empty:
                out.append(_comment("Orderings:\n" + orderings_summary(orders)))
        else:
            out.append(table2_latex(agg, caption=caption, label=label, paper=paper.table2()))
    except ValueError as e:
        out.append(_comment(f"no table yet: {e}"))
    out.append(_comment(f"{progress['done']}/{progress['total']} stages complete."))
    if deviations:
        out.append(_comment("Deviations from the paper:\n" + "\n".join("- " + d for d in deviations)))
    text = "\n".join(out) + "\n"
    text.encode("ascii")
    return text
