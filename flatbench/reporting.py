"""Reports of a grid, end to end: plan, read what the cache and the tracking store hold, build the
document, render it (flatbench.report), write it. The CLI's table commands and `flatbench report`
call these; the report layer itself only renders what it is given.

- `plan_grid`: a grid's stages, with the analysis stages (correlate) of its FLAT word-model cells;
- `report_input`: what a report shows (collect's rows with CIs and tests; for Table 4 grids the
  attacks that cannot run here; for the HTML page the stages, their MLflow runs, the cached
  correlations and the class names);
- `grid_report`: a grid's report text in one format; `write_report`: <name>.md and .tex, the
  leaderboard CSV and JSON.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from flatbench.analysis.seeds import csv_frame
from flatbench.analysis.stage import correlate_stages, read_result
from flatbench.report import formats
from flatbench.report.document import Document
from flatbench.report.documents import ReportInput, grid_document
from flatbench.results import collect
from flatbench.stages import plan, with_dependencies
from flatbench.tracking import run_ids


def plan_grid(grid, data_dir):
    """(stages, targets): `flatbench.stages.plan` plus a correlate stage per FLAT word-model cell."""
    stages, targets = plan(grid, data_dir)
    if grid.measure.get("correlate", True):
        have = {s.key for s in stages}
        stages = stages + [s for s in with_dependencies(correlate_stages(targets)) if s.key not in have]
    return stages, targets


def transfer_plan(grid):
    """(planned attacks, {attack: why it cannot run here}, the grid of the runnable attacks) of a
    Table 4 grid."""
    from flatbench.attacks.availability import recipe_availability

    planned = grid.eval_attacks(grid.cells[0])
    unavailable = recipe_availability(planned)
    runnable = [a for a in planned if a not in unavailable]
    return planned, unavailable, dataclasses.replace(grid, measure={**grid.measure, "eval_attacks": runnable})


def with_unavailable(df: pd.DataFrame, planned, unavailable) -> pd.DataFrame:
    """`collect`'s rows plus, per cell, one row per unavailable attack (AA NaN, `unavailable` =
    the reason), ordered by the planned attack order."""
    if "unavailable" not in df.columns:
        df = df.assign(unavailable="")
    if not unavailable or df.empty:
        return df
    keep = ["model", "dataset", "method", "train_attack", "seed", "cell", "variant", "beta", "gamma", "clean_acc",
            "clean_n", "clean_lo", "clean_hi", "train_seconds"]
    extra = []
    for _, first in df.drop_duplicates("cell").iterrows():
        for a, why in unavailable.items():
            extra.append({**{k: first[k] for k in keep if k in df.columns}, "attack": a, "unavailable": why})
    out = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    order = {a: i for i, a in enumerate(planned)}
    cells = {c: i for i, c in enumerate(dict.fromkeys(df["cell"]))}
    out["_o"] = [cells.get(c, 0) * 100 + order.get(a, 99) for c, a in zip(out["cell"], out["attack"])]
    return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def label_names(dataset: str, data_dir) -> list[str] | None:
    """The class names from the local data directory's labels.json (None: not there)."""
    if not data_dir:
        return None
    try:
        from flatbench.data.datasets import DATASETS

        folder = DATASETS[dataset].folder if dataset in DATASETS else dataset
        m = json.loads((Path(data_dir) / folder / "labels.json").read_text())
        return [m[str(i)] for i in range(len(m))]
    except Exception:  # names only label the examples
        return None


def page_extras(grid, ctx, df: pd.DataFrame) -> dict:
    """What only the HTML page shows: the stages with their MLflow runs, the cached correlations
    of FLAT cells, the class names."""
    stages, targets = plan_grid(grid, ctx.data_dir)
    rows = [{"cell": s.owner().id, "label": s.label(), "kind": s.kind, "key": s.key,
             "cached": ctx.cache.done(s.kind, s.key)} for s in stages]
    runs, note = run_ids(getattr(ctx.tracker, "uri", None), [s.key for s in stages])
    corr, notes = [], []
    for st in correlate_stages(targets):
        cell = st.model.cell
        if ctx.cache.done(st.kind, st.key):
            corr.append({"cell": cell.id, "result": read_result(ctx.cache.dir(st.kind, st.key))})
        elif ctx.cache.done(st.model.kind, st.model.key):
            notes.append(f"{cell.id}: its correlate stage is not in the cache yet (`flatbench run` computes it)")
    datasets = dict.fromkeys(df["dataset"]) if "dataset" in df.columns else {}
    return {"stages": rows, "runs": runs, "runs_note": note, "correlations": corr, "correlation_notes": notes,
            "label_names": {d: label_names(d, ctx.data_dir) for d in datasets}, "cache_root": str(ctx.cache.root)}


