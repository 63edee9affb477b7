"""The phi-gap diagnostic (what FLAT's L_imp pulls down) on a tiny real FLAT run on TREC."""

import json

import numpy as np
import pytest

from flatbench.analysis.phi_pairs import gap_summary, pairs_of
from flatbench.cache import Cache
from flatbench.cells import load_grid
from flatbench.stages import Context, plan
from flatbench.tracking import Tracker

HP = {"epochs": 1, "round_epochs": 2, "vocab_extra": 500, "rounds": 1, "attack_train_n": 40,
      "attack_test_n": 5, "train_n": 600, "lime_pairs": 2, "lime_samples": 50}


def test_gap_summary_counts_moves():
    s = gap_summary(np.array([0.5, 0.2, 0.1, 0.3]), np.array([0.1, 0.2, 0.3, 0.0]))
    assert s["n_pairs"] == 4 and s["share_closer"] == 0.5 and s["share_further"] == 0.25
    assert s["change"] == pytest.approx(-0.125) and s["change_lo"] <= s["change"] <= s["change_hi"]
    recs = [{"status": "succeeded", "replaced": [[1, "good", "fine"], [4, "bad", "poor"]]},
            {"status": "failed", "replaced": [[0, "a", "b"]]}, {"status": "skipped"}]
    assert pairs_of(recs) == [("good", "fine"), ("bad", "poor")]


def test_phi_pairs_stage_on_a_flat_round(tmp_path, data_dir):
    grid = load_grid("smoke", models="cnn", methods="flat", hp_overrides=HP)
    grid.measure["phi_pairs"] = True
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "smoke")
    stages, targets = plan(grid, str(data_dir))
    t = targets[grid.cells[0]]
    assert "phi_pairs:1" in t
    st = t["phi_pairs:1"]
    m = st.run(ctx)["metrics"]
    recs = [json.loads(x) for x in open(ctx.cache.dir("attack", st.deps()[1].key) / "records.jsonl")]
    n = len(pairs_of(recs))
    assert m["defined"] and m["n_pairs"] == n > 0
    assert 0 <= m["gap_before"] <= 1 and 0 <= m["gap_after"] <= 1
    assert m["change"] == pytest.approx(m["gap_after"] - m["gap_before"], abs=1e-9)
    assert m["share_closer"] + m["share_further"] <= 1.0
    rows = [json.loads(x) for x in open(ctx.cache.dir("phi_pairs", st.key) / "pairs.jsonl")]
    assert sum(r["count"] for r in rows) == n
    # base/adv cells get no phi stage (no masks)
    g2 = load_grid("smoke", models="cnn", methods="adv", hp_overrides=HP)
    g2.measure["phi_pairs"] = True
    _, t2 = plan(g2, str(data_dir))
    assert not any(k.startswith("phi_pairs") for k in t2[g2.cells[0]])
