"""What each report holds: a grid's results (`ReportInput`) in, a format-neutral `Document` out.

- `results_document`: a Table 3 grid (robustness, orderings, LIME, clean accuracy) or a Table 2
  grid (clean accuracy);
- `transfer_document`: a Table 4 grid (the wide table, cell by cell, AA orderings against the
  paper's, the attacks that cannot run here);
- `ablation_document`: a Table 5 grid (and, from `flatbench ablate`, the significance of the
  paper's ordering and the mechanism checks);
- `grid_document`: the one of these a grid's paper table calls for.

Each holds the prose blocks (Markdown, HTML, JSON, ...), the LaTeX paper-layout blocks and the
HTML page's extras (interpretation pairs, correlations, stages and MLflow runs); a format shows
its own kinds (flatbench.report.document). Rendering reads only these inputs: nothing here
loads a model, plans a grid or opens a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from flatbench.analysis.seeds import aggregate_seeds, has_several_seeds, orderings, with_aggregates
from flatbench.report import paper
from flatbench.report.builders import (
    ABLATION_NOTE,
    CLEAN_NOTE,
    LATEX_NOTE,
    LEGEND,
    ORDERINGS_NOTE,
    ORIENTATION,
    RANKING_NOTE,
    clean_table,
    ig_delta_warning,
    lime_table,
    orderings_summary,
    orderings_table,
    pretty,
    robustness_table,
    stand_in_note,
)
from flatbench.report.builders45 import (
    SIGNIFICANCE_NOTE,
    TRANSFER_NOTE,
    TRANSFER_ORDERINGS_NOTE,
    ablation_significance,
    ablation_table,
    mechanism_note,
    mechanism_table,
    transfer_orderings,
    transfer_table,
    transfer_wide,
)
from flatbench.analysis.defences import leaderboard
from flatbench.report.correlation import SUMMARY_NOTE, summary_table
from flatbench.report.defences import defences_section
from flatbench.report.document import Comment, Document, Extra, Items, PaperTable, Para, Section, TableBlock
from flatbench.report.table import Cell, Column, Row, Table

MAIN_TITLES = {"table3": "Robustness and interpretation consistency (Table 3)",
               "table4": "Transfer to unforeseen attacks (Table 4)", "table5": "β / γ ablation (Table 5)",
               "table2": "Clean accuracy (Table 2)"}
BAE_NOTE = " Paper BAE: tier A reconstruction only (see the Markdown report for the tier B/C estimates)."


@dataclass
class ReportInput:
    """Everything a report shows, read from the cache and the tracking store beforehand
    (flatbench.reporting gathers it)."""

    grid: Any  # .name, .description, .paper_table
    df: pd.DataFrame  # flatbench.results.collect's rows
    deviations: list[str]
    progress: dict  # {"done", "total"}
    unavailable: dict[str, str] = field(default_factory=dict)  # Table 4: attack -> why it cannot run here
    mechanism: dict | None = None  # Table 5: flatbench.analysis.ablation.mechanism's result (ablate)
    reference: str | None = None  # Table 5: the (0.1, 0.001) variant, for the significance table (ablate)
    stages: list[dict] = field(default_factory=list)  # page: {cell, label, kind, key, cached}
    runs: dict = field(default_factory=dict)  # page: stage key -> (run id, experiment id, status)
    runs_note: str = ""
    correlations: list[dict] = field(default_factory=list)  # page: {cell, result} of cached correlate stages
    correlation_notes: list[str] = field(default_factory=list)
    label_names: dict = field(default_factory=dict)  # page: dataset -> class names
    cache_root: str = ""


def kind_of(grid, df: pd.DataFrame) -> str:
    kind = grid.paper_table or ("table3" if "AA" in df else "table2")
    if kind not in ("table4", "table5") and not ("attack" in df.columns and df["attack"].notna().any()):
        return "table2"
    return kind


def _views(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(seed-aggregated rows, per-seed rows each group followed by its aggregate)."""
    agg = aggregate_seeds(df) if not df.empty else df
    view = with_aggregates(df, agg) if not df.empty and has_several_seeds(df) else df
    return agg, view


def _title(grid) -> str:
    return f"{grid.name}: {grid.description}".strip()


def _progress(p: dict, what: str = "stages complete.") -> str:
    return f"{p['done']}/{p['total']} {what}"


def _seeds_note(df) -> str:
    return " Values: mean over seeds; CIs and tests pooled over the seeds' examples." \
        if not df.empty and has_several_seeds(df) else ""


