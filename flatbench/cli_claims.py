"""`flatbench claims`: the claims ledger (flatbench.analysis.claims, flatbench.report.claims)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("claims")
@click.option("--grid", "grids", multiple=True,
              help="grid(s) to decide claims on (default: table3_cpu, table4_cpu, table5_cpu)")
@click.option("--data-dir", type=click.Path(), default=None)
@click.option("--runs-dir", type=click.Path(), default="runs", show_default=True)
@click.option("--format", "fmt", default="markdown", show_default=True, help="markdown, html, json, ...")
@click.option("-o", "--output", type=click.Path(), default=None, help="write here (default: print)")
@click.option("--seeds", default=None, help="comma-separated seeds (default: each grid's)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="the hyper-parameter overrides the grids ran with (same keys), e.g. attack_bounds=matched")
def claims(grids, data_dir, runs_dir, fmt, output, seeds, overrides):
    """Every claim of the paper with our effect, CI, p and verdict (confirmed / refuted /
    undecided), computed from the cache; nothing runs."""
    from flatbench.cli import _context
    from flatbench.report.claims import build_ledger, claims_document
    from flatbench.report.formats import render

    ctx = _context(runs_dir, data_dir, "claims", mlflow_on=False, compute=False)
    from flatbench.cli import _overrides

    found, devs = build_ledger(ctx, list(grids) or None,
                               selection={"seeds": seeds, "hp_overrides": _overrides(overrides)})
    doc = claims_document(found, list(grids) or ["table3_cpu", "table4_cpu", "table5_cpu"], devs)
    from flatbench.analysis.claims_tables import gather_phi
    from flatbench.report.claims import phi_section

    phi = gather_phi(ctx, selection={"seeds": seeds, "hp_overrides": _overrides(overrides)})
    if phi:
        doc.sections.append(phi_section(phi))
    out = render(doc, fmt)
    if output:
        from flatbench.io import write_text_atomic

        write_text_atomic(Path(output), out)
        n = doc.meta["summary"]
        click.echo(f"wrote {output}: {n['total']} claims, {n['confirmed']} confirmed, {n['refuted']} refuted, "
                   f"{n['undecided']} undecided ({n['no data']} for want of data)")
    else:
        click.echo(out)
