import json

import pytest

from flatbench.cache import Cache, write_manifest
from flatbench.cells import load_grid
from flatbench.stages import Context, EvaluateStage, TrainStage, plan
from flatbench.tracking import Tracker


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    c = Cache(tmp_path)
    with pytest.raises(ValueError):
        with c.writing("train", "k1") as d:
            (d / "model.pt").write_text("half")
            raise ValueError("killed")
    assert not c.done("train", "k1")
    assert not (tmp_path / "train" / "k1").exists()
    assert list((tmp_path / "train" / ".tmp").iterdir()) == []


def test_complete_only_with_manifest(tmp_path):
    c = Cache(tmp_path)
    with pytest.raises(RuntimeError, match="manifest"):
        with c.writing("train", "k2") as d:
            (d / "x").write_text("1")
    assert not c.done("train", "k2")
    with c.writing("train", "k2") as d:
        write_manifest(d, "train", "k2", {}, {"a": 1}, ["dev"], 0.1)
    assert c.done("train", "k2") and c.manifest("train", "k2")["metrics"] == {"a": 1}


def _grid(**hp):
    return load_grid("table2", models="cnn", datasets="trec", methods="base",
                     hp_overrides={"epochs": 1, "vocab_extra": 500, **hp})


def test_same_base_model_serves_adv_and_flat_cells_keys():
    g = load_grid("table3", models="lstm", datasets="sst2")
    finals = {c.method + (c.train_attack or ""): TrainStage(c, 0).key for c in g.cells}
    # base and adv share round 0 (plain cross-entropy); flat's round 0 has masks
    assert finals["base"] == finals["advtextfooler"] == finals["advpwws"]
    assert finals["flattextfooler"] != finals["base"]
    stages, _ = plan(g)
    assert len({s.key for s in stages}) == len(stages)


def test_resume_skips_completed_stages_and_recomputes_nothing(tmp_path, data_dir):
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table2")
    stages, _ = plan(_grid())
    assert [type(s) for s in stages] == [TrainStage, EvaluateStage]
    # "kill" after the first stage: run only the train stage
    m_train = stages[0].run(ctx)
    assert ctx.cache.done("train", stages[0].key) and not ctx.cache.done("evaluate", stages[1].key)
    m_eval = stages[1].run(ctx)
    assert 0.5 < m_eval["metrics"]["test_acc"] <= 1.0
    # a second run returns the cached manifests untouched (same finish time, same numbers)
    again = [s.run(ctx) for s in stages]
    assert again[0]["finished"] == m_train["finished"] and again[1] == m_eval
    assert json.loads((ctx.cache.dir("evaluate", stages[1].key) / "manifest.json").read_text())["deviations"]


def test_hp_change_changes_keys():
    a, _ = plan(_grid())
    b, _ = plan(_grid(lr=0.02))
    assert a[0].key != b[0].key
