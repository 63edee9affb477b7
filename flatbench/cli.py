"""Command line: parse, call the library, print. Library errors become one line and exit 2."""

from __future__ import annotations

import json
import os
import sys

import click

from flatbench.errors import FlatbenchError

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _common(f):
    opts = [
        click.option("--data-dir", type=click.Path(), default=None,
                     help="local dataset directory (else $FLATBENCH_DATA_DIR, ./data, ../shared/data, then the hub)"),
        click.option("--runs-dir", type=click.Path(), default="runs", show_default=True, help="stage cache"),
        click.option("--models", default=None, help="comma-separated filter, e.g. lstm,cnn"),
        click.option("--datasets", default=None, help="comma-separated filter, e.g. sst2,trec"),
        click.option("--methods", default=None, help="comma-separated filter: base,adv,flat"),
        click.option("--attacks", default=None, help="comma-separated filter of training attacks"),
        click.option("--seeds", default=None, help="comma-separated seeds (default: the grid's)"),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="override a hyper-parameter in every cell (JSON value), e.g. --set epochs=2"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _overrides(pairs) -> dict:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise FlatbenchError(f"--set {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _context(runs_dir, data_dir, grid_name, mlflow_on=True, compute=True):
    """compute=False (dry runs, reports): nothing will run, so torch is never imported."""
    from flatbench.cache import Cache
    from flatbench.data.datasets import resolve_data_dir
    from flatbench.stages import Context
    from flatbench.tracking import Tracker

    device = "cpu"
    if compute:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    root = resolve_data_dir(data_dir)
    click.echo(f"data: {root if root else 'Hugging Face hub'}", err=True)
    return Context(Cache(runs_dir), Tracker(enabled=mlflow_on), str(root) if root else None, grid_name, device)


def _grid(grid, models, datasets, methods, attacks, seeds, overrides):
    from flatbench.cells import load_grid

    return load_grid(grid, models=models, datasets=datasets, methods=methods, attacks=attacks,
                     seeds=seeds, hp_overrides=_overrides(overrides))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flatbench")
def cli():
    """flatbench: reproduce FLAT (Chen & Ji, AAAI 2022) — grids of cells, cached stages, paper-vs-ours tables."""


def _preflight_models(train_stages) -> None:
    """Check every model that still has to be trained can be built here, before running anything."""
    from flatbench.registry import MODELS
    from flatbench.settings import cell_hp

    seen = set()
    for s in train_stages:
        hp = cell_hp(s.cell)
        sig = (s.cell.model, hp.get("pretrained"), hp.get("tiny"), hp.get("embedding"))
        if sig not in seen:
            seen.add(sig)
            MODELS.get(s.cell.model).preflight(hp)


def _run_grid(grid_name, data_dir, runs_dir, models, datasets, methods, attacks, seeds, overrides,
              executor, dry_run, no_mlflow, fmt):
    from flatbench.report.tables import report
    from flatbench.results import collect

    grid = _grid(grid_name, models, datasets, methods, attacks, seeds, overrides)
    ctx = _context(runs_dir, data_dir, grid.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    if not _plan_and_run(grid, ctx, executor, dry_run):
        return
    df, devs, prog = collect(grid, ctx)
    click.echo(report(grid, df, devs, prog, fmt))


_run_opts = [
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True),
    click.option("--dry-run", is_flag=True, help="list the stages (cached or not) and their estimated cost; run nothing"),
    click.option("--no-mlflow", is_flag=True, help="do not log to MLflow"),
    click.option("--format", "fmt", type=click.Choice(["markdown", "latex"]), default="markdown", show_default=True),
]


def _with_run_opts(f):
    for o in reversed(_run_opts):
        f = o(f)
    return f


@cli.command()
@click.option("--grid", default="smoke", show_default=True, help="grid name (see `flatbench list`) or a .toml path")
@_common
@_with_run_opts
def run(grid, **kw):
    """Run (or resume) every stage of a grid and print its table beside the paper's."""
    _run_grid(grid, **kw)


_write_opts = [
    click.option("--reports-dir", type=click.Path(), default="reports", show_default=True,
                 help="write <name>.md, <name>.tex and figures/<name>_*.png here"),
    click.option("--leaderboards-dir", type=click.Path(), default="leaderboards", show_default=True,
                 help="write <name>.csv (our numbers, CIs, p-values) here"),
    click.option("--no-write", is_flag=True, help="print only; write no report, CSV or figure"),
    click.option("--cached-only", is_flag=True,
                 help="run nothing: render what the cache holds (missing cells show –), e.g. while a grid is running"),
]


def _with_write_opts(f):
    for o in reversed(_write_opts):
        f = o(f)
    return f


def _write(name: str, reports_dir, leaderboards_dir, md: str, tex: str, csv_df=None) -> list:
    from pathlib import Path

    rd, ld = Path(reports_dir), Path(leaderboards_dir)
    rd.mkdir(parents=True, exist_ok=True)
    out = [rd / f"{name}.md", rd / f"{name}.tex"]
    out[0].write_text(md, encoding="utf-8")
    out[1].write_text(tex, encoding="ascii")
    if csv_df is not None:
        ld.mkdir(parents=True, exist_ok=True)
        out.append(ld / f"{name}.csv")
        csv_df.to_csv(out[-1], index=False, float_format="%.4f")
    return out


SHORT_RESOURCE = {"hownet": "HowNet", "flair_pos": "flair POS tagger", "masked_lm_bert": "BERT masked LM",
                  "masked_lm_distilroberta": "DistilRoBERTa masked LM", "google_lm": "Google LM"}


def recipe_availability(recipes) -> dict[str, str]:
    """recipe -> why it cannot run here ("online only: needs ...", from its required resources
    that are missing offline); recipes that can run are left out. Optional resources (Gene's
    Google LM) do not count: the recipe runs without them and says so in its deviations."""
    from flatbench.attacks import resources as R
    from flatbench.attacks.recipes import preflight, recipe
    from flatbench.errors import ResourceMissingError

    R.ensure_nltk_env()
    out = {}
    for name in dict.fromkeys(recipes):
        mod = recipe(name)
        missing = [R.resource(r) for r in mod.RESOURCES
                   if r not in getattr(mod, "OPTIONAL_RESOURCES", ()) and R.resource(r).status == "missing"]
        if missing:
            out[name] = "online only: needs " + ", ".join(SHORT_RESOURCE.get(m.name, m.original) for m in missing)
            continue
        try:
            preflight([name])
        except ResourceMissingError as e:
            out[name] = f"online only: {e}"
    return out


def _plan_and_run(grid, ctx, executor, dry_run: bool, run: bool = True) -> bool:
    """Plan the grid; with --dry-run print the plan and return False (nothing to report), else
    run the stages that are not cached (unless ``run`` is False) and return True."""
    from flatbench.stages import plan

    stages, _ = plan(grid, ctx.data_dir)
    if dry_run:
        from flatbench.estimate import describe_plan

        click.echo(describe_plan(grid, stages, ctx))
        return False
    if run:
        _run_stages(stages, ctx, executor)
    return True


def _run_stages(stages, ctx, executor):
    from flatbench.attacks.recipes import preflight
    from flatbench.executors import get_executor

    ctx.cache.ensure_writable()
    preflight(s.recipe for s in stages if s.kind == "attack" and not ctx.cache.done(s.kind, s.key))
    _preflight_models(s for s in stages if s.kind == "train" and not ctx.cache.done(s.kind, s.key))
    ctx.tracker.setup()
    get_executor(executor).run(stages, ctx)


@cli.command()
@click.option("--grid", default="table4", show_default=True,
              help="table4: every model of the paper (BERT/DeBERTa GPU-sized); table4_cpu: LSTM/CNN on table3_cpu's "
                   "cached models (1 round), attacked on seeded SST2 test subsets (PWWS 500, the others 200)")
@click.option("--train-attack", default="textfooler", show_default=True, help="attack the adv/FLAT models were trained with")
@_common
@_with_run_opts
@_with_write_opts
def transfer(grid, train_attack, attacks, data_dir, runs_dir, models, datasets, methods, seeds, overrides, executor,
             dry_run, no_mlflow, fmt, reports_dir, leaderboards_dir, no_write, cached_only):
    """Table 4: robustness of SST2 models to six unforeseen attacks (PWWS, Gene, IGA, PSO, Clare, BAE).

    `flatbench transfer --grid table4_cpu` is the CPU version (the default `table4` is the paper's
    full grid). Every attack is planned; one whose resources are missing here (offline: PSO needs
    HowNet and flair's POS tagger, Clare and BAE masked LMs) is not run, and its cells say
    "online only: needs ..."; the others run (Gene without its Google LM constraint offline, a
    deviation). Writes <reports-dir>/<grid>.md and .tex, <leaderboards-dir>/<grid>.csv and
    <reports-dir>/figures/<grid>_aa.png unless --no-write."""
    import dataclasses

    from flatbench.report.tables import plot_transfer
    from flatbench.results import csv_frame

    g = _grid(grid, models, datasets, methods, attacks or train_attack, seeds, overrides)
    planned = g.eval_attacks(g.cells[0])
    unavailable = recipe_availability(planned)
    runnable = [a for a in planned if a not in unavailable]
    run_grid = dataclasses.replace(g, measure={**g.measure, "eval_attacks": runnable})
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    for a, why in unavailable.items():
        click.echo(f"not run here: {a} ({why})", err=True)
    if not _plan_and_run(run_grid, ctx, executor, dry_run, run=not cached_only):
        return
    df, agg, md, tex = _transfer_texts(g, run_grid, ctx, planned, unavailable)
    click.echo(md if fmt == "markdown" else tex)
    if not no_write:
        from pathlib import Path

        for p in _write(g.name, reports_dir, leaderboards_dir, md, tex, csv_frame(df)) + \
                plot_transfer(agg, Path(reports_dir) / "figures" / f"{g.name}_aa.png", g.description):
            click.echo(f"wrote {p}", err=True)


def _transfer_texts(g, run_grid, ctx, planned, unavailable):
    """(per-seed frame, seed-aggregated frame, Markdown, LaTeX) of a Table 4 grid from the cache;
    attacks whose resources are missing here are cells saying "online only: needs ..."."""
    from flatbench.report.latex import table4_latex
    from flatbench.report.paper import table4 as paper4
    from flatbench.report.tables import LATEX_NOTE, _comment, transfer_report
    from flatbench.results import aggregate_seeds, collect

    df, devs, prog = collect(run_grid, ctx)
    df = _with_unavailable(df, planned, unavailable)
    md = transfer_report(g, df, devs, prog, unavailable, "markdown")
    agg = aggregate_seeds(df)
    lat = agg.copy()
    if unavailable:
        lat["AA"] = lat["AA"].astype(object)
        for i, r in lat.iterrows():
            if isinstance(r.get("unavailable"), str) and r["unavailable"]:
                lat.at[i, "AA"] = r["unavailable"]
    tex = "\n".join([_comment(f"{g.name}: {g.description}"),
                     table4_latex(lat, caption=g.description or g.name, label=f"tab:{g.name}", paper=paper4(),
                                  note=LATEX_NOTE + " Paper BAE: tier A reconstruction only (see the Markdown "
                                                    "report for the tier B/C estimates)."),
                     _comment(f"{prog['done']}/{prog['total']} stages of the runnable attacks complete."),
                     _comment("Deviations from the paper:\n" + "\n".join("- " + d for d in devs))]) + "\n"
    return df, agg, md, tex


def _with_unavailable(df, planned, unavailable):
    """`collect`'s rows plus, per cell, one row per unavailable attack (AA NaN, `unavailable` =
    the reason), ordered by the planned attack order."""
    import pandas as pd

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


@cli.command()
@click.option("--grid", default="table5", show_default=True,
              help="table5: the paper's settings (3 rounds, all data); table5_cpu: table3_cpu's LSTM-FLAT "
                   "(1 round, attacked subsets), whose (0.1, 0.001) variant is table3_cpu's own cached FLAT cell")
@click.option("--synonym-words", type=int, default=1000, show_default=True,
              help="Fig. 5: words sampled (seeded) for the phi-vs-synonym L1 check")
@_common
@_with_run_opts
@_with_write_opts
def ablate(grid, synonym_words, data_dir, runs_dir, models, datasets, methods, attacks, seeds, overrides, executor,
           dry_run, no_mlflow, fmt, reports_dir, leaderboards_dir, no_write, cached_only):
    """Table 5: the beta/gamma ablation of LSTM-FLAT (Textfooler, SST2), with the paper's two mechanism
    checks from the cached models: the distribution of the mask values phi per (beta, gamma) (beta = 0:
    "all masks close to 1") and Fig. 5, the L1 difference between the phi of 1,000 seeded random
    words and of their 10 nearest counter-fitted neighbours (gamma = 0: "varies more"). Writes
    <reports-dir>/<grid>.md and .tex, <leaderboards-dir>/<grid>.csv and <reports-dir>/figures/
    <grid>_phi_hist.png, <grid>_fig5_synonym_l1.png unless --no-write."""
    from pathlib import Path

    from flatbench.analysis.ablation import mechanism, plot_phi_histograms, plot_synonym_l1
    from flatbench.report.latex import table5_latex
    from flatbench.report.paper import table5 as paper5
    from flatbench.report.tables import LATEX_NOTE, _comment, ablation_report, mechanism_latex
    from flatbench.results import aggregate_seeds, collect, csv_frame
    from flatbench.data.splits import data_for
    from flatbench.stages import bind_data, final_train_stage

    g = _grid(grid, models, datasets, methods, attacks, seeds, overrides)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    if not _plan_and_run(g, ctx, executor, dry_run, run=not cached_only):
        return
    df, devs, prog = collect(g, ctx)
    dirs, ds = {}, None
    for c in g.cells:
        c = bind_data(c, ctx.data_dir)
        final = final_train_stage(c)
        if ctx.cache.done(final.kind, final.key):
            dirs[c.variant or c.id] = ctx.cache.dir(final.kind, final.key)
            ds, train, _ = data_for(c, ctx)
    ref = next((c.variant for c in g.cells if c.hp.get("beta") == 0.1 and c.hp.get("gamma") == 0.001), None)
    mech = mechanism(dirs, train.texts, ds.test, n_words=synonym_words, reference=ref) if dirs else None
    md = ablation_report(g, df, devs, prog, mech, ref, "markdown")
    agg = aggregate_seeds(df)
    tex = "\n".join([_comment(f"{g.name}: {g.description}"),
                     table5_latex(agg, caption=g.description or g.name, label=f"tab:{g.name}", paper=paper5(),
                                  note=LATEX_NOTE),
                     mechanism_latex(mech, caption=f"{g.name}: mask values and Fig. 5 synonym L1 per (beta, gamma)",
                                     label=f"tab:{g.name}-mechanism") if mech else "",
                     _comment(f"{prog['done']}/{prog['total']} stages complete."),
                     _comment("Deviations from the paper:\n" + "\n".join("- " + d for d in devs))]) + "\n"
    click.echo(md if fmt == "markdown" else tex)
    if not no_write:
        written = _write(g.name, reports_dir, leaderboards_dir, md, tex, csv_frame(df))
        if mech:
            fig = Path(reports_dir) / "figures"
            written.append(plot_phi_histograms(mech["phi"], fig / f"{g.name}_phi_hist.png",
                                               "LSTM-FLAT (Textfooler, SST2): φ over the vocabulary"))
            written.append(plot_synonym_l1(mech["l1"], fig / f"{g.name}_fig5_synonym_l1.png",
                                           f"Fig. 5: |φ(w) − φ(s)|, {mech['n_words']} words × {mech['k']} "
                                           f"counter-fitted neighbours"))
        for p in written:
            click.echo(f"wrote {p}", err=True)


@cli.command()
@click.option("--grid", default="smoke", show_default=True)
@_common
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "html"]), default="markdown", show_default=True,
              help="markdown: ours beside the paper's with 95% CIs, significance marks and orderings; "
                   "latex: the paper's table layouts (booktabs, ASCII), seeds aggregated; "
                   "html: one self-contained page (sortable tables, top-k curves, attribution heat-maps, MLflow runs)")
