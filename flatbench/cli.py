"""Command line: parse, call the library, print. Library errors become one line and exit 2."""

from __future__ import annotations

import os
import sys

import click

from flatbench.errors import FlatbenchError
from flatbench.report.formats import FORMATS

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


from flatbench.cli_common import context as _context  # noqa: E402  (shared by every command module)
from flatbench.cli_common import grid as _grid  # noqa: E402
from flatbench.cli_common import require_runs_dir as _require_runs_dir  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flatbench")
def cli():
    """flatbench: reproduce FLAT (Chen & Ji, AAAI 2022) — grids of cells, cached stages, paper-vs-ours tables."""


def _run_grid(grid_name, data_dir, runs_dir, models, datasets, methods, attacks, seeds, overrides,
              executor, dry_run, no_mlflow, fmt):
    from flatbench.reporting import grid_report

    grid = _grid(grid_name, models, datasets, methods, attacks, seeds, overrides)
    ctx = _context(runs_dir, data_dir, grid.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    if _plan_and_run(grid, ctx, executor, dry_run):
        click.echo(grid_report(grid, ctx, fmt)[0])


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


def _plan_and_run(grid, ctx, executor, dry_run: bool, run: bool = True) -> bool:
    """Plan the grid (with its analysis stages); with --dry-run print the plan and return False
    (nothing to report), else run the stages that are not cached (unless ``run`` is False) and
    return True."""
    from flatbench.reporting import plan_grid

    stages, _ = plan_grid(grid, ctx.data_dir)
    if dry_run:
        from flatbench.estimate import describe_plan

        click.echo(describe_plan(grid, stages, ctx))
        return False
    if run:
        from flatbench.pipeline import run_stages

        run_stages(stages, ctx, executor)
    return True


def _wrote(paths) -> None:
    for p in paths:
        click.echo(f"wrote {p}", err=True)


@cli.command()
@click.option("--grid", default="table4", show_default=True,
              help="table4: every model of the paper (BERT/DeBERTa GPU-sized); table4_cpu: LSTM/CNN on table3_cpu's "
                   "cached models (the paper's procedure), PWWS on the whole SST2 test set, the others on a seeded 200; "
                   "table4_cpu_quick: the same on table3_cpu_quick's 1-round models (PWWS 500)")
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
    from pathlib import Path

    from flatbench.report import formats
    from flatbench.report.documents import transfer_document
    from flatbench.report.plots import plot_transfer
    from flatbench.reporting import report_input, transfer_plan, write_report
    from flatbench.results import aggregate_seeds, csv_frame

    g = _grid(grid, models, datasets, methods, attacks or train_attack, seeds, overrides)
    planned, unavailable, run_grid = plan = transfer_plan(g)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    for a, why in unavailable.items():
        click.echo(f"not run here: {a} ({why})", err=True)
    if not _plan_and_run(run_grid, ctx, executor, dry_run, run=not cached_only):
        return
    inp = report_input(g, ctx, transfer=plan)
    doc = transfer_document(inp)
    click.echo(formats.render(doc, fmt))
    if not no_write:
        _wrote(write_report(doc, g.name, reports_dir, leaderboards_dir, csv_frame(inp.df)) + plot_transfer(
            aggregate_seeds(inp.df), Path(reports_dir) / "figures" / f"{g.name}_aa.png", g.description))


@cli.command()
@click.option("--grid", default="table5", show_default=True,
              help="table5: the paper's settings (3 rounds, all data); table5_cpu: table3_cpu's LSTM-FLAT on SST2, "
                   "seed 13 (the paper's procedure), whose (0.1, 0.001) variant is table3_cpu's own cached FLAT cell; "
                   "table5_cpu_quick: the same on table3_cpu_quick's 1-round cell")
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

    from flatbench.analysis.ablation import grid_mechanism, plot_phi_histograms, plot_synonym_l1
    from flatbench.report import formats
    from flatbench.report.documents import ablation_document
    from flatbench.reporting import report_input, write_report
    from flatbench.results import csv_frame

    g = _grid(grid, models, datasets, methods, attacks, seeds, overrides)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=not (no_mlflow or dry_run), compute=not dry_run)
    if not _plan_and_run(g, ctx, executor, dry_run, run=not cached_only):
        return
    mech, ref = grid_mechanism(g, ctx, synonym_words)
    inp = report_input(g, ctx, mechanism=mech, reference=ref)
    doc = ablation_document(inp)
    click.echo(formats.render(doc, fmt))
    if not no_write:
        written = write_report(doc, g.name, reports_dir, leaderboards_dir, csv_frame(inp.df))
        if mech:
            fig = Path(reports_dir) / "figures"
            written.append(plot_phi_histograms(mech["phi"], fig / f"{g.name}_phi_hist.png",
                                               "LSTM-FLAT (Textfooler, SST2): φ over the vocabulary"))
            written.append(plot_synonym_l1(mech["l1"], fig / f"{g.name}_fig5_synonym_l1.png",
                                           f"Fig. 5: |φ(w) − φ(s)|, {mech['n_words']} words × {mech['k']} "
                                           f"counter-fitted neighbours"))
        _wrote(written)


