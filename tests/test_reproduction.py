"""Reproduction-sized runs (minutes each). Skipped by default; run with `pytest -m slow`.

Thresholds are a few points under what this project measured on the 2-core CPU machine with
the offline GloVe-50d vectors (README "Results"), so a regression in data, models or training
fails them while seed noise does not."""

import pytest

from flatbench.cache import Cache
from flatbench.cells import load_grid
from flatbench.executors.local import LocalExecutor
from flatbench.results import collect
from flatbench.stages import Context, plan
from flatbench.tracking import Tracker

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model,dataset,minimum", [("lstm", "trec", 88.0), ("cnn", "trec", 88.0),
                                                   ("lstm", "sst2", 76.0), ("cnn", "sst2", 76.0)])
def test_table2_base_cell(model, dataset, minimum, tmp_path, data_dir):
    g = load_grid("table2", models=model, datasets=dataset, methods="base")
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table2")
    stages, _ = plan(g)
    LocalExecutor(echo=lambda *a, **k: None).run(stages, ctx)
    df, devs, prog = collect(g, ctx)
    assert prog["done"] == prog["total"]
    assert df["clean_acc"].iloc[0] >= minimum