def results_document(inp: ReportInput, kind: str) -> Document:
    grid, df = inp.grid, inp.df
    agg, view = _views(df)
    caption, label = grid.description or grid.name, f"tab:{grid.name}"
    progress = _progress(inp.progress)
    tex = [Comment(_title(grid))]
    sections = []
    if kind == "table3":
        main = robustness_table(view)
        blocks = [TableBlock(main, "t-main"), Para(LEGEND, "legend"), Para(RANKING_NOTE)]
        stand_ins = stand_in_note(df["model"]) if "model" in df.columns else None
        blocks += [Para(stand_ins)] if stand_ins else []
        warning = ig_delta_warning(main)
        blocks += [Para(warning)] if warning else []
        sections.append(Section("main", MAIN_TITLES[kind], blocks, lead=True))
        if getattr(grid, "measure", {}).get("defences"):  # the defence leaderboard (defences_cpu)
            sections.append(defences_section(leaderboard(df, agg)))
        orders = orderings(agg)
        if not orders.empty:
            sections.append(Section("orderings", "Orderings (FLAT > adv > base?)", [
                TableBlock(orderings_table(orders), "t-orderings"), Para(ORDERINGS_NOTE),
                Items(orderings_summary(orders))]))
        lime = lime_table(view)
        if not lime.empty:
            sections.append(Section("lime", "LIME consistency (paper: appendix Table 8, numbers not available to us)",
                                    [TableBlock(lime, "t-lime")]))
        sections.append(Section("clean", "Clean accuracy (Table 2 cells)", [
            TableBlock(clean_table(view), "t-clean"), Para(CLEAN_NOTE, show="page")]))
        models = agg["model"] if "model" in agg.columns else []
        note = LATEX_NOTE + _seeds_note(df) + "".join(
            f" {pretty(m)} paper lines: the paper's {pretty(ORIENTATION[m])} numbers, for orientation only."
            for m in sorted(set(models) & set(ORIENTATION)))
        tex += [PaperTable(robustness_table(agg), "table3", {"caption": caption, "label": label,
                                                             "paper": _paper3(models), "note": note}),
                PaperTable(clean_table(agg), "table2", {"caption": f"{grid.name}: clean accuracy (%)",
                                                        "label": f"{label}-clean", "paper": paper.table2()})]
        if not orders.empty:
            tex.append(Comment("Orderings:\n" + "\n".join("- " + x for x in orderings_summary(orders))))
    else:
        has_ci = not df.empty and "clean_lo" in df.columns and df["clean_lo"].notna().any()
        sections.append(Section("main", MAIN_TITLES["table2"], [
            TableBlock(clean_table(view), "t-main"), Para(CLEAN_NOTE, "legend", show="text" if has_ci else "page")],
            lead=True))
        tex.append(PaperTable(clean_table(agg), "table2", {"caption": caption, "label": label,
                                                           "paper": paper.table2()}))
    tex.append(Comment(progress))
    if inp.deviations:
        tex.append(Comment("Deviations from the paper:\n" + "\n".join("- " + d for d in inp.deviations)))
    doc = Document(_title(grid), [Section("latex", "", tex)] + sections, progress, list(inp.deviations))
    return _with_page(doc, inp, agg)


def _paper3(models) -> pd.DataFrame:
    p = paper.table3()
    extra = [p[p["model"] == ORIENTATION[m]].assign(model=m) for m in sorted(set(models) & set(ORIENTATION))]
    return pd.concat([p, *extra], ignore_index=True) if extra else p


def transfer_document(inp: ReportInput) -> Document:
    """Table 4: the wide table (ours / paper), cell by cell with Δ, the AA orderings beside the
    paper's, what could not run here and why, the deviations."""
    grid, df = inp.grid, inp.df
    agg = aggregate_seeds(df) if not df.empty else df
    progress = _progress(inp.progress, "stages of the runnable attacks complete.")
    sections = [Section("main", MAIN_TITLES["table4"], [TableBlock(transfer_wide(agg), "t-main"),
                                                          Para("Cells: ours [95 % CI] / paper.")], lead=True),
                Section("cells", "Ours beside the paper, cell by cell", [TableBlock(transfer_table(agg), "t-cells"),
                                                                         Para(TRANSFER_NOTE)])]
    orders = transfer_orderings(agg)
    if not orders.empty:
        sections.append(Section("orderings", "Orderings (AA): FLAT > adv > base?", [
            TableBlock(orders, "t-orderings"), Para(TRANSFER_ORDERINGS_NOTE)]))
    if inp.unavailable:
        sections.append(Section("unavailable", "Attacks not run here",
                                [Items([f"{pretty(a)}: {why}" for a, why in inp.unavailable.items()])]))
    tex = [Comment(f"{grid.name}: {grid.description}"),
           PaperTable(transfer_table(agg), "table4", {"caption": grid.description or grid.name,
                                                      "label": f"tab:{grid.name}", "paper": paper.table4(),
                                                      "note": LATEX_NOTE + _seeds_note(df) + BAE_NOTE}),
           Comment(progress), Comment("Deviations from the paper:\n" + "\n".join("- " + d for d in inp.deviations))]
    doc = Document(_title(grid), [Section("latex", "", tex)] + sections, progress, list(inp.deviations))
    return _with_page(doc, inp, agg)


