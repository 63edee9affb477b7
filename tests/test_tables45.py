"""Tables 4 and 5, Fig. 4/5 and Table 9 on the CPU half: the grids reuse table3_cpu's cached
stages, and `transfer`, `ablate` and `correlate` run end to end on a tiny real grid (real TREC,
real attacks) and write their reports, CSVs and figures."""

import os
import subprocess
import sys

import pandas as pd
import pytest

TINY = ["--datasets", "trec", "--seeds", "13", "--set", "rounds=1", "--set", "epochs=1", "--set", "round_epochs=1",
        "--set", "vocab_extra=500", "--set", "train_n=600", "--set", "attack_train_n=10", "--set", "attack_test_n=4",
        "--set", "hidden=32", "--set", "mask_hidden=16", "--no-mlflow"]


def flatbench(*args, cwd, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "flatbench.cli", *args], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=1200)


def _keys(grid_name, data_dir, **filters):
    from flatbench.cells import load_grid
    from flatbench.stages import plan

    stages, targets = plan(load_grid(grid_name, **filters), str(data_dir))
    return {(s.kind, s.label().replace("[beta=0.1,gamma=0.001]", "")): s.key for s in stages}, targets


@pytest.mark.parametrize("t4_name,t3_name,trains,pwws_n", [
    ("table4_cpu", "table3_cpu", 8, None),  # base r0 (= adv r0), adv r1-r3, flat r0, flat r1-r3
    ("table4_cpu_quick", "table3_cpu_quick", 4, 500)])  # base r0 (= adv r0), adv r1, flat r0, flat r1
def test_table4_cpu_uses_table3_cpus_cached_models(data_dir, t4_name, t3_name, trains, pwws_n):
    t4, targets = _keys(t4_name, data_dir)
    t3, _ = _keys(t3_name, data_dir, datasets="sst2", attacks="textfooler", seeds="13")
    trains4 = {k: v for k, v in t4.items() if k[0] in ("train", "evaluate")}
    assert len({k for k in trains4 if k[0] == "train"}) == 2 * trains
    assert trains4 and all(t3.get(k) == v for k, v in trains4.items())
    # PWWS on the base models is table3's own attack (same size); the slow recipes use 200
    assert t4[("attack", "attack[cnn-sst2-base-s13 r0 test pwws]")] == \
        _keys(t3_name, data_dir, datasets="sst2", seeds="13")[0][("attack", "attack[cnn-sst2-base-s13 r0 test pwws]")]
    ns = {s.recipe: s.n for t in targets.values() for k, s in t.items() if k.startswith("attack:")}
    assert ns == {"pwws": pwws_n, "gene": 200, "iga": 200, "pso": 200, "clare": 200, "bae": 200}


@pytest.mark.parametrize("t5_name,t3_name,last", [("table5_cpu", "table3_cpu", 3),
                                                  ("table5_cpu_quick", "table3_cpu_quick", 1)])
def test_table5_cpu_reference_variant_is_table3_cpus_flat_cell(data_dir, t5_name, t3_name, last):
    t5, targets = _keys(t5_name, data_dir)
    t3, _ = _keys(t3_name, data_dir, models="lstm", datasets="sst2", methods="flat", attacks="textfooler", seeds="13")
    for k in [("train", "train[lstm-sst2-flat-textfooler-s13 r0]"),
              ("train", f"train[lstm-sst2-flat-textfooler-s13 r{last}]"),
              ("evaluate", "evaluate[lstm-sst2-flat-textfooler-s13]"),
              ("attack", f"attack[lstm-sst2-flat-textfooler-s13 r{last} test textfooler]")]:
        assert t5[k] == t3[k], k
    assert {c.variant for c in targets} == {"beta=0.1,gamma=0.001", "beta=0.1,gamma=0", "beta=0,gamma=0.001",
                                            "beta=0,gamma=0"}
    # gamma enters round 1 only: (0.1, 0) shares round 0 with the reference; the beta = 0 pair share theirs
    from flatbench.stages import TrainStage

    assert {t["train"].round for t in targets.values()} == {last}
    r0 = {c.variant: TrainStage(t["train"].cell, 0).key for c, t in targets.items()}
    assert r0["beta=0.1,gamma=0"] == r0["beta=0.1,gamma=0.001"] != r0["beta=0,gamma=0"] == r0["beta=0,gamma=0.001"]


