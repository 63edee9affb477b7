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


def _context(runs_dir, data_dir, grid_name, mlflow_on=True):
    from flatbench.cache import Cache
    from flatbench.data.datasets import resolve_data_dir
    from flatbench.stages import Context
    from flatbench.tracking import Tracker
    import torch

    root = resolve_data_dir(data_dir)
    click.echo(f"data: {root if root else 'Hugging Face hub'}", err=True)
    return Context(Cache(runs_dir), Tracker(enabled=mlflow_on), str(root) if root else None, grid_name,
                   "cuda" if torch.cuda.is_available() else "cpu")


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
    from flatbench.stages import cell_hp

    seen = set()
    for s in train_stages:
        hp = cell_hp(s.cell)
        sig = (s.cell.model, hp.get("pretrained"), hp.get("tiny"), hp.get("embedding"))
        if sig not in seen:
            seen.add(sig)
            MODELS.get(s.cell.model).preflight(hp)


def _run_grid(grid_name, data_dir, runs_dir, models, datasets, methods, attacks, seeds, overrides,
              executor, dry_run, no_mlflow, fmt):
    from flatbench.executors import get_executor
    from flatbench.report.tables import report
    from flatbench.results import collect
    from flatbench.stages import plan

    grid = _grid(grid_name, models, datasets, methods, attacks, seeds, overrides)
    ctx = _context(runs_dir, data_dir, grid.name, mlflow_on=not (no_mlflow or dry_run))
    stages, _ = plan(grid, ctx.data_dir)
    if dry_run:
        from flatbench.estimate import describe_plan

        click.echo(describe_plan(grid, stages, ctx))
        return
    from flatbench.attacks.recipes import preflight

    preflight(s.recipe for s in stages if s.kind == "attack" and not ctx.cache.done(s.kind, s.key))
    _preflight_models(s for s in stages if s.kind == "train" and not ctx.cache.done(s.kind, s.key))
    ctx.tracker.setup()
    get_executor(executor).run(stages, ctx)
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


@cli.command()
@click.option("--train-attack", default="textfooler", show_default=True, help="attack the adv/FLAT models were trained with")
@_common
@_with_run_opts
def transfer(train_attack, attacks, **kw):
    """Table 4: robustness of SST2 models to six unforeseen attacks."""
    _run_grid("table4", attacks=attacks or train_attack, **kw)


@cli.command()
@_common
@_with_run_opts
def ablate(**kw):
    """Table 5: the beta/gamma ablation of LSTM-FLAT (Textfooler, SST2)."""
    _run_grid("table5", **kw)


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
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False)
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
    adversarial = METHODS.get(method).ADVERSARIAL
    g = _grid(grid, model, dataset, method, (train_attack or recipe) if adversarial else None, str(seed), overrides)
    ctx = _context(runs_dir, data_dir, f"attack:{g.name}", mlflow_on=not no_mlflow)
    cell = bind_data(g.cells[0], ctx.data_dir)
    _preflight_models([final_train_stage(cell)])
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
@click.option("--grid", default="table3", show_default=True, help="grid whose settings the FLAT cell uses")
@_common
@click.option("--output", "-o", type=click.Path(), default=None, help="write the per-word table as CSV")
def correlate(model, dataset, train_attack, grid, data_dir, runs_dir, models, datasets, methods, attacks, seeds,
              overrides, output):
    """Fig. 4 / Table 9: correlation of FLAT's phi with word and substitution frequency (cached models only)."""
    from flatbench.analysis.correlation import correlate as corr
    from flatbench.stages import data_for, final_train_stage, with_dependencies

    g = _grid(grid, model, dataset, "flat", train_attack, seeds, overrides)
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False)
    final = final_train_stage(g.cells[0])
    if not ctx.cache.done(final.kind, final.key):
        raise FlatbenchError(f"{final.label()} is not in the cache; run: flatbench run --grid {grid} "
                             f"--models {model} --datasets {dataset} --methods flat --attacks {train_attack}")
    attacks_ = [ctx.cache.dir(s.kind, s.key) for s in with_dependencies([final]) if s.kind == "attack"]
    _, train, _ = data_for(g.cells[0], ctx)
    res = corr(ctx.cache.dir(final.kind, final.key), attacks_, train.texts)
    click.echo(f"{final.label()}: {res['n_words']} training words, {res['n_substituted']} used as substitutes")
    for k in ("freq", "subst"):
        click.echo(f"phi vs log {'frequency' if k == 'freq' else '(1 + times substituted)'}: "
                   f"Pearson {res[f'pearson_{k}']:+.3f}, Spearman {res[f'spearman_{k}']:+.3f}")
    click.echo("highest phi: " + ", ".join(f"{w} {p:.2f}" for w, p in res["top_words"]))
    click.echo("lowest phi:  " + ", ".join(f"{w} {p:.2f}" for w, p in res["bottom_words"]))
    if output:
        import pandas as pd

        pd.DataFrame(res["table"]).to_csv(output, index=False)


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
