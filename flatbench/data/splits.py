"""Which rows a stage reads: a cell's training split (optionally a seeded subset) and seeded
example selections for attacks."""

from __future__ import annotations

import random

from flatbench.data.datasets import load_dataset
from flatbench.settings import cell_hp


def subset_indices(n_total: int, n: int | None, seed: int) -> list[int]:
    """A seeded random subset (all rows, in order, when n is None or >= n_total)."""
    if n is None or n >= n_total:
        return list(range(n_total))
    idx = list(range(n_total))
    random.Random(seed).shuffle(idx)
    return sorted(idx[:n])


def data_for(cell, ctx):
    """(dataset, training split used, deviations) for a cell."""
    ds = load_dataset(cell.dataset, ctx.data_dir)
    hp = cell_hp(cell)
    devs = list(ds.deviations)
    train = ds.train
    if hp.train_n:
        train = train.subset(subset_indices(len(train), hp.train_n, cell.seed))
        devs.append(f"{cell.dataset}: trained on a seeded subset of {len(train)} training rows (train_n)")
    return ds, train, devs
