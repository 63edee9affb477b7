"""Markdown / LaTeX tables: the paper's numbers and ours side by side, with the difference."""

from __future__ import annotations

import math

import pandas as pd
from tabulate import tabulate

from flatbench.report import paper
from flatbench.report.paper import PRETTY

FORMATS = {"markdown": "github", "latex": "latex_booktabs"}


def _p(x):
    return PRETTY.get(x, x)


def _fmt(v, digits=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}"


def _diff(ours, ref, digits=2):
    if ours is None or ref is None or any(isinstance(v, float) and math.isnan(v) for v in (ours, ref)):
        return "–"
    return f"{ours - ref:+.{digits}f}"


# Models not in the paper, shown beside the paper row of the model they stand in for.
ORIENTATION = {"minilm": "bert"}


def clean_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 2: clean test accuracy (%)."""
    ref = paper.table2().set_index(["model", "method", "train_attack", "dataset"])["acc"]
    rows = []
    seen = set()
    for r in df.itertuples():
        k = (r.model, r.method, r.train_attack, r.dataset)
        if k in seen:
            continue
        seen.add(k)
        p = ref.get((ORIENTATION.get(r.model, r.model),) + k[1:])
        rows.append({"Model": _p(r.model), "Method": _p(r.method) + (f" ({_p(r.train_attack)})" if r.train_attack else ""),
                     "Dataset": _p(r.dataset), "Paper": _fmt(p), "Ours": _fmt(r.clean_acc),
                     "Δ": _diff(r.clean_acc, p)})
    return pd.DataFrame(rows)


def robustness_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 3: after-attack accuracy (%), Kendall's tau and top-5 intersection (IG)."""
    ref = paper.table3().set_index(["attack", "model", "method", "dataset"])
    rows = []
    for r in df.itertuples():
        if not isinstance(getattr(r, "attack", None), str):
            continue
        k = (r.attack, ORIENTATION.get(r.model, r.model), r.method, r.dataset)
        p = ref.loc[k] if k in ref.index and (r.method == "base" or r.train_attack == r.attack) else None
        get = lambda col: getattr(r, col, None)  # noqa: E731
        pa = None if p is None else p["AA"]
        rows.append({"Attack": _p(r.attack), "Model": _p(r.model),
                     "Method": _p(r.method) + (f" ({_p(r.train_attack)})" if r.train_attack and r.train_attack != r.attack else ""),
                     "Dataset": _p(r.dataset), "Clean": _fmt(r.clean_acc),
                     "AA paper": _fmt(pa), "AA ours": _fmt(get("AA")), "ΔAA": _diff(get("AA"), pa),
                     "KT paper": _fmt(None if p is None else p["KT"]), "KT ours": _fmt(get("KT")),
                     "TI paper": _fmt(None if p is None else p["TI"]), "TI ours": _fmt(get("TI")),
                     "KT abs": _fmt(get("KT_abs")), "TI abs": _fmt(get("TI_abs"))})
    return pd.DataFrame(rows)


def transfer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 4: after-attack accuracy (%) on SST2 under unforeseen attacks."""
    ref = paper.table4().set_index(["model", "method", "attack"])["AA"]
    rows = []
    for r in df.itertuples():
        if not isinstance(getattr(r, "attack", None), str):
            continue
        p = ref.get((r.model, r.method, r.attack))
        rows.append({"Model": _p(r.model), "Method": _p(r.method), "Attack": _p(r.attack),
                     "AA paper": _fmt(p), "AA ours": _fmt(getattr(r, "AA", None)), "Δ": _diff(getattr(r, "AA", None), p)})
    return pd.DataFrame(rows)


def ablation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 5: standard (clean) and after-attack accuracy of LSTM-FLAT for each (beta, gamma)."""
    ref = paper.table5()
    rows = []
    for r in df.itertuples():
        p = ref[(ref["beta"] == r.beta) & (ref["gamma"] == r.gamma)]
        sa, aa = (None, None) if p.empty else (float(p["SA"].iloc[0]), float(p["AA"].iloc[0]))
        ours_aa = getattr(r, "AA", None)
        rows.append({"β": f"{r.beta:g}", "γ": f"{r.gamma:g}", "SA paper": _fmt(sa), "SA ours": _fmt(r.clean_acc),
                     "AA paper": _fmt(aa), "AA ours": _fmt(ours_aa), "ΔAA": _diff(ours_aa, aa)})
    return pd.DataFrame(rows)


def lime_table(df: pd.DataFrame) -> pd.DataFrame:
    """LIME consistency (the paper's appendix Table 8; its numbers are not available to us)."""
    rows = []
    for r in df.itertuples():
        if getattr(r, "LIME_KT", None) is None or (isinstance(r.LIME_KT, float) and math.isnan(r.LIME_KT)):
            continue
        rows.append({"Attack": _p(r.attack), "Model": _p(r.model), "Method": _p(r.method), "Dataset": _p(r.dataset),
                     "KT ours": _fmt(r.LIME_KT), "TI ours": _fmt(r.LIME_TI),
                     "KT abs": _fmt(getattr(r, "LIME_KT_abs", None)),
                     "TI abs": _fmt(getattr(r, "LIME_TI_abs", None))})
    return pd.DataFrame(rows)


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


def report(grid, df: pd.DataFrame, deviations: list[str], progress: dict, fmt: str = "markdown") -> str:
    sections = []
    h = (lambda t: f"## {t}") if fmt == "markdown" else (lambda t: f"% {t}")
    kind = grid.paper_table or ("table3" if "AA" in df else "table2")
    sections.append(h(f"{grid.name}: {grid.description}".strip()))
    if kind == "table5":
        sections.append(render(ablation_table(df), fmt))
    elif kind == "table4":
        sections.append(render(transfer_table(df), fmt))
    elif "attack" in df.columns and df["attack"].notna().any():
        sections.append(render(robustness_table(df), fmt))
        sections.append(RANKING_NOTE if fmt == "markdown" else "% " + RANKING_NOTE)
        stand_ins = sorted(set(df["model"]) & set(ORIENTATION))
        if stand_ins:
            line = "; ".join(f"{_p(m)} rows show the paper's {_p(ORIENTATION[m])} numbers, for orientation only"
                             for m in stand_ins)
            sections.append(line if fmt == "markdown" else "% " + line)
        lime = lime_table(df)
        if not lime.empty:
            sections.append(h("LIME consistency (paper: appendix Table 8, numbers not available to us)"))
            sections.append(render(lime, fmt))
        sections.append(h("Clean accuracy (Table 2 cells)"))
        sections.append(render(clean_table(df), fmt))
    else:
        sections.append(render(clean_table(df), fmt))
    sections.append(f"{progress['done']}/{progress['total']} stages complete.")
    if deviations:
        sections.append(h("Deviations from the paper"))
        bullet = "- " if fmt == "markdown" else "% - "
        sections.append("\n".join(bullet + d for d in deviations))
    return "\n\n".join(sections) + "\n"
