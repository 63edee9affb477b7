"""Strength curves (beyond the paper): AA, and KT/TI where measured, of base, adv and FLAT under
TextFooler at several embedding bounds, with CIs; and at which strengths each ordering is
significant. Built from the strength_curves / strength_curves_interp grids' cached results.
"""

from __future__ import annotations

import base64
import math
import re

from flatbench.analysis.claims import CONFIRMED, REFUTED, aa_effect, attack_rows, consistency_effect, \
    decide, Claim, pair_rows, pooled
from flatbench.registry import display_names
from flatbench.report.document import Document, Extra, Para, Section, TableBlock
from flatbench.report.plots import figure_png
from flatbench.report.table import Cell, Column, Row, Table, text

PRETTY = display_names()  # the paper's spelling of every registered name (flatbench.registry)
ORDERINGS = (("flat", "adv"), ("flat", "base"), ("adv", "base"))


def bound_of(variant: str) -> float | None:
    m = re.search(r"eval_attack_bounds=cos([0-9.]+)", variant or "")
    return float(m.group(1)) if m else None


def _records(df) -> list[dict]:
    return [r for r in df.to_dict("records") if bound_of(r.get("variant", "")) is not None]


def curves_table(df, metrics=("AA",)) -> Table:
    rows = _records(df)
    bounds = sorted({bound_of(r["variant"]) for r in rows})
    cols = [Column("model", "Model"), Column("dataset", "Dataset"), Column("method", "Method")]
    cols += [Column(f"{m}@{b:.2f}", f"{m} cos ≥ {b:.2f}") for m in metrics for b in bounds]
    out = []
    keys = sorted({(r["dataset"], r["model"], r["method"]) for r in rows},
                  key=lambda k: (k[0], k[1], ("base", "adv", "flat").index(k[2]) if k[2] in ("base", "adv", "flat") else 9))
    for ds, model, method in keys:
        cells = {"model": text(PRETTY.get(model, model)), "dataset": text(PRETTY.get(ds, ds)),
                 "method": text(PRETTY.get(method, method))}
        for r in rows:
            if (r["dataset"], r["model"], r["method"]) != (ds, model, method):
                continue
            b = bound_of(r["variant"])
            for m in metrics:
                d = 1 if m == "AA" else 3
                cells[f"{m}@{b:.2f}"] = Cell(r.get(m), lo=r.get(f"{m}_lo"), hi=r.get(f"{m}_hi"), digits=d)
        out.append(Row({"dataset": ds, "model": model, "method": method}, cells))
    return Table("strength_curves", cols, out)


def orderings_table(df, metrics=("AA",)) -> Table:
    """Per (model, dataset, bound): each ordering's effect and whether it is significant."""
    rows = _records(df)
    cols = [Column("dataset", "Dataset"), Column("model", "Model"), Column("bound", "cos ≥")]
    cols += [Column(f"{m}:{a}>{b}", f"{m} {PRETTY[a]} − {PRETTY[b]}") for m in metrics for a, b in ORDERINGS
             if m == "AA" or (a, b) != ("adv", "base")]
    out = []
    for ds, model, bnd in sorted({(r["dataset"], r["model"], bound_of(r["variant"])) for r in rows}):
        sel = [r for r in rows if (r["dataset"], r["model"], bound_of(r["variant"])) == (ds, model, bnd)]
        by = {r["method"]: r for r in sel}
        cells = {"dataset": text(PRETTY.get(ds, ds)), "model": text(PRETTY.get(model, model)),
                 "bound": Cell(bnd, digits=2)}
        for c in cols[3:]:
            m, pair = c.key.split(":")
            a, b = pair.split(">")
            if a not in by or b not in by:
                cells[c.key] = Cell()
                continue
            if m == "AA":
                xa, xb = pooled([by[a]], attack_rows), pooled([by[b]], attack_rows)
                eff = aa_effect(xa, xb) if xa and xb else {}
            else:
                xa, xb = pooled([by[a]], pair_rows), pooled([by[b]], pair_rows)
                eff = consistency_effect(xa, xb, m.lower()) if xa and xb else {}
            cl = decide(Claim(c.key, "curves", c.key, ""), eff)
            mark = {CONFIRMED: " (sig. +)", REFUTED: " (sig. −)"}.get(cl.verdict, " (n.s.)")
            cells[c.key] = Cell(cl.effect, lo=cl.lo, hi=cl.hi, digits=1 if m == "AA" else 3, signed=True,
                                text=None if not math.isfinite(cl.effect) else
                                f"{cl.effect:+.{1 if m == 'AA' else 3}f}{mark}",
                                p={"pair": cl.p})
        out.append(Row({"dataset": ds, "model": model, "bound": bnd}, cells))
    return Table("strength_orderings", cols, out)


