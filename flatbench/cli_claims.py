"""`flatbench claims`: the claims ledger (flatbench.analysis.claims, flatbench.report.claims)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("claims")
@click.option("--grid", "grids", multiple=True,
              help="grid(s) to decide claims on (default: table3_cpu, table4_cpu, table5_cpu)")
@click.option("--compare", "compare", multiple=True,
              help="grid(s) whose verdicts are shown beside each claim, e.g. table3_cpu_quick with "
                   "table4_cpu_quick, table5_cpu_quick (the reduced 1-round procedure)")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--format", "fmt", default="markdown", show_default=True, help="markdown, html, json, ...")
@click.option("-o", "--output", type=click.Path(), default=None, help="write here (default: print)")
@click.option("--seeds", default=None, help="comma-separated seeds (default: each grid's)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="the hyper-parameter overrides the grids ran with (same keys), e.g. attack_bounds=matched")
def claims(grids, compare, data_dir, runs_dir, fmt, output, seeds, overrides):
    """Every claim of the paper with our effect, CI, p and verdict (confirmed / refuted /
    undecided), computed from the cache; nothing runs."""
    from flatbench.cli_common import context as _context
    from flatbench.cli_common import overrides as _overrides
    from flatbench.report.formats import render
    from flatbench.reporting import claims_report

    ctx = _context(runs_dir, data_dir, "claims", mlflow_on=False, compute=False)
    doc = claims_report(ctx, list(grids) or None,
                        selection={"seeds": seeds, "hp_overrides": _overrides(overrides)},
                        compare=list(compare) or None)
    out = render(doc, fmt)
    if output:
        from flatbench.io import write_text_atomic

        write_text_atomic(Path(output), out)
        n = doc.meta["summary"]
        click.echo(f"wrote {output}: {n['total']} claims, {n['confirmed']} confirmed, {n['refuted']} refuted, "
                   f"{n['undecided']} undecided ({n['no data']} for want of data); of the "
                   f"{n['multi_seed_decided']} decided on several seeds, {n['every_seed']} hold in every seed")
    else:
        click.echo(out)