def test_transfer_table_unavailable_cells_and_bae_tiers():
    from flatbench.report.builders45 import transfer_table, transfer_wide

    base = {"model": "lstm", "dataset": "sst2", "train_attack": "", "seed": 13, "cell": "c"}
    df = pd.DataFrame([
        {**base, "method": "base", "attack": "pwws", "AA": 10.0, "AA_lo": 6.0, "AA_hi": 15.0, "unavailable": ""},
        {**base, "method": "base", "attack": "bae", "unavailable": "online only: needs BERT masked LM"},
        {**base, "method": "flat", "train_attack": "textfooler", "attack": "bae", "AA": 40.0, "unavailable": ""},
    ])
    t = transfer_table(df).frame()
    assert list(t["AA paper"]) == ["11.64", "~36.52 (C)", "39.87 (A)"]
    assert t["AA ours"].iloc[1] == "online only: needs BERT masked LM" and t["Δ"].iloc[1] == "–"
    assert t["Δ"].iloc[2] == "+0.13"
    w = transfer_wide(df).frame()
    assert list(w.columns) == ["Model", "Method", "Clean", "PWWS", "BAE"] and len(w) == 2


def _available():
    from flatbench.attacks.availability import recipe_availability

    return recipe_availability(["pwws", "gene", "iga", "pso", "clare", "bae"])