@click.option("--output", "-o", type=click.Path(), default=None, help="also write the report to this file")
@click.option("--plots", type=click.Path(), default=None,
              help="write top-k curves (PNG) and Fig. 3-style pair visuals (HTML/PNG) into this directory")
@click.option("--csv", "csv_path", type=click.Path(), default=None,
              help="write our numbers, one row per cell and attack (and one per seed aggregate when there are "
                   "several seeds), with CIs, paired-test p-values and pair counts, as CSV (e.g. for leaderboards/)")
def report(grid, data_dir, runs_dir, models, datasets, methods, attacks, seeds, overrides, fmt, output, plots,
           csv_path):
    """Render a grid's tables from the cache (trains and attacks nothing; CIs and tests come from
    the stored per-example records)."""
    from flatbench.report.tables import report as render
    from flatbench.results import collect, csv_frame

    g = _grid(grid, models, datasets, methods, attacks, seeds, overrides)
    _require_runs_dir(runs_dir, f"flatbench run --grid {grid} --runs-dir {runs_dir}")
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False, compute=False)
    if g.paper_table == "table4" and fmt != "html":
        # Table 4 grids render as `flatbench transfer` does (online-only cells included)
        import dataclasses

        planned = g.eval_attacks(g.cells[0])
        unavailable = recipe_availability(planned)
        run_grid = dataclasses.replace(g, measure={**g.measure, "eval_attacks": [
            a for a in planned if a not in unavailable]})
        df, _, md, tex = _transfer_texts(g, run_grid, ctx, planned, unavailable)
        text = md if fmt == "markdown" else tex
    else:
        df, devs, prog = collect(g, ctx)
        if fmt == "html":
            from flatbench.report.html import html_report

            text = html_report(g, df, devs, prog, ctx)
        else:
            text = render(g, df, devs, prog, fmt)
    if fmt != "html" or not output:
        click.echo(text)
    if csv_path:
        from pathlib import Path

        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        csv_frame(df).to_csv(csv_path, index=False, float_format="%.4f")
    if plots:
        from flatbench.report.tables import write_plots

        for p in write_plots(df, plots):
            click.echo(f"wrote {p}", err=True)
    if output:
        from pathlib import Path

        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        if fmt == "html":
            click.echo(f"wrote {output}", err=True)