def report_input(grid, ctx, *, page: bool = False, transfer=None, **extra) -> ReportInput:
    """Everything a report of `grid` shows, from the cache (and, for a page, the MLflow store).
    ``transfer``: `transfer_plan`'s result for a Table 4 grid (computed here when None)."""
    if grid.paper_table == "table4":
        planned, unavailable, run_grid = transfer or transfer_plan(grid)
        df, devs, prog = collect(run_grid, ctx)
        df = with_unavailable(df, planned, unavailable)
        extra.setdefault("unavailable", unavailable)
    else:
        df, devs, prog = collect(grid, ctx)
    inp = ReportInput(grid, df, devs, prog, **extra)
    if page:
        inp = dataclasses.replace(inp, **page_extras(grid, ctx, df))
    return inp


def grid_report(grid, ctx, fmt: str = "markdown") -> tuple[str, ReportInput]:
    """A grid's report in `fmt` (any registered format), and what it was made from."""
    formats.renderer(fmt)  # an unknown format fails before any work
    inp = report_input(grid, ctx, page="page" in formats.renderer(fmt).SHOWS)
    return formats.render(grid_document(inp), fmt), inp


def write_report(doc: Document, name: str, reports_dir, leaderboards_dir, df: pd.DataFrame | None = None) -> list:
    """<reports_dir>/<name>.md and .tex; with results rows also <leaderboards_dir>/<name>.csv (our
    numbers, CIs, p-values) and <name>.json (the report's format-neutral tables)."""
    rd, ld = Path(reports_dir), Path(leaderboards_dir)
    rd.mkdir(parents=True, exist_ok=True)
    out = [rd / f"{name}.md", rd / f"{name}.tex"]
    out[0].write_text(formats.render(doc, "markdown"), encoding="utf-8")
    out[1].write_text(formats.render(doc, "latex"), encoding="ascii")
    if df is not None:
        ld.mkdir(parents=True, exist_ok=True)
        out += [ld / f"{name}.csv", ld / f"{name}.json"]
        df.to_csv(out[-2], index=False, float_format="%.4f")
        out[-1].write_text(formats.render(doc, "json"), encoding="utf-8")
    return out


