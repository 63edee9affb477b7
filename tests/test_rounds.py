"""Iterated attack -> train rounds: D' enters training, and a killed run resumes mid-way."""

import pytest

from flatbench.cache import Cache
from flatbench.cells import load_grid
from flatbench.executors.local import LocalExecutor
from flatbench.stages import Context, plan
from flatbench.tracking import Tracker

HP = {"epochs": 1, "round_epochs": 1, "vocab_extra": 500, "rounds": 2, "attack_train_n": 25,
      "attack_test_n": 10, "train_n": 600, "lime_pairs": 3, "lime_samples": 50}


@pytest.fixture(scope="module")
def flat_grid():
    return load_grid("smoke", models="cnn", methods="flat", hp_overrides=HP)


def test_round_structure(flat_grid):
    stages, targets = plan(flat_grid)
    kinds = [(s.kind, getattr(s, "round", None), getattr(s, "split", None)) for s in stages]
    assert kinds[:5] == [("train", 0, None), ("attack", None, "train"), ("train", 1, None),
                         ("attack", None, "train"), ("train", 2, None)]
    final = targets[flat_grid.cells[0]]["train"]
    assert final.round == 2
    # each round attacks the latest checkpoint
    assert stages[3].model.key == stages[2].key and stages[1].model.key == stages[0].key


def test_killed_run_resumes_after_the_last_finished_round(flat_grid, tmp_path, data_dir):
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "smoke")
    stages, _ = plan(flat_grid)
    # run up to and including round 1, then "kill"
    for s in stages[:3]:
        s.run(ctx)
    r1 = ctx.cache.manifest("train", stages[2].key)
    m = r1["metrics"]
    assert m["adv_added"] > 0 and m["train_examples"] == 600 + m["adv_added"]
    assert m["adv_attacked"] == 25
    log = []
    LocalExecutor(echo=lambda *a, **k: log.append(a[0])).run(stages, ctx)
    assert log[0] == f"{len(stages)} stages, 3 cached, {len(stages) - 3} to run"
    assert not any("train[cnn-trec-flat-pwws-s13 r1]" in line for line in log[1:])
    assert ctx.cache.manifest("train", stages[2].key)["finished"] == r1["finished"]
    final = ctx.cache.manifest("train", stages[4].key)
    assert any("attacked a seeded random subset of 25" in d for d in final["deviations"])
    from flatbench.results import collect

    _, devs, prog = collect(flat_grid, ctx)
    assert "2 attack/train round(s) instead of the paper's 3-5" in devs


def test_correlate_reads_phi_of_the_final_flat_model(flat_grid, tmp_path, data_dir):
    import math

    from flatbench.analysis.correlation import correlate
    from flatbench.data.splits import data_for
    from flatbench.stages import final_train_stage, with_dependencies

    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "smoke")
    final = final_train_stage(flat_grid.cells[0])
    LocalExecutor(echo=lambda *a, **k: None).run(with_dependencies([final]), ctx)
    attack_dirs = [ctx.cache.dir(s.kind, s.key) for s in with_dependencies([final]) if s.kind == "attack"]
    _, train, _ = data_for(flat_grid.cells[0], ctx)
    res = correlate(ctx.cache.dir("train", final.key), attack_dirs, train.texts)
    assert res["n_words"] > 1000 and res["n_substituted"] >= 1
    assert all(math.isfinite(res[k]) and -1 <= res[k] <= 1 for k in ("pearson_freq", "spearman_subst"))
    phis = [row["phi"] for row in res["table"]]
    assert 0 < min(phis) and max(phis) < 1
