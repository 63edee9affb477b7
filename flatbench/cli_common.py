"""What every command module shares: --set parsing, the run context, loading a grid, the runs-dir
check. A leaf of the CLI (imports no command module), so the command modules import no circle."""

from __future__ import annotations

import json

import click

from flatbench.errors import FlatbenchError


def overrides(pairs) -> dict:
    """``--set KEY=VALUE`` pairs as a dict (values parsed as JSON where they are JSON)."""
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


def context(runs_dir, data_dir, grid_name, mlflow_on=True, compute=True):
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


def grid(name, models, datasets, methods, attacks, seeds, sets):
    """A grid with the command line's selection and ``--set`` pairs applied."""
    from flatbench.cells import load_grid

    return load_grid(name, models=models, datasets=datasets, methods=methods, attacks=attacks,
                     seeds=seeds, hp_overrides=overrides(sets))


def require_runs_dir(runs_dir, how: str) -> None:
    from pathlib import Path

    p = Path(runs_dir)
    if not p.is_dir():
        what = "is not a directory" if p.exists() else "does not exist"
        raise FlatbenchError(f"runs dir {runs_dir} {what}: nothing has been run there; run: {how}")
