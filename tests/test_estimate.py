"""`--dry-run`'s estimates: recorded before each stage runs, tabulated against the actual seconds
after a run, priced from the rates flatbench.estimate sets (refitted on this machine's stages; the
GPU half from the H200 readings)."""

import json

import pytest

from flatbench import estimate as E
from flatbench.cache import Cache
from flatbench.cells import load_grid
from flatbench.executors.local import LocalExecutor
from flatbench.registry import ATTACKS, MODELS
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
        assert E.manifest_features(m, results.get) == {**E.stage_features(s),
                                                       **({"warm": False} if s.kind == "attack" else {})}

    [path] = (tmp_path / "runs" / "estimates").glob("*_smoke_*.json")
    rec = json.loads(path.read_text())
    assert rec["grid"] == "smoke" and rec["total"]["stages"] == 4
    # attack rows say whether they were priced warm (benchmarks/fit_attack_residual.py reads it)
    assert [r.get("warm") for r in rec["stages"] if r["kind"] == "attack"] == [False]
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


def test_estimates_use_the_refitted_cpu_rates(monkeypatch):
    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")  # the loop the rates were fitted on
    # a full-procedure TREC interpret stage (IG on every pair, LIME on up to 1,000): seconds, not
    # the 5.3 minutes of the constants before 2026-12-04 (measured: 9.5-18.5 s at load 3-5; 4.1-7.3 s
    # for the TextFooler stages of session 8 at load 2)
    f = _features(kind="interpret", model="lstm", dataset="trec", recipe="textfooler", n=500, lime_pairs=1000,
                  lime_samples=1000)
    pairs = 500 * E.PAIR_SHARE["trec"]
    assert E.estimate_from(f) == pytest.approx(E.OVERHEAD["interpret"] + pairs * (0.00696 + 0.0293))
    assert 4 < E.estimate_from(f) < 30
    # TextFooler's cost grows as the bound loosens: SST2's matched cos 0.75 against the old 0.95
    atk = _features(kind="attack", model="cnn", dataset="sst2", recipe="textfooler", split="test", n=1000, round=0)
    loose, tight = E.estimate_from({**atk, "cos": 0.75}), E.estimate_from({**atk, "cos": 0.95})
    assert tight == pytest.approx(E.OVERHEAD["attack"] + 1000 * 0.0591)
    assert (loose - E.OVERHEAD["attack"]) / (tight - E.OVERHEAD["attack"]) == pytest.approx(1 + 3.04 * 0.2)
    # the training split costs more per example (fewer examples skipped)
    assert E.estimate_from({**atk, "cos": 0.95, "split": "train"}) == pytest.approx(E.OVERHEAD["attack"] + 1000 * 0.0591 * 1.48)
    # FLAT trains at 2.24x base's cost per row and epoch; adv's rounds at 1.87x
    tr = _features(kind="train", model="cnn", dataset="trec", examples=5000, epochs=15, round=0)
    assert E.estimate_from(tr) == pytest.approx(E.OVERHEAD["train"] + 5000 * 15 * 0.000236)
    assert E.estimate_from({**tr, "method": "flat"}) == pytest.approx(E.OVERHEAD["train"] + 5000 * 15 * 0.000236 * 2.24)
    # attacking SAFER's smoothed model (a vote over 100 substitutions per query): 4.4x base's
    # (the median of defences_cpu's 8 SAFER attack stages; the estimate was 4x short before)
    safer = E.estimate_from({**atk, "cos": 0.95, "method": "safer"})
    assert safer - E.OVERHEAD["attack"] == pytest.approx(4.4 * (tight - E.OVERHEAD["attack"]))
    # and LIME explains the smoothed model: its part 86x base's, IG's (the base classifier) unchanged
    ff = _features(kind="interpret", model="lstm", dataset="trec", recipe="pwws", n=500, lime_pairs=50,
                   lime_samples=1000)
    pairs = 500 * E.PAIR_SHARE["trec"]
    assert E.estimate_from({**ff, "method": "safer"}) == pytest.approx(
        E.OVERHEAD["interpret"] + pairs * 0.00696 + 86 * min(pairs, 50) * 0.0293)


