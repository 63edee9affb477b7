"""Defences beyond the paper (SAFER, ASCC, PGD-K): each is one method file plus one registry line;
each trains one tiny round on real TREC and is checked for what makes it that method."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from flatbench.registry import METHODS, MODELS
from flatbench.training.loop import Example, make_batches, train

from conftest import SMALL_HP

NEW = ("safer", "ascc", "pgd")
TINY = {**SMALL_HP, "epochs": 1}


@pytest.fixture(scope="module")
def space():
    from flatbench.attack_resources import catalog as R
    from flatbench.attacks import synonyms

    if R.resource("counterfitted").status == "missing":
        R.prepare(online=False)  # the attacks' own space (offline, ~1 min once)
    return synonyms.load()


@pytest.fixture(scope="module")
def examples(trec):
    return [Example(t, int(y)) for t, y in zip(trec.train.texts[:192], trec.train.labels[:192])]


def _batch(bundle, examples, n=32):
    return next(iter(make_batches(bundle, examples, n, random.Random(0))))


def _trained(trec, examples, model, method, **hp):
    torch.manual_seed(0)
    bundle = MODELS.get(model).build(trec, SMALL_HP, seed=0, mask=False)
    hist = train(bundle, METHODS.get(method), examples, trec.dev, {**TINY, **hp}, seed=0)
    assert all(np.isfinite(hist["epoch_loss"])) and hist["best_epoch"] == 1
    return bundle


def test_each_defence_is_one_method_file_with_sourced_defaults(monkeypatch, data_dir):
    from flatbench.cells import Cell, _freeze
    from flatbench.stages import TrainStage

    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(data_dir))
    root = Path(__file__).resolve().parents[1] / "flatbench" / "methods"
    sources = ("TextDefender", "SAFER", "authors", "TextFooler", "attacks")

    def key(method, **hp):
        return TrainStage(Cell("lstm", "trec", method, None, 13, _freeze({"epochs": 1, **hp})), 0).key

    for name in NEW:
        spec = METHODS.spec(name)
        assert spec.impl == f"flatbench.methods.{name}" and (root / f"{name}.py").is_file()
        mod = METHODS.get(name)
        assert mod.NAME == name and not mod.ADVERSARIAL and not mod.USES_MASK
        for k, p in mod.HP.items():  # every default says where it comes from
            assert any(s in p.doc for s in sources), (name, k, p.doc)
        assert key(name) != key("base")
        first = next(iter(mod.HP))
        changed = mod.HP[first].default * 2 if isinstance(mod.HP[first].default, int | float) else None
        assert key(name, **{first: changed}) != key(name)


def test_default_synonym_bound_is_the_cells_textfooler_bound(monkeypatch, data_dir, space):
    """synonym_min_cos = none resolves, per cell, to the cosine the cell's own TextFooler attack
    uses (the strength-matched table: SST2 0.75, TREC 0.90), is in the train key, and is recorded."""
    from flatbench.analysis.strength import matched_cos
    from flatbench.cells import Cell, _freeze
    from flatbench.settings import cell_hp
    from flatbench.stages import AttackStage, TrainStage
    from flatbench.training.stage import synonym_bound

    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(data_dir))
    seen = {}
    for ds, want in (("sst2", 0.75), ("trec", 0.90)):
        for method in ("safer", "ascc"):
            cell = Cell("lstm", ds, method, None, 13, _freeze({"epochs": 1}))
            hp = cell_hp(cell)
            attack = AttackStage.for_test(TrainStage(cell, 0), "textfooler").options()
            assert attack["attack_bounds"] == "matched"
            assert hp.synonym_min_cos == attack["matched_cos"] == matched_cos(ds, "textfooler") == want
            rec = synonym_bound(cell, hp, METHODS.get(method))
            assert rec["min_cos"] == want and "strength-matched" in rec["source"] and ds in rec["source"]
            pinned = Cell("lstm", ds, method, None, 13, _freeze({"epochs": 1, "synonym_min_cos": want}))
            assert TrainStage(pinned, 0).key == TrainStage(cell, 0).key  # none = that number, in the key
            seen[ds, method] = TrainStage(cell, 0).key
    assert seen["sst2", "safer"] != seen["trec", "safer"]
    # the cell's attack option moves it; the evaluation-only bound (strength curves) does not
    f1 = Cell("lstm", "trec", "safer", None, 13, _freeze({"epochs": 1, "attack_bounds": "f1"}))
    assert cell_hp(f1).synonym_min_cos == space.min_cos == 0.95
    curves = Cell("lstm", "trec", "safer", None, 13, _freeze({"epochs": 1, "eval_attack_bounds": "cos0.60"}))
    assert cell_hp(curves).synonym_min_cos == 0.90
    assert cell_hp(Cell("lstm", "trec", "base", None, 13, _freeze({}))).get("synonym_min_cos") is None


# ------------------------------------------------------------------------------ PGD-K

def test_pgd_trains_on_the_projected_embedding_point_only(trec, examples):
    from flatbench.methods import pgd
    from flatbench.training.objectives import cross_entropy

    bundle = _trained(trec, examples, "lstm", "pgd")
    model = bundle.model
    model.eval()  # no dropout: losses comparable
    batch = _batch(bundle, examples)
    emb = model.embedding(batch.ids).detach()
    keep = batch.ids != 0
    torch.manual_seed(1)
    delta, _ = pgd.adversarial_delta(bundle, batch, {})
    norms = delta.flatten(1).norm(dim=1)
    assert (norms <= 0.05 + 5 * 0.03 + 1e-5).all() and (norms > 0.05).all()  # K = 5 steps of 0.03
    assert (delta[~keep] == 0).all()  # padding is never perturbed
    with torch.no_grad():
        clean = float(cross_entropy(model.encode(emb, keep), batch.y))
        at = float(cross_entropy(model.encode(emb + delta, keep), batch.y))
    assert at > clean  # the K ascent steps found a worse point
    torch.manual_seed(1)
    loss, logs = pgd.batch_loss(bundle, batch, {})
    assert float(loss.detach()) == pytest.approx(at, abs=1e-6)  # trained on x + delta, not on x
    torch.manual_seed(1)
    bounded, _ = pgd.adversarial_delta(bundle, batch, {"pgd_max_norm": 0.04})
    assert (bounded.flatten(1).norm(dim=1) <= 0.04 + 1e-6).all()  # projected to the L2 ball


# ------------------------------------------------------------------------------ ASCC

def test_ascc_point_lies_in_the_convex_hull_of_the_attacks_substitutes(trec, examples, space):
    from flatbench.methods import ascc
    from flatbench.training.objectives import cross_entropy

    bundle = _trained(trec, examples, "cnn", "ascc")
    stoi = bundle.tokenizer.vocab.stoi
    assert bundle.config["ascc_space"]["identity"] == space.identity  # recorded with the model
    assert any("ascc: synonym sets = the attacks' counter-fitted" in d for d in bundle.deviations)
    # the substitution set of a word is the word plus its in-vocabulary attack neighbours N(w)
    table, valid = ascc._table(bundle, ascc.resolve({}, ascc.HP))
    w = next(w for w in ("city", "country", "name", "movie", "good") if len(space.neighbours.get(w, ())) > 1)
    row = table[stoi[w]][valid[stoi[w]]].tolist()
    assert row == [stoi[w]] + [stoi[u] for u in space.neighbours[w] if u in stoi]

    model = bundle.model
    batch = _batch(bundle, examples)
    model.train()  # as in training
    torch.manual_seed(0)
    p, sub, valid, keep = ascc.hull_point(bundle, batch, {})
    assert model.training  # the search ran in eval mode and gave the mode back
    assert (p >= 0).all() and torch.allclose(p.sum(-2), torch.ones_like(p.sum(-2)), atol=1e-5)
    assert (p.squeeze(-1)[~valid] == 0).all()  # no weight outside w's set
    swappable = keep & (valid.sum(-1) > 1)
    assert swappable.sum() > 5
    x_hat = (p * model.embedding(sub)).sum(-2)
    vecs = model.embedding(sub)  # each point is inside its set's bounding box (a hull's necessary condition)
    big = torch.where(valid.unsqueeze(-1), vecs, torch.full_like(vecs, -1e9)).max(-2).values
    small = torch.where(valid.unsqueeze(-1), vecs, torch.full_like(vecs, 1e9)).min(-2).values
    assert ((x_hat >= small - 1e-5) & (x_hat <= big + 1e-5)).all()
    moved = (x_hat - model.embedding(batch.ids)).norm(dim=-1)[swappable]
    assert (moved > 1e-3).float().mean() > 0.2  # the adversary used the substitutes
    top = p.squeeze(-1).max(-1).values[swappable]
    assert top.mean() > 0.8  # the entropy term keeps the weights near a vertex (a real word)
    # beta = 0: the loss is the clean cross-entropy (the hull point only enters through the KL)
    model.eval()
    zero, _ = ascc.batch_loss(bundle, batch, {"ascc_beta": 0.0, "ascc_steps": 1})
    assert float(zero.detach()) == pytest.approx(float(cross_entropy(model(batch.ids), batch.y).detach()), abs=1e-5)


# ------------------------------------------------------------------------------ SAFER

def test_safer_certificate_radius_by_hand():
    from flatbench.methods.safer import radius

    # binary, SAFER's rule: p_gold - Delta_R >= 0.5 + mc_error
    assert radius(0.9, 0.1, [1.0, 1.0, 1.0], 0.01) == 3  # tv = 1 everywhere: any swaps certified
    assert radius(0.9, 0.1, [0.8, 0.7, 1.0], 0.01) == 1  # Delta_1 = 0.3 <= 0.39, Delta_2 = 0.44 > 0.39
    assert radius(0.9, 0.1, [0.5, 0.8, 1.0], 0.01) == 0  # the smallest tv comes first: Delta_1 = 0.5
    assert radius(0.8, 0.2, [0.7, 0.7], 0.0) == 1  # Delta_1 = 0.3 <= 0.3, Delta_2 = 0.51 > 0.3
    assert radius(0.5, 0.5, [1.0], 0.01) == -1  # not even the text itself is certified
    assert radius(0.6, 0.3, [0.9], 0.0) == 1  # multi-class: (0.6 - 0.3) / 2 = 0.15 >= Delta_1 = 0.1


def test_safer_perturbation_sets_follow_the_synonym_graph(space):
    from flatbench.methods import safer

    small = safer.perturbation_sets(space, 100)
    psets, tv = small
    sym = space.symmetric()
    for w in list(sym)[:300]:
        assert w in psets[w]
        for u in sym[w]:
            if tv[w] == 1.0 and len(psets[w]) < 100:
                assert set(psets[u]) == set(psets[w])  # a small component is everyone's set
    # components larger than the set size: the nearest words, and tv = the least overlap
    psets2, tv2 = safer.perturbation_sets(space, 3)
    w = next(w for w in sorted(sym) if tv2[w] < 1.0)
    assert len(psets2[w]) == 3 and psets2[w][0] == w
    assert tv2[w] == min(len(set(psets2[w]) & set(psets2[u])) / 3 for u in sym[w])


def test_safer_smoothed_model_is_seeded_per_text_attacked_and_certified(trec, examples, space, tmp_path):
    from flatbench.attack_resources.catalog import ensure_nltk_env
    from flatbench.attacks.stage import certify
    from flatbench.methods import safer
    from flatbench.models.bundle import ModelBundle

    bundle = _trained(trec, examples, "lstm", "safer", safer_votes=30, safer_cert_samples=200)
    cfg = bundle.config["inference"]
    assert cfg["method"] == "safer" and cfg["votes"] == 30 and cfg["space"]["identity"] == space.identity
    bundle.save(tmp_path)
    smooth = ModelBundle.load(tmp_path)
    assert isinstance(smooth.inference, safer.Smoothed)
    texts = list(trec.test.texts[:40])
    p = smooth.inference.probs(texts)
    assert np.allclose(p.sum(1), 1) and np.allclose(p * 30, np.round(p * 30))  # shares of 30 votes
    # a text's vote depends on the text alone: not on its batch, order, process or object
    assert np.array_equal(p[::-1], smooth.inference.probs(texts[::-1]))
    assert np.array_equal(p[:3], np.concatenate([smooth.inference.probs([t]) for t in texts[:3]]))
    assert np.array_equal(p, ModelBundle.load(tmp_path).inference.probs(texts))
    assert safer.text_seed(texts[0]) != safer.text_seed(texts[1]) != safer.text_seed(texts[1], "cert")
    assert (smooth.predict(texts) == p.argmax(1)).all()  # evaluation predicts with the vote
    ids = smooth.tokenizer.batch(texts[:10])
    draws = [smooth.inference.draws(t, 30) for t in texts[:10]]
    assert any((d != ids[i, : d.shape[1]]).any() for i, d in enumerate(draws))  # words were swapped

    # the attack queries the smoothed model (its records agree with a fresh vote on both texts)
    ensure_nltk_env()
    from flatbench.attacks.runner import run_attack

    right = [i for i in range(40) if p[i].argmax() == trec.test.labels[i]][:3]
    assert right  # attacks run on examples the smoothed model gets right
    items = [(i, trec.test.texts[i], int(trec.test.labels[i])) for i in right + [40]]
    # TextFooler swaps words within the same synonym sets N(w) the certificate covers
    recs, _ = run_attack(tmp_path, "textfooler", items, tmp_path / "partial", workers=1, progress=False)
    fresh = ModelBundle.load(tmp_path)
    assert sum(r["status"] != "skipped" for r in recs) >= len(right) and all(r["queries"] > 0 for r in recs[:1])
    for r in recs:
        assert r["orig_pred"] == int(fresh.predict([r["original"]])[0])
        if r["status"] != "skipped":
            assert r["adv_pred"] == int(fresh.predict([r["adversarial"]])[0])
    # its certificate is stored beside the empirical after-attack accuracy
    m = {}
    devs = certify(tmp_path, items, recs, m)
    assert 0 <= m["certified_acc"] <= 1 and devs and all("certificate" in r for r in recs)
    for r, (_, text, y) in zip(recs, items):
        c = r["certificate"]
        tvs = [fresh.inference.tv.get(w, 1.0) for w in fresh.tokenizer.tokens(text)]
        assert c["radius"] == safer.radius(c["p_gold"], c["p_runner_up"], tvs, 0.01)
        assert c["certified"] == (c["radius"] == len(tvs))
        if c["certified"]:  # certified against every swap in N(w): the attack cannot have broken it
            assert r["status"] == "failed"
    assert any(r["certificate"]["certified"] for r in recs)  # (2 of 4 here: the check above ran)
