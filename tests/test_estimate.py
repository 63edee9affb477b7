"""`--dry-run`'s estimates: recorded before each stage runs, tabulated against the actual seconds
after a run, priced from the rates flatbench.estimate sets (refitted on this machine's stages; the
GPU half from the H200 readings)."""

import json

import pytest

from flatbench import estimate as E
from flatbench.cache import Cache
from flatbench.cells import load_grid
from flatbench.executors.local import LocalExecutor
from flatbench.registry import MODELS
from flatbench.stages import Context, plan
from flatbench.tracking import Tracker

TINY = {"epochs": 1, "vocab_extra": 500, "attack_test_n": 12, "lime_pairs": 3, "lime_samples": 50}


def test_a_real_run_records_its_estimates_and_tabulates_them(tmp_path, data_dir):
    g = load_grid("smoke", models="cnn", methods="base", hp_overrides=TINY)
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "smoke")
    stages, _ = plan(g, str(data_dir))
    before = {s.key: round(E.estimate_seconds(s), 3) for s in stages}  # what --dry-run printed
    said = []
    results = LocalExecutor(echo=lambda *a, **k: said.append(" ".join(map(str, a)))).run(stages, ctx)

    assert sorted(s.kind for s in stages) == ["attack", "evaluate", "interpret", "train"]
    for s in stages:
        m = results[s.key]
        assert m["estimate_seconds"] == before[s.key] > 0 and m["seconds"] > 0
        assert len(m["load1"]) == 2 and all(x >= 0 for x in m["load1"])  # the machine's load, start and end
        # the calibration script prices a cached stage from its manifest exactly as --dry-run did
        assert E.manifest_features(m, results.get) == E.stage_features(s)

    [path] = (tmp_path / "runs" / "estimates").glob("*_smoke_*.json")
    rec = json.loads(path.read_text())
    assert rec["grid"] == "smoke" and rec["total"]["stages"] == 4
    kinds = {g["kind"]: g for g in rec["groups"] if g["model"] == "all"}
    assert set(kinds) == {"train", "evaluate", "attack", "interpret"}
    atk = kinds["attack"]
    want = results[next(s.key for s in stages if s.kind == "attack")]
    assert atk["predicted_s"] == round(want["estimate_seconds"], 1) and atk["actual_s"] == round(want["seconds"], 1)
    assert atk["ratio"] == pytest.approx(want["seconds"] / want["estimate_seconds"], rel=0.01, abs=5e-4)  # stored to 3 decimals
    table = next(t for t in said if "predicted (dry-run estimate) vs actual" in t)
    assert "| attack " in table and "actual / predicted" in table and str(path) in table
    assert "1-min load average while they ran" in table

    # a rerun computes nothing: no table, no new file
    said.clear()
    LocalExecutor(echo=lambda *a, **k: said.append(" ".join(map(str, a)))).run(stages, ctx)
    assert not any("vs actual" in t for t in said)
    assert len(list((tmp_path / "runs" / "estimates").iterdir())) == 1


def _features(**kw):
    return {"method": "base", **kw}


def test_estimates_use_the_refitted_cpu_rates():
    # a full-procedure TREC interpret stage (IG on every pair, LIME on up to 1,000): seconds, not
    # the 5.3 minutes of the constants before 2026-12-04 (measured: 9.5-18.5 s)
    f = _features(kind="interpret", model="lstm", dataset="trec", recipe="textfooler", n=500, lime_pairs=1000,
                  lime_samples=1000)
    pairs = 500 * E.PAIR_SHARE["trec"]
    assert E.estimate_from(f) == pytest.approx(E.OVERHEAD["interpret"] + pairs * (0.0119 + 0.0487))
    assert 5 < E.estimate_from(f) < 30
    # TextFooler's cost grows as the bound loosens: SST2's matched cos 0.75 against the old 0.95
    atk = _features(kind="attack", model="cnn", dataset="sst2", recipe="textfooler", split="test", n=1000, round=0)
    loose, tight = E.estimate_from({**atk, "cos": 0.75}), E.estimate_from({**atk, "cos": 0.95})
    assert tight == pytest.approx(E.OVERHEAD["attack"] + 1000 * 0.0978)
    assert (loose - E.OVERHEAD["attack"]) / (tight - E.OVERHEAD["attack"]) == pytest.approx(1 + 3.17 * 0.2)
    # the training split costs more per example (fewer examples skipped)
    assert E.estimate_from({**atk, "cos": 0.95, "split": "train"}) == pytest.approx(E.OVERHEAD["attack"] + 1000 * 0.0978 * 1.55)
    # FLAT trains at 1.54x base's cost per row and epoch; adv's rounds at 1.53x
    tr = _features(kind="train", model="cnn", dataset="trec", examples=5000, epochs=15, round=0)
    assert E.estimate_from(tr) == pytest.approx(E.OVERHEAD["train"] + 5000 * 15 * 0.00108)
    assert E.estimate_from({**tr, "method": "flat"}) == pytest.approx(E.OVERHEAD["train"] + 5000 * 15 * 0.00108 * 1.54)
    # attacking SAFER's smoothed model (a vote over 100 substitutions per query): 4.4x base's
    # (the median of defences_cpu's 8 SAFER attack stages; the estimate was 4x short before)
    safer = E.estimate_from({**atk, "cos": 0.95, "method": "safer"})
    assert safer - E.OVERHEAD["attack"] == pytest.approx(4.4 * (tight - E.OVERHEAD["attack"]))
    # and LIME explains the smoothed model: its part 86x base's, IG's (the base classifier) unchanged
    ff = _features(kind="interpret", model="lstm", dataset="trec", recipe="pwws", n=500, lime_pairs=50,
                   lime_samples=1000)
    pairs = 500 * E.PAIR_SHARE["trec"]
    assert E.estimate_from({**ff, "method": "safer"}) == pytest.approx(
        E.OVERHEAD["interpret"] + pairs * 0.0119 + 86 * min(pairs, 50) * 0.0487)


def test_gpu_estimates_rest_on_the_h200_readings(tmp_path, data_dir):
    bert, deberta = MODELS.spec("bert").cost, MODELS.spec("deberta").cost
    assert 1 / bert.train == pytest.approx(780, rel=0.01)  # ~780 train rows/s
    assert 3100 <= 1 / bert.forward <= 3400 and 2100 <= 1 / deberta.forward <= 2800
    assert 36 <= 2 / bert.ig <= 46 and 21 <= 2 / deberta.ig <= 26  # IG texts/s; a pair is two texts
    assert 0.86 <= bert.lime <= 1.06
    assert bert.attack * E.ATTACK_RATES[("pwws", "sst2")] == pytest.approx(0.081, rel=0.02)
    assert 0.15 <= deberta.attack * E.ATTACK_RATES[("pwws", "sst2")] <= 0.24
    # one BERT epoch over SST2's 6,920 rows ~ 21 s with the load
    f = _features(kind="train", model="bert", dataset="sst2", examples=6920, epochs=1, round=0)
    assert E.estimate_from(f) == pytest.approx(21, rel=0.05)

    from flatbench.estimate import describe_plan

    g = load_grid("table3", models="bert", datasets="sst2", methods="base")
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table3")
    text = describe_plan(g, plan(g, str(data_dir))[0], ctx)
    assert "GPU basis: H200 measurements" in text and "GPU hours by stage kind" in text
