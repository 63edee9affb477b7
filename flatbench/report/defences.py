"""The defence leaderboard as format-neutral tables and the page's ΔAA-vs-ΔKT scatter plot.

`defences_table` (one row per defence, dataset, model and attack: clean, AA, certified, KT, TI with
95 % CIs, Δ vs base with CI, p and significance, the AA and KT ranks), `summary_table` (per dataset
and defence: mean ranks, significant gains and losses against base) and `scatter_png` take
`flatbench.analysis.defences.leaderboard`'s rows; `defences_section` puts them in a grid report
(flatbench.report.documents adds it for grids whose ``[measure]`` says ``defences = true``).
"""

from __future__ import annotations

import base64

import pandas as pd

from flatbench.analysis.defences import RANK_RULE, dataset_summary
from flatbench.analysis.seeds import ALPHA, N_BOOT
from flatbench.report.builders import pretty
from flatbench.report.document import Document, Extra, Para, Section, TableBlock
from flatbench.report.table import Cell, Column, Row, Table, num

DELTA_MARK = "*"

NOTE = ("Each defence in each dataset / model / attack setting (adv and FLAT: trained with that attack, as in "
        "Table 3; FreeLB, SAFER, ASCC and PGD-K train once, without attack rounds, and face both attacks). "
        "95 % CIs in brackets: clean accuracy, AA and SAFER's certified accuracy (certified against any "
        "substitution within its perturbation sets, on the same attacked examples) exact Clopper–Pearson; "
        f"KT/TI (IG, the paper's pairs) stratified bootstrap ({N_BOOT} replicates) of the class-macro mean. "
        "Pairs: the original/adversarial pairs KT and TI rest on (attacked examples whose text the attack "
        "changed, as in Table 3); a defence against which the attack changes fewer texts or fewer words is "
        "scored on pairs closer to their originals, which raises KT/TI by itself (SAFER's vote makes the "
        "attacks give up early: read its KT/TI with its pair count). "
        "Several seeds (TREC): values and CIs pooled over the seeds' examples. Δ = defence − base on the "
        "examples both share (joined by seed and example id; KT/TI: class-macro mean of the per-pair "
        f"differences over pairs non-degenerate on both sides), with a paired bootstrap 95 % CI; {DELTA_MARK} "
        f"and p: the paired test (AA exact McNemar, KT/TI sign-flip permutation), p < {ALPHA:g}. The paired Δ "
        "can differ from the difference of the shown values by the examples only one model has. "
        "Ranks among the defences of the same setting, AA and KT (higher is better): " + RANK_RULE)
SUMMARY_NOTE = ("Per dataset, over the defence's measured model × attack settings (\"Settings\"): the mean of its AA and KT ranks (1 = "
                f"best; ties by CI overlap as above) and in how many settings it differs from base significantly "
                f"(paired test, p < {ALPHA:g}): better / worse of those tested.")


def _label(r: dict) -> str:
    return pretty(r["defence"])


def _delta(r: dict, m: str) -> Cell:
    sig = r.get(f"d{m}_sig") or ""
    p = num(r.get(f"d{m}_p"))
    return Cell(r.get(f"d{m}"), lo=r.get(f"d{m}_lo"), hi=r.get(f"d{m}_hi"), marks=DELTA_MARK if sig else "",
                p={"base": p} if p is not None else {}, digits=2 if m == "AA" else 3, signed=True,
                note={"+": "better than base", "−": "worse than base"}.get(sig, ""))