def test_transfer_command_on_a_tiny_real_grid(tmp_path, data_dir):
    env = {"FLATBENCH_DATA_DIR": str(data_dir), "FLATBENCH_ATTACK_WORKERS": "1"}
    out = ["--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports"),
           "--leaderboards-dir", str(tmp_path / "lb")]
    r = flatbench("transfer", "--grid", "table4_cpu", "--models", "cnn", *TINY, *out, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    md = (tmp_path / "reports" / "table4_cpu.md").read_text()
    long_rows = [line for line in md.splitlines() if line.startswith("| CNN ") and "/" not in line]
    assert len(long_rows) == 3 * 6  # 3 methods x 6 attacks, every planned cell shown
    missing = _available()
    for a, why in missing.items():
        assert why.startswith("online only: needs ") and why in md
    for a in {"pwws", "gene", "iga"} - set(missing):
        from flatbench.report.paper import PRETTY

        rows = [line for line in long_rows if f"| {PRETTY[a]} " in line]
        assert len(rows) == 3 and all("[" in line for line in rows), rows  # a number with its CI
    csv = pd.read_csv(tmp_path / "lb" / "table4_cpu.csv")
    assert len(csv) == 18 and set(csv["attack"]) == {"pwws", "gene", "iga", "pso", "clare", "bae"}
    assert csv[csv["unavailable"].fillna("") == ""]["AA"].notna().all()
    tex = (tmp_path / "reports" / "table4_cpu.tex").read_text()
    assert "\\toprule" in tex and ("n/a" in tex) == bool(missing)
    assert (tmp_path / "reports" / "figures" / "table4_cpu_aa.png").stat().st_size > 1000
    assert "Deviations from the paper" in md and "seeded random subset of 4" in md


@pytest.fixture(scope="module")
def ablated(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("ablate")
    env = {"FLATBENCH_DATA_DIR": str(data_dir), "FLATBENCH_ATTACK_WORKERS": "1"}
    out = ["--runs-dir", str(tmp / "runs"), "--reports-dir", str(tmp / "reports"), "--leaderboards-dir", str(tmp / "lb")]
    r = flatbench("ablate", "--grid", "table5_cpu", "--synonym-words", "60", *TINY, *out, cwd=tmp, env=env)
    return tmp, env, out, r


def test_ablate_command_on_a_tiny_real_grid(ablated):
    tmp, _, _, r = ablated
    assert r.returncode == 0, r.stderr[-3000:]
    md = (tmp / "reports" / "table5_cpu.md").read_text()
    t5 = [line for line in md.splitlines() if line.startswith("| 0")]
    assert len(t5) >= 4 and any(line.startswith("| 0.1 | 0.001 ") or line.startswith("| 0.1  | 0.001 ")
                                 for line in t5)
    assert "84.79" in md and "17.76" in md  # the paper's reference row beside ours
    mech = [line for line in md.splitlines() if line.startswith("| beta=")]
    assert len(mech) == 4 and all(line.count("[") >= 2 for line in mech)  # phi summary + L1 mean/var CIs
    assert "Is (β, γ) = (0.1, 0.001) the best?" in md
    csv = pd.read_csv(tmp / "lb" / "table5_cpu.csv")
    assert len(csv) == 4 and csv["AA"].notna().all() and csv["clean_acc"].notna().all()
    figs = tmp / "reports" / "figures"
    assert (figs / "table5_cpu_phi_hist.png").stat().st_size > 1000
    assert (figs / "table5_cpu_fig5_synonym_l1.png").stat().st_size > 1000
    assert "\\toprule" in (tmp / "reports" / "table5_cpu.tex").read_text()


def test_mechanism_on_a_cached_flat_model(ablated, data_dir):
    import numpy as np

    from flatbench.analysis.ablation import mechanism
    from flatbench.data import load_dataset

    tmp, _, _, r = ablated
    assert r.returncode == 0
    from flatbench.cache import Cache
    from flatbench.cells import load_grid
    from flatbench.stages import bind_data, final_train_stage

    hp = {"rounds": 1, "epochs": 1, "round_epochs": 1, "vocab_extra": 500, "train_n": 600, "attack_train_n": 10,
          "attack_test_n": 4, "hidden": 32, "mask_hidden": 16}
    g = load_grid("table5_cpu", datasets="trec", seeds="13", hp_overrides=hp)
    cache = Cache(tmp / "runs")
    dirs = {c.variant: cache.dir("train", final_train_stage(bind_data(c, str(data_dir))).key) for c in g.cells}
    assert all(cache.done("train", final_train_stage(bind_data(c, str(data_dir))).key) for c in g.cells)
    ds = load_dataset("trec", data_dir)
    m = mechanism(dirs, ds.train.texts[:600], ds.test, n_words=40, reference="beta=0.1,gamma=0.001")
    assert set(m["variants"]) == set(dirs) and m["n_words"] == 40 and m["k"] == 10
    for v, s in m["variants"].items():
        assert 0 <= s["phi_vocab"]["min"] <= s["phi_vocab"]["max"] <= 1
        assert m["l1"][v].shape == (40, 10) and np.all(m["l1"][v] >= 0)
        assert 0 <= s["clean_acc"] <= 100
    assert 0 <= m["variants"]["beta=0,gamma=0"]["clean_p_ref"] <= 1


def test_correlate_command_on_the_ablations_cached_flat_model(ablated):
    tmp, env, out, r0 = ablated
    assert r0.returncode == 0
    r = flatbench("correlate", "--model", "lstm", "--dataset", "trec", "--train-attack", "textfooler", "--grid",
                  "table3_cpu_quick", *[a for a in TINY if a != "--no-mlflow"], *out, cwd=tmp, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    name = "correlation_lstm_trec_textfooler"
    md = (tmp / "reports" / f"{name}.md").read_text()
    assert md.count("not available") >= 3 and "Fig. 4a" in md and "Fig. 4c" in md
    csv = pd.read_csv(tmp / "lb" / f"{name}.csv")
    assert len(csv) == 5 and {"pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo"} <= set(csv.columns)
    ok = csv.dropna(subset=["pearson"])
    assert ((ok["pearson_lo"] <= ok["pearson"]) & (ok["pearson"] <= ok["pearson_hi"])).all()
    figs = tmp / "reports" / "figures"
    for f in (f"{name}_fig4.png", f"{name}_fig4a_replaced_vs_freq.png", f"{name}_fig4b_phi_vs_freq.png",
              f"{name}_fig4c_phi_vs_replaced.png"):
        assert (figs / f).stat().st_size > 1000, f
    assert "\\toprule" in (tmp / "reports" / f"{name}.tex").read_text()
