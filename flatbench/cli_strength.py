"""`flatbench strength`: the strength-matching protocol (flatbench.analysis.strength)."""

from __future__ import annotations

import click


@click.group()
def strength():
    """Strength-matched offline attack bounds: show the shipped table, or re-run the protocol."""


@strength.command("show")
def show():
    """Print the shipped strength-matched bounds with the dev AA each reached."""
    from flatbench.analysis.strength import PROTOCOL, load_table

    t = load_table()
    click.echo(f"protocol: {t.get('protocol', PROTOCOL)}")
    if not t.get("bounds"):
        click.echo("no strength-matched bound is shipped yet: run `flatbench strength calibrate --write`")
    for k, e in sorted(t.get("bounds", {}).items()):
        aa = e["dev_aa"]
        click.echo(f"{k}: cos {e['cos']:.2f} (mse {e['mse']}); dev AA lstm {aa['lstm']:.2f}, cnn {aa['cnn']:.2f}, "
                   f"mean {aa['mean']:.2f} (target {e['target']:.2f}, n {aa['n']}, {e['search']})")


@strength.command("calibrate")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--only", default=None, help="comma-separated dataset/recipe groups, e.g. sst2/textfooler")
@click.option("--write/--no-write", default=False, help="write the package's strength_matched.json")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--no-mlflow", is_flag=True)
def calibrate_cmd(data_dir, runs_dir, only, write, executor, no_mlflow):
    """Run the protocol on the base models (cached stages are reused) and print the choice."""
    from flatbench.analysis.strength import PLAN, load_table, write_table
    from flatbench.analysis.strength_run import calibrate
    from flatbench.cli_common import context as _context
    from flatbench.pipeline import run_stages
    from flatbench.errors import ConfigError

    groups = None
    if only:
        groups = [tuple(g.split("/", 1)) for g in only.split(",")]
        bad = [g for g in groups if g not in PLAN]
        if bad:
            raise ConfigError(f"--only {only!r}: valid groups: {', '.join('/'.join(g) for g in PLAN)}")
    ctx = _context(runs_dir, data_dir, "strength_calibration", mlflow_on=not no_mlflow)
    table = calibrate(ctx, lambda st: run_stages(st, ctx, executor), groups, echo=click.echo)
    if write:
        if groups:  # keep the other groups' entries
            old = load_table().get("bounds", {})
            table["bounds"] = {**old, **table["bounds"]}
        click.echo(f"wrote {write_table(table)}")


@strength.command("curves")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--format", "fmt", default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(), default=None)
@click.option("--plots", type=click.Path(), default=None, help="also write the figures (PNG) here")
def curves_cmd(data_dir, runs_dir, fmt, output, plots):
    """Render the strength curves from the cache (run the strength_curves grids first)."""
    from pathlib import Path

    from flatbench.analysis.strength import load_table
    from flatbench.io import write_text_atomic
    from flatbench.cells import load_grid
    from flatbench.cli_common import context as _context
    from flatbench.report.formats import render
    from flatbench.report.strength import curves_document, curves_pngs
    from flatbench.results import collect

    ctx = _context(runs_dir, data_dir, "strength_curves", mlflow_on=False, compute=False)
    df, devs, _ = collect(load_grid("strength_curves"), ctx)
    dfi, devi, _ = collect(load_grid("strength_curves_interp"), ctx)
    matched = {k: e["cos"] for k, e in load_table().get("bounds", {}).items()}
    pngs = curves_pngs(df)  # drawn once: the page embeds them, --plots writes them
    doc = curves_document(df, dfi, devs + devi, matched, pngs, shift=_shift_rows(ctx))
    out = render(doc, fmt)
    for ds, png in pngs.items() if plots else ():
        p = Path(plots) / f"strength_curve_{ds}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(png)
    if output:
        write_text_atomic(Path(output), out)
        click.echo(f"wrote {output}")
    else:
        click.echo(out)


def _shift_rows(ctx) -> list[dict]:
    """The matched bounds' dev attacks (the shipped table's keys) beside the protocol models' test
    attacks at the same bound (table3_cpu, base, seed 13), from the cache."""
    from flatbench.analysis.records import raw_records
    from flatbench.analysis.strength import load_table, split_shift
    from flatbench.cells import load_grid
    from flatbench.stages import plan

    test_keys = {}
    for s in plan(load_grid("table3_cpu", methods="base", seeds="13"), ctx.data_dir)[0]:
        if s.kind == "attack" and s.split == "test" and s.options().get("attack_bounds") == "matched":
            test_keys[(f"{s.owner().dataset}/{s.recipe}", s.owner().model)] = s.key

    def read(key):
        return raw_records(ctx.cache.dir("attack", key)) if ctx.cache.done("attack", key) else None

    return split_shift(load_table(), test_keys, read)