def _p(r: dict, m: str) -> Cell:
    p = num(r.get(f"d{m}_p"))
    return Cell(p, text=None if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001"))


def _rank(r: dict, m: str) -> Cell:
    k = num(r.get(f"{m}_rank"))
    if k is None:
        return Cell()
    return Cell(k, digits=0, text=("=" if r.get(f"{m}_tied") else "") + f"{int(k)}")


def defences_table(lb: pd.DataFrame) -> Table:
    """The leaderboard: one row per defence, dataset, model and attack."""
    with_cert = "certified_acc" in lb.columns and lb["certified_acc"].notna().any()
    cols = [Column("dataset", "Dataset"), Column("model", "Model"), Column("attack", "Attack"),
            Column("defence", "Defence"), Column("seeds", "Seeds"), Column("clean_acc", "Clean"),
            Column("AA", "AA")]
    cols += [Column("certified_acc", "Certified")] if with_cert else []
    cols += [Column("KT", "KT"), Column("TI", "TI"), Column("n_pairs", "Pairs"), Column("dAA", "ΔAA"), Column("dAA_p", "p ΔAA"),
             Column("dKT", "ΔKT"), Column("dKT_p", "p ΔKT"), Column("dTI", "ΔTI"), Column("dTI_p", "p ΔTI"),
             Column("AA_rank", "AA rank"), Column("KT_rank", "KT rank")]
    rows = []
    for r in lb.to_dict("records"):
        key = {"defence": r["defence"], "train_attack": r.get("train_attack") or "", "dataset": r["dataset"],
               "model": r["model"], "attack": r["attack"]}
        cells = {"dataset": Cell(pretty(r["dataset"])), "model": Cell(pretty(r["model"])),
                 "attack": Cell(pretty(r["attack"])), "defence": Cell(_label(r)), "seeds": Cell(str(r.get("seeds") or "")),
                 "clean_acc": Cell(r.get("clean_acc"), lo=r.get("clean_lo"), hi=r.get("clean_hi"), digits=1),
                 "AA": Cell(r.get("AA"), lo=r.get("AA_lo"), hi=r.get("AA_hi"), digits=1),
                 "KT": Cell(r.get("KT"), lo=r.get("KT_lo"), hi=r.get("KT_hi"), digits=3, ci_digits=2),
                 "TI": Cell(r.get("TI"), lo=r.get("TI_lo"), hi=r.get("TI_hi"), digits=3, ci_digits=2),
                 "n_pairs": Cell(r.get("n_pairs"), digits=0),
                 "AA_rank": _rank(r, "AA"), "KT_rank": _rank(r, "KT")}
        if with_cert:
            cells["certified_acc"] = Cell(r.get("certified_acc"), lo=r.get("certified_lo"), hi=r.get("certified_hi"),
                                          digits=1)
        for m in ("AA", "KT", "TI"):
            cells[f"d{m}"] = _delta(r, m)
            cells[f"d{m}_p"] = _p(r, m)
        rows.append(Row(key, cells))
    return Table("defences", cols, rows, [NOTE])


def summary_table(lb: pd.DataFrame) -> Table:
    """Per dataset and defence (base left out): mean AA / KT rank, significant gains / losses vs base."""
    s = dataset_summary(lb)
    cols = [Column("dataset", "Dataset"), Column("defence", "Defence"), Column("settings", "Settings"),
            Column("AA_rank_mean", "mean AA rank"), Column("KT_rank_mean", "mean KT rank")]
    cols += [Column(f"{m}_vs_base", f"{m} vs base +/−") for m in ("AA", "KT", "TI")]
    rows = []
    for r in s.to_dict("records"):
        if r["defence"] == "base":
            continue
        cells = {"dataset": Cell(pretty(r["dataset"])), "defence": Cell(pretty(r["defence"])),
                 "settings": Cell(r["settings"], digits=0), "AA_rank_mean": Cell(r["AA_rank_mean"], digits=2),
                 "KT_rank_mean": Cell(r["KT_rank_mean"], digits=2)}
        for m in ("AA", "KT", "TI"):
            cells[f"{m}_vs_base"] = Cell(float(r[f"{m}_better"] - r[f"{m}_worse"]), digits=0,
                                         text=f"{r[f'{m}_better']} / {r[f'{m}_worse']} of {r[f'{m}_tested']}")
        rows.append(Row({"dataset": r["dataset"], "defence": r["defence"]}, cells))
    return Table("defences_summary", cols, rows, [SUMMARY_NOTE])


COLOURS = {"adv": "#4477aa", "flat": "#cc3311", "freelb": "#228833", "safer": "#aa3377", "ascc": "#ccbb44",
           "pgd": "#66ccee"}
MARKERS = {("lstm", "textfooler"): "o", ("lstm", "pwws"): "s", ("cnn", "textfooler"): "^", ("cnn", "pwws"): "D"}


def scatter_png(lb: pd.DataFrame) -> bytes | None:
    """ΔAA (x) against ΔKT (y) versus base, one point per defence and setting, paired 95 % CI error
    bars both ways; one panel per dataset. None when no defence has both Δs."""
    pts = [r for r in lb.to_dict("records") if r["defence"] != "base"
           and num(r.get("dAA")) is not None and num(r.get("dKT")) is not None]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from flatbench.report.plots import figure_png

    datasets = list(dict.fromkeys(r["dataset"] for r in pts))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for r in (r for r in pts if r["dataset"] == ds):
            x, y = r["dAA"], r["dKT"]
            xe = [[x - (num(r.get("dAA_lo")) if num(r.get("dAA_lo")) is not None else x)],
                  [(num(r.get("dAA_hi")) if num(r.get("dAA_hi")) is not None else x) - x]]
            ye = [[y - (num(r.get("dKT_lo")) if num(r.get("dKT_lo")) is not None else y)],
                  [(num(r.get("dKT_hi")) if num(r.get("dKT_hi")) is not None else y) - y]]
            ax.errorbar([x], [y], xerr=xe, yerr=ye, fmt=MARKERS.get((r["model"], r["attack"]), "o"), ms=5,
                        capsize=2, lw=0.8, color=COLOURS.get(r["defence"], "#555555"),
                        mfc=COLOURS.get(r["defence"], "#555555") if r.get("dAA_sig") or r.get("dKT_sig") else "white")
        ax.axhline(0, color="#999999", lw=0.6)
        ax.axvline(0, color="#999999", lw=0.6)
        ax.set_title(pretty(ds), fontsize=10)
        ax.set_xlabel("ΔAA vs base (percentage points)")
        ax.set_ylabel("ΔKT vs base (IG Kendall's τ)")
    present = list(dict.fromkeys(r["defence"] for r in pts))
    handles = [Line2D([], [], color=COLOURS.get(d, "#555555"), marker="o", ls="", label=pretty(d)) for d in present]
    handles += [Line2D([], [], color="#333333", marker=mk, ls="", mfc="white", label=f"{pretty(m)}, {pretty(a)}")
                for (m, a), mk in MARKERS.items() if any(r["model"] == m and r["attack"] == a for r in pts)]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    return figure_png(fig, dpi=110)


def defences_section(lb: pd.DataFrame, png: bytes | None = None) -> Section:
    """The "Defences" section: the leaderboard, its per-dataset summary and (page) the scatter plot."""
    blocks = [TableBlock(defences_table(lb), "t-defences", "(no defence measured yet)"), Para(NOTE, "legend"),
              TableBlock(summary_table(lb), "t-defences-summary"), Para(SUMMARY_NOTE)]
    png = scatter_png(lb) if png is None else png
    if png is not None:
        blocks.append(Extra("image", {"png_base64": base64.b64encode(png).decode(),
                                      "alt": "ΔAA against ΔKT versus base per defence",
                                      "caption": "ΔAA against ΔKT versus base, one point per defence and setting "
                                                 "(colour: defence; shape: model and attack; filled: a significant Δ, "
                                                 "p < 0.05), paired 95 % CIs both ways. Up and right is better on "
                                                 "both prediction and interpretation."}))
    return Section("defences", "Defences: prediction and interpretation against base", blocks)


def defences_document(lb: pd.DataFrame, name: str, progress: str | None = None, deviations=(),
                      cache_root: str = "") -> Document:
    """The leaderboard alone, as a document (`flatbench defences`; leaderboards/defences.json)."""
    section = defences_section(lb)
    section.lead = True
    return Document(f"{name}: defence leaderboard", [section], progress, list(deviations),
                    {"name": name, "cache_root": cache_root})


__all__ = ["defences_table", "summary_table", "scatter_png", "defences_section", "defences_document", "NOTE",
           "SUMMARY_NOTE"]
