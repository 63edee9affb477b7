"""The derived counter-fitted space: the shipped constraints, the counter-fitting terms, the
calibrated bounds, and what stage keys see of resources and data."""

import json
import shutil

import numpy as np
import pytest

from flatbench.attack_resources import counterfit as C
from flatbench.attack_resources import catalog as R


def test_shipped_constraint_files_are_read_whole():
    cons = C.read_constraints()
    # PROVENANCE.md: 53,808 PPDB synonym lines; 637 PPDB + 12,574 WordNet antonym lines;
    # the published vocabulary of 76,426 words (self-pairs are dropped, hence <=).
    assert 53_700 <= len(cons["synonyms"]) <= 53_808
    assert 13_100 <= len(cons["antonyms"]) <= 637 + 12_574
    assert 76_400 <= len(cons["vocabulary"]) <= 76_427
    syn = {tuple(sorted(p)) for p in cons["synonyms"]}
    assert ("medieval", "mediaeval") in syn or ("mediaeval", "medieval") in syn
    assert len(C.read_simlex()) == 999
    assert (R.packaged("counter-fitting/LICENSE.txt")).read_text().lstrip().startswith("Apache License")


def test_counter_fitting_attracts_synonyms_and_repels_antonyms():
    rng = np.random.default_rng(0)
    v0 = C._normalise(rng.normal(size=(40, 8)))
    syn = np.array([[0, 1], [2, 3], [4, 5]])
    ant = np.array([[6, 7], [8, 9]])
    # make the antonyms start close, as in raw distributional spaces
    v0[7] = C._normalise(v0[6:7] + 0.5 * rng.normal(size=(1, 8)))[0]
    v0[9] = C._normalise(v0[8:9] + 0.5 * rng.normal(size=(1, 8)))[0]
    v = C.counter_fit(v0, syn, ant, epochs=20)
    assert (C._pair_cos(v, syn) > C._pair_cos(v0, syn)).all()
    assert (C._pair_cos(v, syn) > 0.9).all()
    assert (C._pair_cos(v, ant) < C._pair_cos(v0, ant)).all()
    assert (C._pair_cos(v, ant) < C._pair_cos(v0, ant) - 0.2).all()  # pushed towards distance delta = 1
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_best_bound_is_what_the_criterion_picks():
    # 4 held-out synonyms among 10 scored neighbours, 5 held-out pairs in all (one not found)
    cos = np.array([0.99, 0.97, 0.96, 0.93, 0.90, 0.85, 0.80, 0.70, 0.60, 0.50])
    pos = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0], dtype=bool)
    grid = np.round(np.arange(0.45, 1.0, 0.01), 2)
    f1 = C.best_bound(cos, pos, total_pos=5, beta=1.0, grid=grid)
    # by hand: t<=0.93 -> P 3/4 R 3/5 F1 0.667; t<=0.80 -> P 4/7 R 4/5 F1 0.667; tie -> the
    # first maximum scanning upwards is the lower bound 0.71..0.80 -> 0.71
    def f(t, beta=1.0):
        m = cos >= t
        p, r = (m & pos).sum() / m.sum(), (m & pos).sum() / 5
        return (1 + beta ** 2) * p * r / (beta ** 2 * p + r)
    best = max(f(t) for t in grid)
    assert f1["f"] == pytest.approx(best, abs=1e-4)
    assert f1["bound"] == min(t for t in grid if abs(f(t) - best) < 1e-12)
    f05 = C.best_bound(cos, pos, total_pos=5, beta=0.5, grid=grid)
    assert f05["bound"] >= f1["bound"]  # precision-weighted: never looser
    y = C.youden_bound(cos, pos, grid=grid)
    assert 0 < y["tpr"] <= 1 and y["j"] == pytest.approx(y["tpr"] - y["fpr"], abs=1e-4)


def test_holdout_split_is_seeded_and_disjoint():
    syn = np.array([[i, i + 1] for i in range(0, 200, 2)])
    a_fit, a_out = C.split_holdout(syn)
    b_fit, b_out = C.split_holdout(syn)
    assert (a_out == b_out).all() and len(a_out) == 20 and len(a_fit) == 80
    assert not ({tuple(x) for x in a_fit} & {tuple(x) for x in a_out})


@pytest.fixture(scope="module")
def built():
    R.prepare(online=False)
    d = R.counterfitted_dir()
    if R.resource("counterfitted").status != "offline-substitute":
        pytest.skip("TextAttack's own paragramcf is in use here; the derived space is not")
    return d