def curves_png(df, dataset: str) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in _records(df) if r["dataset"] == dataset and r.get("AA") == r.get("AA")
            and r.get("AA") is not None]
    if not rows:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    colour = {"base": "#888888", "adv": "#4477aa", "flat": "#cc3311"}
    for ax, model in zip(axes, ("lstm", "cnn")):
        for method in ("base", "adv", "flat"):
            pts = sorted((bound_of(r["variant"]), r["AA"], r.get("AA_lo"), r.get("AA_hi")) for r in rows
                         if r["model"] == model and r["method"] == method)
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1] for p in pts]
            err = [[p[1] - (p[2] if p[2] == p[2] else p[1]) for p in pts],
                   [(p[3] if p[3] == p[3] else p[1]) - p[1] for p in pts]]
            ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, color=colour[method], label=PRETTY[method])
        ax.set_title(f"{PRETTY[model]}, {PRETTY.get(dataset, dataset)}", fontsize=9)
        ax.set_xlabel("TextFooler embedding bound (cos ≥)")
    axes[0].set_ylabel("after-attack accuracy (%)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return figure_png(fig, dpi=120)


def curves_pngs(df_aa) -> dict[str, bytes]:
    """The figure of each dataset that has results."""
    return {ds: png for ds in ("sst2", "trec") if (png := curves_png(df_aa, ds)) is not None}


def shift_table(rows: list[dict]) -> Table:
    """flatbench.analysis.strength.split_shift's rows: dev beside test at each matched bound."""
    cols = [Column("group", "Dataset / attack"), Column("cos", "cos ≥"), Column("model", "Model"),
            Column("split", "Split"), Column("n", "Texts"), Column("tokens", "Tokens per text"),
            Column("queries", "Queries per attacked text"), Column("success", "Success among attacked %"),
            Column("AA", "AA %"), Column("target", "Paper AA (mean of LSTM, CNN)")]
    out = []
    for r in rows:
        ds, recipe = r["group"].split("/")
        cells = {"group": text(f"{PRETTY.get(ds, ds)} / {PRETTY.get(recipe, recipe)}"), "cos": Cell(r["cos"], digits=2),
                 "model": text(PRETTY.get(r["model"], r["model"])), "split": text(r["split"]),
                 "n": Cell(r["n"], digits=0), "tokens": Cell(r["tokens"], digits=1),
                 "queries": Cell(r["queries"], digits=1), "success": Cell(r["success"], digits=1),
                 "AA": Cell(r["AA"], digits=1), "target": Cell(r["target"], digits=1)}
        out.append(Row({k: r[k] for k in ("group", "model", "split")}, cells))
    return Table("strength_shift", cols, out)


def curves_document(df_aa, df_interp, deviations: list[str], matched: dict,
                    pngs: dict[str, bytes] | None = None, shift: list[dict] | None = None) -> Document:
    blocks = [Para(
        "Beyond the paper: table3_cpu_quick's base, adv and FLAT models (1 round, trained with TextFooler at the "
        "strength-matched bound) attacked on the test split at six TextFooler embedding bounds "
        "(a stricter bound = fewer substitutes = a weaker attack); KT/TI at three. 95 % CIs in brackets. "
        "Orderings: paired effect a − b with 'sig. +' / 'sig. −' where p < 0.05 (exact McNemar for AA, "
        "sign-flip permutation for KT/TI). A claim that holds at one strength only is a weaker claim. "
        "Strength-matched bounds: " + ", ".join(f"{k} cos {v:.2f}" for k, v in sorted(matched.items())) + ".")]
    blocks.append(TableBlock(curves_table(df_aa), id="strength_curves"))
    for ds, png in (curves_pngs(df_aa) if pngs is None else pngs).items():
        blocks.append(Extra("image", {"png_base64": base64.b64encode(png).decode(), "alt": f"strength curve {ds}",
                                      "caption": f"{PRETTY[ds]}: AA against the bound, 95 % CIs."}))
    blocks.append(TableBlock(orderings_table(df_aa), id="strength_orderings"))
    if df_interp is not None:
        blocks.append(TableBlock(curves_table(df_interp, ("KT", "TI")), id="strength_curves_interp"))
        blocks.append(TableBlock(orderings_table(df_interp, ("KT", "TI")), id="strength_orderings_interp"))
    if shift:
        blocks.append(Para(
            "Dev against test at the matched bound: the protocol chose each bound on the dev split with the base "
            "LSTM and CNN (seed 13); the same models' test attacks at that bound (table3_cpu) are beside them. "
            "Queries per attacked text count the word-importance ranking and every substitute that passed the "
            "constraints, so fewer queries on texts of one length mean fewer usable substitutes. Where the test "
            "split's texts are shorter than dev's, the attack has fewer words to swap and fails more often at the "
            "same bound: a bound matched on dev then overshoots the paper's AA on test, and the protocol, fixed "
            "in advance, is not re-tuned on test."))
        blocks.append(TableBlock(shift_table(shift), id="strength_shift"))
    return Document("Strength curves: orderings across attack strengths",
                    [Section("strength", "Strength curves", blocks, lead=True)], deviations=sorted(set(deviations)))