def write_csv(df: pd.DataFrame, path) -> None:
    """`flatbench report --csv`: every per-seed row and each seed group's aggregate."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    csv_frame(df).to_csv(path, index=False, float_format="%.4f")


__all__ = ["plan_grid", "transfer_plan", "with_unavailable", "report_input", "grid_report", "write_report",
           "write_csv", "label_names", "page_extras"]


def claims_report(ctx, grids=None, selection: dict | None = None, compare=None) -> Document:
    """The claims ledger of ``grids`` (default: the CPU half's Table 3, 4 and 5 grids) from the cache,
    with the paper's numbers and the phi-gap diagnostic; a pure read (nothing runs). ``compare``:
    other grids (e.g. the reduced ``table3_cpu_quick``) whose verdicts are shown beside each claim."""
    from flatbench.analysis.claims_tables import LEDGER_GRIDS, PHI_GRIDS, gather, gather_phi
    from flatbench.attacks.availability import recipe_availability
    from flatbench.registry import ATTACKS
    from flatbench.report import paper
    from flatbench.report.claims import claims_document, phi_section

    grids = list(grids or LEDGER_GRIDS)
    tables = {"table2": paper.table2(), "table3": paper.table3(), "table4": paper.table4(),
              "table5": paper.table5()}
    # read once, shared by the ledger and the one it is compared with
    shared = {"online_only": recipe_availability(ATTACKS.names()), "selection": selection}
    # Fig. 5 and Table 9 from each ledger's own grids: the compared (earlier) one has its own models
    found, devs = gather(ctx, grids, tables, l1_var=_fig5(ctx, grids, selection),
                         corr=_table9(ctx, selection, grids), **shared)
    before = gather(ctx, list(compare), tables, l1_var=_fig5(ctx, list(compare), selection),
                    corr=_table9(ctx, selection, list(compare)), **shared)[0] if compare else None
    doc = claims_document(found, grids, devs, before=before, before_grids=list(compare or []) or None)
    phi_grids = [g for g in [*grids, *(compare or [])] if g in PHI_GRIDS]
    phi = gather_phi(ctx, list(dict.fromkeys(phi_grids)) or grids, selection=selection)
    if phi:
        doc.sections.append(phi_section(phi))
    return doc


# Table 9's pairs as the cached correlate stage names them ("replaced": how often a word is
# replaced in the training set's adversarial examples, the paper's substitution frequency)
TABLE9 = {"phi vs word frequency": ("freq", "phi"), "phi vs substitution frequency": ("replaced", "phi"),
          "word frequency vs substitution frequency": ("freq", "replaced")}


def _fig5(ctx, grids, selection: dict | None) -> dict | None:
    """Fig. 5's claim from the first Table 5 grid among ``grids`` whose (0.1, 0) and (0.1, 0.001)
    LSTM-FLAT models are cached: the variance of |phi(w) - phi(s)| over the ablation's seeded words
    and their counter-fitted neighbours (`flatbench ablate`'s mechanism check), gamma = 0 minus
    gamma = 0.001, paired bootstrap over the words. Loads the two cached models (torch)."""
    from flatbench.analysis.ablation import N_WORDS, grid_mechanism, variance_diff
    from flatbench.cells import load_grid

    def beta01(c):  # the two variants Fig. 5 compares: (0.1, 0) and (0.1, 0.001)
        return c.hp.get("beta") == 0.1 and c.hp.get("gamma") in (0, 0.001)

    for name in grids:
        grid = load_grid(name, **{k: v for k, v in (selection or {}).items() if k in ("seeds", "hp_overrides")})
        if grid.paper_table != "table5":
            continue
        mech, ref = grid_mechanism(grid, ctx, N_WORDS, keep=beta01, with_test=False)
        l1 = (mech or {}).get("l1", {})
        other = next((c.variant for c in grid.cells if beta01(c) and c.variant != ref), None)
        if ref in l1 and other in l1:
            return {**variance_diff(l1[other], l1[ref]), "grid": name}
    return None


# grids whose LSTM-FLAT-Textfooler SST2 correlate stage serves Table 9 (the full procedure first,
# then the reduced one)
TABLE9_GRIDS = ("table3_cpu", "table3_cpu_quick")


def _table9(ctx, selection: dict | None, grids=()) -> dict | None:
    """Pearson r with its CI for Table 9's three pairs, from the cached correlate stage of the
    LSTM-FLAT-Textfooler SST2 cell (the paper's model for Table 9) of the first of TABLE9_GRIDS that
    has it, among ``grids``' own where they name one (so a compared, earlier ledger reads its own
    models); None if none is cached. Each value says which grid it came from."""
    from flatbench.analysis.stage import correlate_stage
    from flatbench.cells import load_grid
    from flatbench.stages import bind_data

    for name in [g for g in TABLE9_GRIDS if g in grids] or TABLE9_GRIDS:
        grid = load_grid(name, models="lstm", datasets="sst2", methods="flat", attacks="textfooler",
                         **{k: v for k, v in (selection or {}).items() if k in ("seeds", "hp_overrides")})
        st = correlate_stage(bind_data(grid.cells[0], ctx.data_dir))
        if ctx.cache.done(st.kind, st.key):
            break
    else:
        return None
    res = json.loads((ctx.cache.dir(st.kind, st.key) / "correlation.json").read_text(encoding="utf-8"))
    by = {(c["x"], c["y"]): c for c in res["correlations"]}
    return {name: {"r": by[xy]["pearson"], "lo": by[xy]["pearson_lo"], "hi": by[xy]["pearson_hi"], "n": by[xy]["n"],
                   "grid": grid.name}
            for name, xy in TABLE9.items() if xy in by}