def ablation_document(inp: ReportInput) -> Document:
    """Table 5 beside the paper; from `flatbench ablate` (a reference variant and the mechanism
    checks given) also each variant against the reference with paired tests and the mask-value
    and Fig. 5 synonym-L1 checks."""
    grid, df, mech = inp.grid, inp.df, inp.mechanism
    agg, view = _views(df)
    progress = _progress(inp.progress)
    sections = [Section("main", MAIN_TITLES["table5"], [
        TableBlock(ablation_table(agg if inp.reference else view), "t-main"), Para(ABLATION_NOTE, "legend")],
        lead=True)]
    sig = ablation_significance(agg, mech, inp.reference)
    if not sig.empty:
        sections.append(Section("significance", "Is (β, γ) = (0.1, 0.001) the best? (the paper's Table 5 ordering)",
                                [TableBlock(sig, "t-significance"), Para(SIGNIFICANCE_NOTE)]))
    mt = mechanism_table(mech)
    tex = [Comment(_title(grid) if inp.reference is None else f"{grid.name}: {grid.description}"),
           PaperTable(ablation_table(agg), "table5", {"caption": grid.description or grid.name,
                                                      "label": f"tab:{grid.name}", "paper": paper.table5(),
                                                      "note": LATEX_NOTE + _seeds_note(df)})]
    if not mt.empty:
        sections.append(Section("mechanism", "Mechanism checks from the cached models",
                                [TableBlock(mt, "t-mechanism"), Para(mechanism_note(mech))]))
        tex.append(PaperTable(mt, "booktabs", {"caption": f"{grid.name}: mask values and Fig. 5 synonym L1 per "
                                                          "(beta, gamma)", "label": f"tab:{grid.name}-mechanism"}))
    tex.append(Comment(progress))
    if inp.deviations or inp.reference is not None:
        tex.append(Comment("Deviations from the paper:\n" + "\n".join("- " + d for d in inp.deviations)))
    doc = Document(_title(grid), [Section("latex", "", tex)] + sections, progress, list(inp.deviations))
    return _with_page(doc, inp, agg)


def grid_document(inp: ReportInput) -> Document:
    kind = kind_of(inp.grid, inp.df)
    if kind == "table4":
        return transfer_document(inp)
    if kind == "table5":
        return ablation_document(inp)
    return results_document(inp, kind)


# ----------------------------------------------------------------------------------------------
# the HTML page's extras


def stages_table(inp: ReportInput) -> Table:
    titles = ["Cell", "Stage", "Cache key", "Cached", "MLflow run"]
    rows = []
    for s in inp.stages:
        run = inp.runs.get(s["key"])
        vals = [s["cell"], s["label"], f"{s['kind']}/{s['key']}", "yes" if s["cached"] else "no",
                f"{run[0]} (experiment {run[1]}, {run[2]})" if run else "not logged"]
        rows.append(Row({"kind": s["kind"], "key": s["key"], "run_id": run[0] if run else None},
                        {t: Cell(v) for t, v in zip(titles, vals)}))
    return Table("stages", [Column(t) for t in titles], rows)


def _with_page(doc: Document, inp: ReportInput, agg: pd.DataFrame) -> Document:
    df = inp.df
    if not df.empty and "interpret_dir" in df.columns and df["interpret_dir"].notna().any():
        doc.sections.append(Section("interpretation", "Interpretation consistency: top-k curves and example pairs (IG)",
                                    [Extra("interpretation", {"df": df, "agg": agg, "label_names": inp.label_names})]))
    if inp.correlations or inp.correlation_notes:
        doc.sections.append(Section("correlation", "Correlation of φ with frequency (Fig. 4 / Table 9)", [
            TableBlock(summary_table(inp.correlations), "t-corr", "(no correlation computed)", show="page")]
            + ([Items(inp.correlation_notes, show="page")] if inp.correlation_notes else [])
            + [Para(SUMMARY_NOTE, show="page")]))
    doc.sections.append(Section("mlflow", "Stages and MLflow runs", [
        Para(inp.runs_note, show="page"), TableBlock(stages_table(inp), "t-mlflow", show="page"),
        Para("A run is found by the stage's cache key (MLflow tag `key`); \"not logged\": no run with that key in the "
             "store (e.g. run with --no-mlflow, or another store).", show="page")]))
    doc.meta.update(name=inp.grid.name, cache_root=inp.cache_root)
    return doc


__all__ = ["ReportInput", "grid_document", "results_document", "transfer_document", "ablation_document", "kind_of",
           "stages_table"]