@cli.command()
@click.option("--grid", default="smoke", show_default=True)
@_common
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="markdown", show_default=True,
              help="markdown: ours beside the paper's with 95% CIs, significance marks and orderings; "
                   "latex: the paper's table layouts (booktabs, ASCII), seeds aggregated; "
                   "html: one self-contained page (sortable tables, top-k curves, attribution heat-maps, MLflow runs); "
                   "json: the format-neutral tables (values, CIs, marks, p-values)")
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
    from flatbench.report.plots import write_plots
    from flatbench.reporting import grid_report, write_csv

    g = _grid(grid, models, datasets, methods, attacks, seeds, overrides)
    _require_runs_dir(runs_dir, f"flatbench run --grid {grid} --runs-dir {runs_dir}")
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False, compute=False)
    text, inp = grid_report(g, ctx, fmt)
    if fmt != "html" or not output:
        click.echo(text)
    if csv_path:
        write_csv(inp.df, csv_path)
    if plots:
        _wrote(write_plots(inp.df, plots))
    if output:
        from pathlib import Path

        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        if fmt == "html":
            click.echo(f"wrote {output}", err=True)


@cli.command()
@click.option("--model", default="lstm", show_default=True)
@click.option("--dataset", default="sst2", show_default=True)
@click.option("--train-attack", default="textfooler", show_default=True)
@click.option("--grid", default="table3", show_default=True,
              help="grid whose settings the FLAT cell uses (table3_cpu: the CPU half at the paper's procedure; table3_cpu_quick: its reduced 1-round version)")
@_common
@click.option("--output", "-o", type=click.Path(), default=None, help="write the per-word table as CSV")
@_with_write_opts
def correlate(model, dataset, train_attack, grid, data_dir, runs_dir, models, datasets, methods, attacks, seeds,
              overrides, output, reports_dir, leaderboards_dir, no_write, cached_only):
    """Correlations of FLAT's phi with word and substitution frequency, Fig. 4 / Table 9 (cached models).

    The three scatter plots (substitution frequency vs word frequency, phi vs word frequency, phi vs
    substitution frequency) and Pearson / Spearman correlations with 95 % CIs (Fisher z). Writes
    <reports-dir>/correlation_<model>_<dataset>_<train-attack>.md and .tex, the CSV in
    <leaderboards-dir>, and the figures in <reports-dir>/figures unless --no-write."""
    from pathlib import Path

    import pandas as pd

    from flatbench.analysis.stage import correlate_stage, read_result
    from flatbench.executors.local import LocalExecutor
    from flatbench.report import formats
    from flatbench.report.correlation import correlation_document
    from flatbench.report.plots import plot_fig4
    from flatbench.reporting import write_report
    from flatbench.stages import bind_data, with_dependencies

    g = _grid(grid, model, dataset, "flat", train_attack, seeds, overrides)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False)
    st = correlate_stage(bind_data(g.cells[0], ctx.data_dir))
    final = st.model
    if not ctx.cache.done(final.kind, final.key):
        raise FlatbenchError(f"{final.label()} is not in the cache; run: flatbench run --grid {grid} "
                             f"--models {model} --datasets {dataset} --methods flat --attacks {train_attack}")
    LocalExecutor(echo=lambda *a, **k: None).run(with_dependencies([st]), ctx)
    res = read_result(ctx.cache.dir(st.kind, st.key))
    click.echo(f"{final.label()}: {res['n_words']} training words, {res['n_replaced']} replaced and "
               f"{res['n_substituted']} used as substitutes in {res['n_adversarial']} adversarial examples")
    for k in ("freq", "subst"):
        click.echo(f"phi vs log {'frequency' if k == 'freq' else '(1 + times substituted)'}: "
                   f"Pearson {res[f'pearson_{k}']:+.3f}, Spearman {res[f'spearman_{k}']:+.3f}")
    click.echo("highest phi: " + ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"]))
    click.echo("lowest phi:  " + ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"]))
    if output:
        pd.DataFrame(res["table"]).to_csv(output, index=False)
    name = f"correlation_{model}_{dataset}_{train_attack}"
    doc = correlation_document(final.label(), res, res["deviations"], g.name, tex_label=f"tab:{name}",
                               caption=f"Correlations, {model.upper()}-FLAT ({train_attack}, {dataset.upper()}), "
                                       f"grid {g.name}")
    click.echo(formats.render(doc, "markdown"))
    if not no_write:
        rows = pd.DataFrame(res["correlations"]).assign(model=model, dataset=dataset, train_attack=train_attack,
                                                        grid=g.name, paper="not available")
        written = write_report(doc, name, reports_dir, leaderboards_dir, rows)
        written += plot_fig4(res["table"], Path(reports_dir) / "figures", name,
                             f"{final.label()}: {res['n_words']} training words")
        words = Path(reports_dir) / "figures" / f"{name}_words.csv"
        pd.DataFrame(res["table"]).to_csv(words, index=False)
        _wrote(written + [words])


def _register_subcommands():
    from flatbench.cli_claims import claims
    from flatbench.cli_defences import defences
    from flatbench.cli_strength import strength
    from flatbench.cli_tools import TOOLS

    cli.add_command(strength)
    cli.add_command(claims)
    cli.add_command(defences)
    for command in TOOLS:
        cli.add_command(command)


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
