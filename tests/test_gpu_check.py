"""benchmarks/gpu_check.py at its tiny size on CPU, and the bf16 option it measures."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_tiny_on_cpu(tmp_path, data_dir):
    """The whole check, tiny: random-init BERT/DeBERTa (2 layers, hidden 64, the MiniLM wheel's
    vocabulary) through `flatbench run` (base and FLAT round 0 on SST2), rates, memory and the
    completeness check (~80 s here)."""
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu",
                        "--data-dir", str(data_dir), "--work-dir", str(tmp_path / "work"), "--out", str(out)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    res = json.loads(out.read_text())
    assert res["cuda"] is False and res["size"] == "tiny" and "no GPU" in res["note"]
    assert res["passed"] is True
    for model in ("bert", "deberta"):
        m = res["models"][model]
        assert m["stages_complete"] == "4/4" and m["completeness_passed"]
        for method in ("base", "flat"):
            c = m["cells"][method]
            assert c["precision_recorded"] == "fp32" and 0.0 <= c["test_acc"] <= 1.0
            assert c["forward_texts_per_s_fp32"] > 0 and c["forward_texts_per_s_bf16"] > 0
            assert c["ig_texts_per_s"] > 0 and c["ig_peak_gib"] > 0
            assert 0 < c["bf16_max_abs_logit_change"] < 1.0 and c["bf16_argmax_agreement"] >= 0.8
            cc = c["completeness"]
            assert cc["ok"] and cc["rel_delta_median"] < 0.01 and cc["rel_delta_max"] < 0.05
            assert cc["captum_formula_err"] < 1e-4 and cc["reference_rel_delta_max"] < 0.01
    assert "passed" in r.stdout and "bert" in r.stdout and "deberta" in r.stdout


def test_bf16_is_a_keyed_option(data_dir):
    """precision = "bf16" is declared (so it is in the train keys), recorded with the model and
    applied in training and inference; DeBERTa's attention stays float32 (HF's masked_fill of
    float32's min into bf16 scores fails otherwise)."""
    import flatbench.methods.base as base
    from flatbench.cells import load_grid
    from flatbench.data import load_dataset
    from flatbench.hparams import model_hp
    from flatbench.registry import MODELS
    from flatbench.stages import TrainStage
    from flatbench.training.loop import Example, train

    assert model_hp("deberta")["precision"].default == "fp32"
    keys = {p: TrainStage(load_grid("table2", models="bert", datasets="sst2", methods="base",
                                    hp_overrides={"precision": p}).cells[0], 0).key for p in ("fp32", "bf16")}
    assert keys["fp32"] != keys["bf16"]

    ds = load_dataset("sst2", data_dir)
    ds = dataclasses.replace(ds, train=ds.train.subset(range(64)), dev=ds.dev.subset(range(32)))
    hp = {"tiny": True, "max_len": 24, "batch_size": 32, "lr": 1e-3, "epochs": 1, "optimizer": "adamw",
          "precision": "bf16"}
    torch.set_num_threads(1)
    for name in ("bert", "deberta"):
        bundle = MODELS.get(name).build(ds, hp, seed=0, mask=True)
        assert bundle.config["precision"] == "bf16" and any("bf16" in d for d in bundle.deviations)
        hist = train(bundle, base, [Example(t, int(y)) for t, y in zip(ds.train.texts, ds.train.labels)],
                     ds.dev, hp, seed=0)
        assert all(torch.isfinite(torch.tensor(hist["epoch_loss"])))
        texts = list(ds.test.texts[:16])
        bf16 = bundle.logits(texts)
        bundle.config["precision"] = "fp32"
        fp32 = bundle.logits(texts)
        diff = abs(bf16 - fp32).max()
        assert 0 < diff < 0.1, (name, diff)  # autocast ran, and stayed close
