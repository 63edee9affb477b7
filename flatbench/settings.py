"""Settings every stage shares, resolved from a cell: its hyper-parameters with dataset defaults,
and the torch thread count (numbers must not depend on the executor, so it is pinned per stage
and part of every key)."""

from __future__ import annotations

from flatbench.data.datasets import dataset_info
from flatbench.errors import ConfigError

DEFAULT_THREADS = 1  # torch threads per stage; `--set threads=N` changes numbers, so keys too


def stage_threads(hp: dict) -> int:
    t = hp.get("threads", DEFAULT_THREADS)
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        raise ConfigError(f"threads = {t!r}: must be a positive integer")
    return t


def cell_hp(cell) -> dict:
    hp = cell.hp
    hp.setdefault("max_len", dataset_info(cell.dataset).max_len)
    return hp