def test_gpu_estimates_rest_on_the_h200_readings(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")  # the formulas below are stock's loop (test_the_greedy_search_... prices the other)
    bert, deberta = MODELS.spec("bert").cost, MODELS.spec("deberta").cost
    assert 1 / bert.train == pytest.approx(780, rel=0.01)  # ~780 train rows/s
    assert 3100 <= 1 / bert.forward <= 3400 and 2100 <= 1 / deberta.forward <= 2800
    assert 36 <= 2 / bert.ig <= 46 and 21 <= 2 / deberta.ig <= 26  # IG texts/s; a pair is two texts
    assert 0.86 <= bert.lime <= 1.06
    assert E.attack_rate("pwws", "sst2", "bert") == pytest.approx(0.081, rel=0.02)
    assert 0.15 <= E.attack_rate("pwws", "sst2", "deberta") <= 0.24
    # only the forward share of an attack scales with the victim: TextFooler's time is mostly its
    # encoder and candidates (13 % forward on an LSTM/CNN), so on BERT it costs ~2x, not ~8x
    tf = E.attack_rate("textfooler", "sst2", "bert") / E.attack_rate("textfooler", "sst2", "lstm")
    assert tf == pytest.approx(1 + (bert.attack - 1) * 0.13) and 1.5 < tf < 2.5
    assert E.attack_rate("pwws", "sst2", "cnn") == E.ATTACK_RATES[("pwws", "sst2")]
    # one BERT epoch over SST2's 6,920 rows ~ 21 s with the load
    f = _features(kind="train", model="bert", dataset="sst2", examples=6920, epochs=1, round=0)
    assert E.estimate_from(f) == pytest.approx(21, rel=0.05)

    from flatbench.estimate import describe_plan

    g = load_grid("table3", models="bert", datasets="sst2", methods="base")
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table3")
    text = describe_plan(g, plan(g, str(data_dir))[0], ctx)
    assert "GPU basis: H200 measurements" in text and "GPU hours by stage kind" in text


def test_the_dry_run_prices_one_process_with_its_attack_workers(tmp_path, data_dir, monkeypatch):
    """One process: its attack stages over min(workers, 2) cores, everything else on one core. Two
    processes with one worker each, split as a user splits them (per --models): the longer
    process, each priced as a plan of its own, so each pays its own first (cold) attack of a
    training set; not half the stage time, which a per-model split never reaches."""
    import re

    from flatbench.estimate import describe_plan, plan_estimates, two_processes

    g = load_grid("table3", models="lstm,cnn", datasets="trec", attacks="textfooler")
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table3")
    stages = plan(g, str(data_dir))[0]
    ests, _ = plan_estimates(stages)
    total = sum(ests.values())
    attack = sum(ests[s.key] for s in stages if s.kind == "attack")
    assert attack > 0.4 * total  # a large share, so how its workers split it shows
    per_model = {m: sum(plan_estimates([s for s in stages if s.owner().model == m])[0].values()) for m in ("lstm", "cnn")}
    # the CNN's own first training-set attack is cold here, warm in the one-process plan
    assert per_model["lstm"] + per_model["cnn"] > total
    split = dict(two_processes(stages))
    assert split == pytest.approx({"--models lstm": per_model["lstm"], "--models cnn": per_model["cnn"]})

    def hours(workers):
        monkeypatch.setenv("FLATBENCH_ATTACK_WORKERS", workers)
        text = describe_plan(g, stages, ctx)
        assert re.search(r"--models (lstm|cnn) \| --models (cnn|lstm)", text)  # the longer first
        two, one = re.search(r"about ([\d.]+) h of wall time \(the longer.*about ([\d.]+) h\.", text).groups()
        return float(two), float(one)

    longer = round(max(per_model.values()) / 3600, 1)
    assert hours("1") == (longer, round(total / 3600, 1))
    assert hours("2") == (longer, round((total - attack / 2) / 3600, 1))
    assert hours("4") == hours("2")  # two cores here
    assert hours("2")[1] < hours("1")[1]
    # one model and one dataset: no split a user would make
    one = [s for s in stages if s.owner().model == "lstm"]
    assert two_processes(one) is None and "run as two processes" not in describe_plan(g, one, ctx)


def _calibration():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibrate_estimates.py"
    spec = importlib.util.spec_from_file_location("calibrate_estimates", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_calibration_fits_the_paper_procedure_and_borrows_a_thin_datasets_rate():
    cal = _calibration()
    # the paper's procedure: whole training set (TREC's less its 452-row dev hold-out), whole test set
    assert cal.full_size({"kind": "train", "dataset": "trec", "examples": 4548})
    assert not cal.full_size({"kind": "train", "dataset": "sst2", "examples": 500})
    assert cal.full_size({"kind": "attack", "dataset": "sst2", "split": "test", "n": 1821})
    assert not cal.full_size({"kind": "attack", "dataset": "sst2", "split": "test", "n": 500})
    assert not cal.full_size({"kind": "attack", "dataset": "sst2", "split": "dev", "n": 872})

    def atk(dataset, n, seconds, cos=0.9, split="train", model="lstm", rnd=1, method="adv", recipe="textfooler"):
        return {"key": f"{dataset}{n}{seconds}{cos}{model}{rnd}{split}", "seconds": seconds, "finished": "x",
                "metrics": {}, "seed": 13,
                "f": {"kind": "attack", "model": model, "dataset": dataset, "method": method, "recipe": recipe,
                      "split": split, "round": rnd, "n": n, "cos": cos}}

    # TREC has full-procedure stages; SST2 has one. The strength grid's paired dev attacks say an
    # SST2 example costs 2x and 3x a TREC one at two bounds: SST2's rate is TREC's x sqrt(6)
    rows = [atk("trec", 5000, 5 + 5000 * 0.02, rnd=r) for r in (1, 2, 3)] + [atk("sst2", 6920, 5 + 6920 * 0.5, cos=0.75)]
    aux = rows + [atk("trec", 452, 45.2, cos=0.5, split="dev", rnd=0, method="base"),
                  atk("sst2", 872, 2 * 87.2, cos=0.5, split="dev", rnd=0, method="base"),
                  atk("trec", 452, 45.2, cos=0.8, split="dev", rnd=0, method="base"),
                  atk("sst2", 872, 3 * 87.2, cos=0.8, split="dev", rnd=0, method="base")]
    ratio, groups = cal.dataset_ratio(aux, "textfooler", "sst2", "trec")
    assert groups == 2 and ratio == pytest.approx(6 ** 0.5)
    fitted = cal.fit(rows, aux=aux)
    assert fitted["attack"][("textfooler", "sst2")] == pytest.approx(fitted["attack"][("textfooler", "trec")] * 6 ** 0.5)
    assert fitted["attack_from"][("textfooler", "sst2")].startswith("trec x 2.45 (2 paired groups; 1 own stages)")
    assert fitted["attack_from"][("textfooler", "trec")] == "3 stages"


def test_the_dry_run_prices_a_training_set_attacked_again_warm(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")  # the formulas below are stock's loop (test_the_greedy_search_... prices the other)
    """Rounds 2 and 3 of adv and FLAT attack the training set round 1 attacked (and FLAT the one
    adv attacked; adv and FLAT the test set base attacked): the runner's memo holds their
    candidates' look-ups, so TextFooler's are priced at WARM_FACTOR; the first of each, and every
    PWWS one, cold. A stage that ran marks its examples."""
    g = load_grid("table3", models="lstm", datasets="sst2", attacks="textfooler")
    ctx = Context(Cache(tmp_path / "runs"), Tracker(enabled=False), str(data_dir), "table3")
    stages = plan(g, str(data_dir))[0]
    ests, warm_n = E.plan_estimates(stages)
    train = [s for s in stages if s.kind == "attack" and s.split == "train"]
    test = [s for s in stages if s.kind == "attack" and s.split == "test"]  # base, adv, FLAT: the same test set
    assert len(train) >= 4 and len(test) == 3 and warm_n == len(train) - 1 + len(test) - 1
    first, later = train[0], train[1:]
    fs = ATTACKS.spec("textfooler").forward_share  # the LSTM's forward: the memo does not shorten it
    for s in later:
        assert ests[s.key] == pytest.approx(E.estimate_seconds(s, warm=True))
        assert E.estimate_seconds(s, warm=True) - 5.0 == pytest.approx(
            (fs + (1 - fs) * E.WARM_FACTOR["textfooler"]) * (E.estimate_seconds(s, warm=False) - 5.0),
            rel=1e-9)  # 5 s: the stage overhead
    assert ests[first.key] == pytest.approx(E.estimate_seconds(first, warm=False))
    assert "priced warm" in E.describe_plan(g, stages, ctx)
    # in a process that ran the first one, the next estimate is warm on its own
    from flatbench.attacks import warm as W

    saved = W.attacked()
    try:
        assert not W.attacked_before(later[0])
        W.note_attacked(first)
        assert W.attacked_before(later[0]) and E.estimate_seconds(later[0]) == ests[later[0].key]
    finally:
        W._ATTACKED.clear()
        W._ATTACKED.update(saved)
    pw = load_grid("table3", models="lstm", datasets="sst2", attacks="pwws")
    pstages = plan(pw, str(data_dir))[0]
    pests, pwarm = E.plan_estimates(pstages)
    assert pwarm == 0 and all(pests[s.key] == pytest.approx(E.estimate_seconds(s, warm=False))
                              for s in pstages if s.kind == "attack")


def test_the_greedy_search_prices_only_the_time_outside_the_forward_lower(monkeypatch):
    """flatbench.attacks.greedy (the default) scales an attack's time outside the model's forward
    by its measured factor over stock's loop, cold and warm; the forward's share is untouched, and
    a dataset without a reading keeps stock's rate."""
    from flatbench.registry import ATTACKS, MODELS

    atk = _features(kind="attack", model="cnn", dataset="sst2", recipe="textfooler", split="test", n=1000,
                    round=0, cos=0.95)
    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")
    stock_cold, stock_warm = E.estimate_from(atk), E.estimate_from({**atk, "warm": True})
    imdb_stock = E.estimate_from({**atk, "dataset": "imdb"})
    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH")
    fs, m = ATTACKS.spec("textfooler").forward_share, MODELS.spec("cnn").cost.attack
    cold_f, warm_f = E.SEARCH_FACTOR[("textfooler", "sst2")]
    cold_r, warm_r = E.GRID_RESIDUAL[("textfooler", "sst2")]  # and then what the grid's stages still said
    cold_t, warm_t = E.TAGGER_FACTOR[("sst2", "cnn")]  # and TextFooler's faster tagging since
    assert E.estimate_from(atk) == pytest.approx(
        (E.OVERHEAD["attack"] + 1000 * 0.0591 * (fs * m + (1 - fs) * cold_f)) * cold_r * cold_t)
    assert E.estimate_from({**atk, "warm": True}) == pytest.approx(
        (E.OVERHEAD["attack"] + 1000 * 0.0591 * (fs * m + (1 - fs) * E.WARM_FACTOR["textfooler"] * warm_f))
        * warm_r * warm_t)
    assert E.estimate_from(atk) < stock_cold
    lstm = {**atk, "model": "lstm"}
    assert E.attack_residual("textfooler", "sst2", "lstm") == pytest.approx(
        cold_r * E.MODEL_RESIDUAL["lstm"] * E.TAGGER_FACTOR[("sst2", "lstm")][0])
    assert E.attack_residual("pwws", "sst2", "lstm") == pytest.approx(  # PWWS tags nothing
        E.GRID_RESIDUAL[("pwws", "sst2")][0] * E.MODEL_RESIDUAL["lstm"])
    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")
    assert E.attack_residual("textfooler", "sst2", "lstm") == 1.0  # stock's loop: the rates as fitted
    lstm_stock = E.estimate_from(lstm)
    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH")
    assert E.estimate_from(lstm) < lstm_stock
    assert E.estimate_from({**atk, "dataset": "imdb"}) == pytest.approx(imdb_stock)
    assert all(0 < c <= 1 and 0 < w <= 1 for c, w in E.SEARCH_FACTOR.values())


def test_the_grid_residual_is_what_its_script_fits_on_the_committed_slices():
    """GRID_RESIDUAL / MODEL_RESIDUAL are the fit of benchmarks/fit_attack_residual.py on the four
    adversarial slices of session 14 (benchmarks/baselines): refitting them gives the same numbers,
    and the fitted factors match each group's total seconds on those stages."""
    import glob
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("fit_attack_residual", root / "benchmarks" / "fit_attack_residual.py")
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    files = sorted(glob.glob(str(root / "benchmarks" / "baselines" / "slice_adv_*_2026-12-05_*.json")))
    assert len(files) == 4
    rows = fit.load_rows(files)
    attacks = [r for r in rows if r["kind"] == "attack"]
    assert len(attacks) == 32 and sum(r["warm"] for r in attacks) == 16  # rounds 1-2 of each training set
    C, M = fit.fit(rows)
    for (recipe, dataset), (cold, warm) in E.GRID_RESIDUAL.items():
        assert C[(recipe, dataset, "cold")] == pytest.approx(cold, abs=0.005)
        assert C[(recipe, dataset, "warm")] == pytest.approx(warm, abs=0.005)
    assert M == pytest.approx(E.MODEL_RESIDUAL, abs=0.005)
    for g in C:  # ratio estimators: every group's total matched on its own stages
        rs = [r for r in attacks if fit.group(r) == g]
        assert sum(r["estimate_seconds"] * C[g] * M[r["model"]] for r in rs) == pytest.approx(
            sum(r["seconds"] for r in rs), rel=0.15)