def test_built_space_records_quality_and_calibration(built):
    m = C.read_meta(built)
    sl = m["simlex999"]
    assert sl["counterfitted"]["rho"] > sl["raw"]["rho"] + 0.1  # counter-fitting helps SimLex
    cal = m["calibration"]
    assert 0.5 < m["bounds"]["min_cos_sim"] < 1.0 and cal["min_cos_sim"]["f"] > 0
    passing = m["mean_top50_passing_20k_most_frequent"]
    assert passing["min_cos_0.5"] > 40  # the 300-d bound filters almost nothing in 50-d
    assert passing[f"calibrated_min_cos_{m['bounds']['min_cos_sim']:g}"] < passing["min_cos_0.5"]
    lines = R.quality_lines()
    assert any("SimLex-999" in line for line in lines) and any("min_cos_sim" in line for line in lines)


def _attack_key(grid_hp=None, data_dir=None):
    from flatbench.cells import load_grid
    from flatbench.stages import plan

    g = load_grid("table3_cpu", models="cnn", datasets="trec", methods="base", attacks="textfooler",
                  hp_overrides=grid_hp or {})
    stages, _ = plan(g, str(data_dir) if data_dir else None)
    return {s.kind + ":" + getattr(s, "split", ""): s.key for s in stages}


def test_keys_see_the_counterfitted_space_and_options(built, data_dir, tmp_path, monkeypatch):
    base = _attack_key(data_dir=data_dir)
    assert base == _attack_key(data_dir=data_dir)  # stable
    # the same options spelled out give the same keys; another bound gives new attack keys only
    assert _attack_key({"attack_bounds": "matched"}, data_dir) == base
    orig = _attack_key({"attack_bounds": "original"}, data_dir)
    assert orig["attack:test"] != base["attack:test"] and orig["train:"] == base["train:"]
    # another counter-fitted space (a copy whose content hash differs) gives new attack keys
    res = tmp_path / "res"
    shutil.copytree(R.resource_dir(), res, ignore=shutil.ignore_patterns(".*"))
    meta = json.loads((res / "counterfitted" / "meta.json").read_text())
    meta["embedding_sha256"] = "0" * 16
    (res / "counterfitted" / "meta.json").write_text(json.dumps(meta))
    monkeypatch.setenv("FLATBENCH_RESOURCES", str(res))
    other = _attack_key(data_dir=data_dir)
    assert other["attack:test"] != base["attack:test"] and other["train:"] == base["train:"]
    # the same vectors with another calibrated bound (e.g. a changed criterion) give new keys too
    meta["bounds"]["min_cos_sim"] = 0.9
    (res / "counterfitted" / "meta.json").write_text(json.dumps(meta))
    rebounded = _attack_key(data_dir=data_dir)
    assert rebounded["attack:test"] not in (base["attack:test"], other["attack:test"])


def test_keys_see_the_data(data_dir, tmp_path):
    from flatbench.stages import data_fingerprint

    base = _attack_key(data_dir=data_dir)
    copy = tmp_path / "data"
    shutil.copytree(data_dir / "trec", copy / "trec")
    assert _attack_key(data_dir=copy) == base  # same content elsewhere: same keys
    lines = (copy / "trec" / "test.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["text"] = row["text"] + " indeed"
    (copy / "trec" / "test.jsonl").write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")
    data_fingerprint.cache_clear()
    from flatbench.data.datasets import _CACHE

    _CACHE.clear()
    changed = _attack_key(data_dir=copy)
    assert all(changed[k] != base[k] for k in base)


def test_attack_keys_do_not_depend_on_when_nltk_was_set_up(built, data_dir):
    """A fresh process plans (NLTK not yet pointed at our data), then builds the stages again
    after textattack's set-up: the dependency's key must be the one the plan listed."""
    import subprocess
    import sys

    code = (
        "from flatbench.cells import load_grid\n"
        "from flatbench.stages import plan, TrainStage\n"
        f"g = load_grid('smoke', models='cnn', methods='adv')\n"
        f"stages, t = plan(g, {str(data_dir)!r})\n"
        "listed = {s.key for s in stages}\n"
        "from flatbench.attack_resources.catalog import ensure_nltk_env; ensure_nltk_env()\n"
        "final = [s for s in stages if s.kind == 'train' and s.round == 1][0]\n"
        "assert all(d.key in listed for d in TrainStage(final.cell, 1).deps()), 'key moved'\n"
        "print('ok')\n")
    import os

    env = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}  # as a fresh shell has it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