def _require_runs_dir(runs_dir, how: str) -> None:
    from pathlib import Path

    p = Path(runs_dir)
    if not p.is_dir():
        what = "is not a directory" if p.exists() else "does not exist"
        raise FlatbenchError(f"runs dir {runs_dir} {what}: nothing has been run there; run: {how}")


@cli.command()
@click.option("--model", required=True)
@click.option("--dataset", required=True)
@click.option("--method", default="base", show_default=True)
@click.option("--train-attack", default=None, help="attack the adv/FLAT model was trained with (default: --recipe)")
@click.option("--recipe", required=True, help="attack recipe, e.g. pwws, textfooler")
@click.option("--split", type=click.Choice(["test", "dev", "train"]), default="test", show_default=True)
@click.option("--n", type=int, default=None, help="attack N seeded random examples (default: all)")
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--budget", type=int, default=None, help="query budget per example (default: the recipe's)")
@click.option("--grid", default="table3", show_default=True, help="grid whose hyper-parameters the model uses")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--no-mlflow", is_flag=True)
def attack(model, dataset, method, train_attack, recipe, split, n, seed, budget, grid, data_dir, runs_dir,
           overrides, no_mlflow):
    """Attack a trained model (training it first if it is not cached) and print the metrics."""
    from flatbench.attacks.recipes import preflight
    from flatbench.executors.local import LocalExecutor
    from flatbench.registry import METHODS
    from flatbench.stages import AttackStage, bind_data, final_train_stage, with_dependencies

    preflight([recipe] + ([train_attack] if train_attack else []))
    if n is not None and n <= 0:
        raise FlatbenchError(f"--n {n}: the example selection is empty")
    if budget is not None and budget <= 0:
        raise FlatbenchError(f"--budget {budget}: a query budget must be a positive integer")
    adversarial = METHODS.get(method).ADVERSARIAL
    g = _grid(grid, model, dataset, method, (train_attack or recipe) if adversarial else None, str(seed), overrides)
    ctx = _context(runs_dir, data_dir, f"attack:{g.name}", mlflow_on=not no_mlflow)
    cell = bind_data(g.cells[0], ctx.data_dir)
    _preflight_models([final_train_stage(cell)])
    ctx.cache.ensure_writable()
    ctx.tracker.setup()
    final = final_train_stage(cell)
    st = AttackStage(final, split, recipe, n, seed, budget or cell.hp.get("query_budget"))
    LocalExecutor().run(with_dependencies([st]), ctx)
    m = ctx.cache.manifest(st.kind, st.key)
    mm = m["metrics"]
    click.echo(f"{st.label()}  (cache {ctx.cache.dir(st.kind, st.key)})")
    click.echo(f"examples {mm['n']}: succeeded {mm['succeeded']}, failed {mm['failed']}, skipped {mm['skipped']}")
    click.echo(f"clean accuracy        {100 * mm['clean_acc']:.2f}%")
    click.echo(f"after-attack accuracy {100 * mm['after_attack_acc']:.2f}%")
    click.echo(f"attack success rate   {100 * mm['success_rate']:.2f}%")
    click.echo(f"words perturbed       {mm['perturbed_pct']:.2f}%")
    click.echo(f"average queries       {mm['avg_queries']:.1f}")
    click.echo(f"seconds per example   {mm['seconds_per_example']:.3f} (forward share {100 * mm['forward_share']:.0f}%)")
    for d in m["deviations"]:
        click.echo(f"deviation: {d}")


@cli.command()
@click.option("--model", default="lstm", show_default=True)
@click.option("--dataset", default="sst2", show_default=True)
@click.option("--train-attack", default="textfooler", show_default=True)
@click.option("--grid", default="table3", show_default=True,
              help="grid whose settings the FLAT cell uses (table3_cpu: the CPU half's cached LSTM-FLAT)")
@_common
@click.option("--output", "-o", type=click.Path(), default=None, help="write the per-word table as CSV")
@_with_write_opts
def correlate(model, dataset, train_attack, grid, data_dir, runs_dir, models, datasets, methods, attacks, seeds,
              overrides, output, reports_dir, leaderboards_dir, no_write, cached_only):
    """Fig. 4 / Table 9: correlation of FLAT's phi with word and substitution frequency (cached models only).

    The three scatter plots (substitution frequency vs word frequency, phi vs word frequency, phi vs
    substitution frequency) and Pearson / Spearman correlations with 95 % CIs (Fisher z). Writes
    <reports-dir>/correlation_<model>_<dataset>_<train-attack>.md and .tex, the CSV in
    <leaderboards-dir>, and the figures in <reports-dir>/figures unless --no-write."""
    from pathlib import Path

    from flatbench.analysis.correlation import correlate as corr
    from flatbench.analysis.correlation import correlation_latex, correlation_report, plot_fig4
    from flatbench.data.splits import data_for
    from flatbench.stages import bind_data, final_train_stage, with_dependencies

    g = _grid(grid, model, dataset, "flat", train_attack, seeds, overrides)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False)
    cell = bind_data(g.cells[0], ctx.data_dir)
    final = final_train_stage(cell)
    if not ctx.cache.done(final.kind, final.key):
        raise FlatbenchError(f"{final.label()} is not in the cache; run: flatbench run --grid {grid} "
                             f"--models {model} --datasets {dataset} --methods flat --attacks {train_attack}")
    attacks_ = [ctx.cache.dir(s.kind, s.key) for s in with_dependencies([final]) if s.kind == "attack"]
    _, train, _ = data_for(cell, ctx)
    res = corr(ctx.cache.dir(final.kind, final.key), attacks_, train.texts)
    click.echo(f"{final.label()}: {res['n_words']} training words, {res['n_replaced']} replaced and "
               f"{res['n_substituted']} used as substitutes in {res['n_adversarial']} adversarial examples")
    for k in ("freq", "subst"):
        click.echo(f"phi vs log {'frequency' if k == 'freq' else '(1 + times substituted)'}: "
                   f"Pearson {res[f'pearson_{k}']:+.3f}, Spearman {res[f'spearman_{k}']:+.3f}")
    click.echo("highest phi: " + ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"]))
    click.echo("lowest phi:  " + ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"]))
    import pandas as pd

    if output:
        pd.DataFrame(res["table"]).to_csv(output, index=False)
    name = f"correlation_{model}_{dataset}_{train_attack}"
    rounds = int(cell.hp.get("rounds", 3))
    n_attacked = cell.hp.get("attack_train_n")
    devs = [f"{rounds} attack/train round(s) instead of the paper's 3-5"] if rounds < 3 else []
    if n_attacked:
        devs.append(f"substitution counts from {len(attacks_)} training-set attack(s) of {n_attacked} seeded "
                    f"random training rows each (paper: the whole training set, every round)")
    devs += sorted({d for d in __import__("json").loads(
        (ctx.cache.dir(final.kind, final.key) / "manifest.json").read_text()).get("deviations", [])
        if "attack/train round" not in d})
    md = correlation_report(final.label(), res, devs, g.name)
    tex = correlation_latex(res, caption=f"Correlations, {model.upper()}-FLAT ({train_attack}, {dataset.upper()}), "
                                         f"grid {g.name}", label=f"tab:{name}", deviations=devs)
    click.echo(md)
    if not no_write:
        rows = pd.DataFrame(res["correlations"]).assign(model=model, dataset=dataset, train_attack=train_attack,
                                                        grid=g.name, paper="not available")
        written = _write(name, reports_dir, leaderboards_dir, md, tex, rows)
        written += plot_fig4(res["table"], Path(reports_dir) / "figures", name,
                             f"{final.label()}: {res['n_words']} training words")
        words = Path(reports_dir) / "figures" / f"{name}_words.csv"
        pd.DataFrame(res["table"]).to_csv(words, index=False)
        written.append(words)
        for p in written:
            click.echo(f"wrote {p}", err=True)


@cli.group(invoke_without_command=True)
@click.pass_context
def resources(ctx):
    """Attack resources: where each would come from now (originals online, substitutes offline)."""
    if ctx.invoked_subcommand is None:
        from tabulate import tabulate

        from flatbench.attacks import resources as res

        rows = [[r.name, r.status, ", ".join(r.recipes), r.path or "–", r.deviation or r.fix or ""]
                for r in res.table()]
        click.echo(f"resource directory: {res.resource_dir()}")
        click.echo(tabulate(rows, headers=["resource", "status", "recipes", "path", "deviation / how to get it"],
                            tablefmt="github"))
        for line in res.quality_lines():
            click.echo(line)


@resources.command()
@click.option("--online/--offline", default=None, help="force the online originals or the offline substitutes")
def prepare(online):
    """Assemble what can be assembled into flatbench's resource directory (idempotent)."""
    from flatbench.attacks import resources as res

    rep = res.prepare(online=online)
    for name, what in rep.get("actions", {}).items():
        click.echo(f"  {name}: {what}")
    click.echo(f"resources ready in {rep['resource_dir']} ({rep['seconds']:.1f}s, "
               f"{'online' if rep['online'] else 'offline'})")
    missing = [r for r in res.table() if r.status == "missing"]
    for r in missing:
        click.echo(f"  missing: {r.name} (needed by {', '.join(r.recipes)}): {r.fix}")


@cli.group("cache")
def cache_group():
    """The stage cache (runs/<kind>/<key>/): verify it against its manifests, repair it."""


@cache_group.command("verify")
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True, help="stage cache")
@click.option("--repair", is_flag=True,
              help="move bad stages aside (to runs/<kind>/.bad/) so that the next run recomputes them")
def cache_verify(runs_dir, repair):
    """Check every cached stage: its manifest reads and each output file has the size and sha256
    recorded in it. Legacy stages (manifests written before hashes were recorded) are checked for
    structure (JSON, JSON Lines and checkpoints read) and get their hashes recorded now. Exit 1
    when bad stages remain (without --repair)."""
    from collections import Counter

    from flatbench.cache import Cache

    _require_runs_dir(runs_dir, "flatbench run --runs-dir DIR")
    cache = Cache(runs_dir)
    rows = cache.verify(repair=repair)
    for r in rows:
        if r["status"] in ("bad", "repaired"):
            moved = f"; moved to {r['moved_to']}" if r.get("moved_to") else ""
            click.echo(f"{r['status']}: {r['kind']}/{r['key']}: {r['problem']}{moved}")
    c = Counter(r["status"] for r in rows)
    line = f"{len(rows)} stages: {c['ok']} ok, {c['legacy']} legacy (hashes recorded now), {c['bad'] + c['repaired']} bad"
    if repair:
        line += f" ({c['repaired']} moved aside; the next run recomputes them)"
        stale = cache.sweep_stale()
        if stale:
            line += f"; removed {stale} temporary director{'y' if stale == 1 else 'ies'} of dead processes"
    click.echo(line)
    if c["bad"]:
        click.echo("run `flatbench cache verify --repair` to move them aside; the next run recomputes them", err=True)
        sys.exit(1)


@cli.command("list")
def list_cmd():
    """What the registry holds: datasets, models, methods, attacks, grids."""
    from flatbench.cells import read_grid_file
    from flatbench.data.datasets import DATASETS
    from flatbench.registry import ATTACKS, METHODS, MODELS, grid_names

    click.echo("datasets: " + " ".join(DATASETS))
    click.echo("models:   " + " ".join(MODELS.names()))
    click.echo("methods:  " + " ".join(METHODS.names()))
    click.echo("attacks:  " + " ".join(ATTACKS.names()))
    click.echo("grids:")
    for g in grid_names():
        click.echo(f"  {g:8s} {read_grid_file(g).get('description', '')}")


@cli.command("hp")
@click.option("--grid", default=None, help="also show this grid's resolved values, per model/dataset/method")
def hp_cmd(grid):
    """Every declared hyper-parameter: who declares it, its default, what values it takes."""
    from tabulate import tabulate

    from flatbench import hparams as H
    from flatbench.registry import METHODS

    groups = [(f"model:{m}", H.model_hp(m)) for m in H.MODEL_HP] + \
        [(f"method:{m}", H.method_hp(METHODS.get(m), rounds=True)) for m in METHODS.names()] + \
        [("train", H.train_hp()), ("rounds", H.rounds_hp()), ("attack", H.attack_hp()),
         ("interpret", H.interpret_hp()), ("settings", H.SETTINGS)]
    decl: dict = {}
    defaults: dict[str, dict[str, str]] = {}  # name -> {owner: default}, in declaration order
    for owner, d in groups:
        for k, p in d.items():
            decl.setdefault(k, p)
            defaults.setdefault(k, {})[owner] = json.dumps(p.default)
    rows = [[k, ", ".join(defaults[k]), (next(iter(defaults[k].values())) if len(set(defaults[k].values())) == 1
             else ", ".join(f"{o.split(':')[-1]} {v}" for o, v in defaults[k].items())),
             decl[k]._want(), decl[k].doc] for k in sorted(decl)]
    click.echo(tabulate(rows, headers=["name", "declared by", "default", "takes", "meaning"], tablefmt="github"))
    if grid:
        from flatbench.cells import load_grid
        from flatbench.settings import cell_hp

        g = load_grid(grid)
        seen = set()
        for c in g.cells:
            sig = (c.model, c.dataset, c.method)
            if sig in seen:
                continue
            seen.add(sig)
            hp = cell_hp(c)
            set_ = {k: v for k, v in sorted(hp.items()) if k in decl and v != decl[k].default}
            click.echo(f"{c.model}/{c.dataset}/{c.method}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in set_.items()))


@cli.command()
@click.option("--data-dir", type=click.Path(), default=None)
def datasets(data_dir):
    """Statistics of each dataset beside the paper's Table 1, and where it was loaded from."""
    from tabulate import tabulate

    from flatbench.data.datasets import DATASETS, load_dataset

    rows = []
    for name, info in DATASETS.items():
        ds = load_dataset(name, data_dir)
        s = ds.stats()
        rows.append([name, ds.source] + [f"{s[k]} ({info.paper[k]})" for k in ("classes", "avg_len", "train", "dev", "test")])
        for d in ds.deviations:
            click.echo(f"deviation: {d}", err=True)
    click.echo(tabulate(rows, headers=["dataset", "source", "classes", "avg len", "train", "dev", "test"],
                        tablefmt="github"))
    click.echo("(paper Table 1 in brackets)")


def _register_subcommands():
    from flatbench.cli_claims import claims
    from flatbench.cli_strength import strength

    cli.add_command(strength)
    cli.add_command(claims)


_register_subcommands()


def main(argv=None):
    try:
        cli.main(args=argv, standalone_mode=False)
    except FlatbenchError as e:
        click.echo(f"flatbench: error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("flatbench: interrupted; completed stages are cached — rerun the same command to resume", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("flatbench: interrupted; completed stages are cached — rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":
    main()
