"""`flatbench defences`: the defence leaderboard of a grid (flatbench.analysis.defences,
flatbench.report.defences), from the cache; nothing runs."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("defences")
@click.option("--grid", default="defences_cpu", show_default=True,
              help="a grid whose methods include base and the defences to compare (e.g. defences_cpu)")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--models", default=None, help="comma-separated filter, e.g. lstm,cnn")
@click.option("--datasets", default=None, help="comma-separated filter, e.g. sst2,trec")
@click.option("--methods", default=None, help="comma-separated filter (keep base: every Δ is against it)")
@click.option("--seeds", default=None, help="comma-separated seeds (default: the grid's)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="the hyper-parameter overrides the grid ran with (same keys)")
@click.option("--format", "fmt", default="markdown", show_default=True, help="markdown, html, json, ...")
@click.option("-o", "--output", type=click.Path(), default=None, help="write the leaderboard here (default: print)")
@click.option("--csv", "csv_path", type=click.Path(), default=None,
              help="the leaderboard as CSV: one row per defence, dataset, model and attack (e.g. leaderboards/defences.csv)")
@click.option("--json", "json_path", type=click.Path(), default=None,
              help="the leaderboard's format-neutral tables as JSON (e.g. leaderboards/defences.json)")
def defences(grid, data_dir, runs_dir, models, datasets, methods, seeds, overrides, fmt, output, csv_path, json_path):
    """Defence leaderboard: each defence's clean accuracy, after-attack accuracy (and SAFER's certified
    accuracy), IG KT and TI with 95 % CIs, its paired difference from base (CI, p, significance) and
    its rank per setting on AA and KT (ties where CIs overlap), plus the ΔAA-vs-ΔKT scatter (html).
    The grid's full report (`flatbench report --grid defences_cpu`) holds the same section."""
    from flatbench.cli_common import context as _context
    from flatbench.cli_common import grid as _grid
    from flatbench.cli_common import require_runs_dir
    from flatbench.io import write_text_atomic
    from flatbench.report.formats import render
    from flatbench.analysis.defences import grid_leaderboard
    from flatbench.report.defences import defences_document

    g = _grid(grid, models, datasets, methods, None, seeds, overrides)
    require_runs_dir(runs_dir, f"flatbench run --grid {grid} --runs-dir {runs_dir}")
    ctx = _context(runs_dir, data_dir, g.name, mlflow_on=False, compute=False)
    lb, devs, prog = grid_leaderboard(g, ctx)
    doc = defences_document(lb, g.name, f"{prog['done']}/{prog['total']} stages complete.", devs,
                            str(ctx.cache.root))
    text = render(doc, fmt)
    if output:
        write_text_atomic(Path(output), text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
    if csv_path:
        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        lb.to_csv(csv_path, index=False, float_format="%.4f")
        click.echo(f"wrote {csv_path}: {len(lb)} rows, {int(lb['AA'].notna().sum())} measured", err=True)
    if json_path:
        write_text_atomic(Path(json_path), render(doc, "json"))
        click.echo(f"wrote {json_path}", err=True)
