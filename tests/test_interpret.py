"""Interpretation consistency: metrics on hand-made vectors; IG / LIME / the interpret stage on
real CNNs trained briefly on real TREC."""

import json
import math

import numpy as np
import pytest

from flatbench.interpret.consistency import (
    align_words,
    aligned_kendall_tau,
    class_averaged,
    kendall_tau,
    rescore_pairs,
    topk_indices,
    topk_intersection,
)

# ---------------------------------------------------------------- metrics on hand-made vectors


def test_identical_vectors_are_fully_consistent():
    a = [0.5, -0.2, 0.9, 0.1, 0.0]
    assert kendall_tau(a, a) == pytest.approx(1.0)
    for k in range(1, 11):  # k beyond the 5 words -> min(k, n)
        assert topk_intersection(a, a, k) == 1.0


def test_reversed_ranking_has_tau_minus_one():
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert kendall_tau(a, a[::-1]) == pytest.approx(-1.0)
    # top-2 of a = {4, 3}; of reversed = {0, 1}: no overlap
    assert topk_intersection(a, a[::-1], 2) == 0.0
    assert topk_intersection(a, a[::-1], 5) == 1.0  # everything is in the top-5 of 5 words


def test_constant_vectors_are_defined():
    assert kendall_tau([0, 0, 0], [0, 0, 0]) == 1.0
    assert kendall_tau([0.3], [0.1]) == 1.0
    assert kendall_tau([0, 0, 0], [1, 2, 3]) == 0.0


def test_signed_ranking_and_ties():
    a = [0.1, -5.0, 0.3, 0.3]
    assert topk_indices(a, 2) == [2, 3]  # signed: the large negative word is not "top"; tie -> earlier
    assert topk_indices(a, 1, absolute=True) == [1]


def test_substitution_at_top_position_still_intersects():
    # x = "how far is it", x' = "how distant is it": the top word is the substituted one.
    wx, wa = ["how", "far", "is", "it"], ["how", "distant", "is", "it"]
    ax, aa = [0.2, 0.9, 0.1, 0.0], [0.1, 0.8, 0.2, 0.0]
    al = align_words(wx, wa)
    assert al.identity and al.changed == [(1, 1)]
    assert topk_intersection(ax, aa, 1, al) == 1.0
    assert topk_intersection(ax, aa, 1, [(i, i) for i in range(4)]) == 1.0
    assert topk_intersection(ax, aa, 2) == 0.5  # {1, 0} vs {1, 2}


def test_unequal_word_counts_align_with_difflib():
    wx = ["where", "is", "john", "wayne", "airport", "?"]
    wa = ["where", "is", "john", "wayne", "air", "terminal", "?"]
    al = align_words(wx, wa)
    assert not al.identity
    assert al.pairs == [(0, 0), (1, 1), (2, 2), (3, 3), (5, 6)]
    assert al.unmatched_x == [4] and al.unmatched_adv == [4, 5]
    ax = [0.5, 0.1, 0.2, 0.3, 0.9, 0.0]
    aa = [0.5, 0.1, 0.2, 0.3, 0.8, 0.7, 0.0]
    # top-1: x -> "airport" (4), x' -> "air" (4) which has no partner: no intersection
    assert topk_intersection(ax, aa, 1, al) == 0.0
    assert topk_intersection(ax, aa, 2, al) == 0.0  # {4, 0} vs x' {4, 5}: neither has a partner
    assert topk_intersection(ax, aa, 3, al) == pytest.approx(1 / 3)  # {4, 0, 3} vs x' {4, 5, 0} -> {0}
    assert aligned_kendall_tau(ax, aa, al) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        topk_intersection(ax, aa, 1)


def test_class_average_is_macro():
    # class 0: three pairs (1.0, 0.5, 0.0) -> 0.5; class 1: one pair (1.0) -> 1.0; NaN ignored
    values = [1.0, 0.5, 0.0, 1.0, float("nan")]
    labels = [0, 0, 0, 1, 2]
    assert class_averaged(values, labels) == pytest.approx(0.75)  # micro would be 0.625
    assert math.isnan(class_averaged([], []))


def test_rescore_by_magnitude_ignores_sign_flips():
    # pair 1 (class 0): a negative top word turns positive -> signed ranking changes, |a| does not
    # pair 2 (class 1): identical -> 1 either way; pair 3 (class 1, difflib-aligned): reversed |a|
    rows = [{"label": 0, "aligned_by_position": True, "ig": {"x": [-3.0, 2.0, 1.0, 0.5, 0.1, 0.0],
                                                               "adv": [3.0, 2.0, 1.0, 0.5, 0.1, 0.0]}},
            {"label": 1, "aligned_by_position": True, "ig": {"x": [1, 2, 3, 4, 5], "adv": [1, 2, 3, 4, 5]}},
            {"label": 1, "aligned_by_position": False, "alignment": [[0, 0], [1, 1], [2, 3]],
             "ig": {"x": [1.0, 2.0, 3.0], "adv": [3.0, 2.0, 9.9, 1.0]}}]
    signed = rescore_pairs(rows, absolute=False)
    mag = rescore_pairs(rows, absolute=True)
    tau1_signed = kendall_tau(rows[0]["ig"]["x"], rows[0]["ig"]["adv"])  # 1 - 2*5/15
    assert tau1_signed == pytest.approx(1 / 3)
    # class 1 = mean(1, -1) = 0 for tau; macro over classes 0 and 1
    assert signed["kendall_tau"] == pytest.approx((tau1_signed + 0.0) / 2)
    assert mag["kendall_tau"] == pytest.approx((1.0 + 0.0) / 2)
    # top-5 of pair 1: signed loses word 0 (last in x, first in x') -> 4/5; by magnitude 5/5.
    # pair 3, k' = 3: top of x = {0,1,2}; top of x' = adv positions 2 (unmatched), 0, 1 -> 2/3
    assert signed["topk_5"] == pytest.approx((0.8 + (1.0 + 2 / 3) / 2) / 2)
    assert mag["topk_5"] == pytest.approx((1.0 + (1.0 + 2 / 3) / 2) / 2)
    assert mag["n"] == 3 and rescore_pairs(rows, "lime")["n"] == 0


# ---------------------------------------------------------------- IG / LIME on real models



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is much faster (restored after)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


IG_TEXTS_N = 48
MASKED_HP = {"embedding": "glove50", "vocab_extra": 2000, "filters": 50, "widths": [3, 4, 5], "mask_hidden": 50,
             "max_len": 50, "batch_size": 64, "lr": 0.01, "epochs": 1, "dropout": 0.3}


@pytest.fixture(scope="module")
def trained_masked_cnn(trec):
    from conftest import train_cnn

    return train_cnn(trec, MASKED_HP, seed=2, mask=True)


@pytest.mark.parametrize("which", ["trained_cnn", "trained_masked_cnn"])
def test_ig_completeness_on_real_cnn(which, request, trec):
    from flatbench.interpret.ig import integrated_gradients

    bundle = request.getfixturevalue(which)
    texts = list(trec.test.texts[:IG_TEXTS_N])
    targets = [int(y) for y in trec.test.labels[:IG_TEXTS_N]]
    bundle.model.train()  # IG must switch to eval mode itself and restore the mode afterwards
    res = integrated_gradients(bundle, texts, targets, n_steps=50, batch_size=16)
    assert bundle.model.training
    bundle.model.eval()
    assert [r.target for r in res] == targets
    for t, r in zip(texts, res):
        assert r.words == bundle.tokenizer.align(t)[0]
        assert r.attributions.shape == (len(r.words),)
    # the logits IG integrates to are the model's eval logits of the text on its own
    single = np.stack([bundle.logits([t])[0] for t in texts[:8]])
    assert np.allclose(np.stack([r.logits for r in res[:8]]), single, atol=1e-4)
    # completeness: sum of word attributions = f(x)[t] - f(baseline)[t] up to the integration error.
    # Measured here (n_steps=50, Gauss-Legendre): mean |delta| ~ 5e-3, max ~ 3e-2 on logit spans of ~2-3.
    delta = np.array([r.attributions.sum() + r.special - (r.f_x - r.f_baseline) for r in res])
    assert np.allclose(delta, [r.delta for r in res], atol=1e-4)
    span = np.array([abs(r.f_x - r.f_baseline) for r in res])
    assert np.abs(delta).mean() < 0.01
    assert np.abs(delta).max() < 0.05
    assert np.mean(np.abs(delta) <= np.maximum(0.01, 0.05 * span)) >= 0.9
    # batch-independence: one text alone gets the same attributions as inside the batch
    alone = integrated_gradients(bundle, texts[:1], targets[:1], n_steps=50)[0]
    assert np.allclose(alone.attributions, res[0].attributions, atol=1e-5)


def test_lime_one_weight_per_word(trained_cnn, trec):
    from flatbench.interpret.lime import lime_explain

    text, label = trec.test.texts[7], int(trec.test.labels[7])  # "What is Australia 's national flower ?"
    r = lime_explain(trained_cnn, text, label, num_samples=300, seed=3, class_names=trec.label_names)
    words = trained_cnn.tokenizer.align(text)[0]
    assert r.words == words and r.weights.shape == (len(words),) and r.resplit_ok
    assert np.all(np.isfinite(r.weights)) and np.any(r.weights != 0)
    again = lime_explain(trained_cnn, text, label, num_samples=300, seed=3, class_names=trec.label_names)
    assert np.array_equal(r.weights, again.weights)  # seeded


# ---------------------------------------------------------------- the stage, end to end

# Real TREC test sentences, one word replaced by a hand-picked synonym (statuses made up).
RECORDS = [
    (0, "How far is it from Denver to Aspen ?", "How distant is it from Denver to Aspen ?", 1, "far", "distant",
     "succeeded"),
    (5, "How tall is the Sears Building ?", "How high is the Sears Building ?", 1, "tall", "high", "succeeded"),
    (17, "Who developed the vaccination against polio ?", "Who created the vaccination against polio ?", 1,
     "developed", "created", "succeeded"),
    (16, "What metal has the highest melting point ?", "What metal has the greatest melting point ?", 3,
     "highest", "greatest", "succeeded"),
    (28, "Where is John Wayne airport ?", "Where is John Wayne air terminal ?", 4, "airport", "air terminal", "failed"),
    (2, "Who was Galileo ?", "Who was Galileo ?", None, None, None, "skipped"),
]


def _write_records(d, trec):
    d.mkdir()
    with open(d / "records.jsonl", "w") as f:
        for idx, orig, adv, pos, w, s, status in RECORDS:
            assert trec.test.texts[idx] == orig
            y = int(trec.test.labels[idx])
            f.write(json.dumps({"idx": idx, "original": orig, "adversarial": adv, "label": y,
                                "orig_pred": y, "adv_pred": (y + 1) % 6 if status == "succeeded" else y,
                                "status": status, "queries": 10,
                                "replaced": [[pos, w, s]] if w else [], "perturbed_pct": 10.0}) + "\n")


def test_run_interpret_stage_end_to_end(trained_cnn, trec, tmp_path):
    from flatbench.cells import Cell
    from flatbench.interpret.plots import plot_topk_curves
    from flatbench.interpret.stage import run_interpret_stage
    from flatbench.stages import AttackStage, Context, InterpretStage, TrainStage

    model_dir, attack_dir = tmp_path / "model", tmp_path / "attack"
    model_dir.mkdir()
    trained_cnn.save(model_dir)
    _write_records(attack_dir, trec)
    hp = {"ig_steps": 50, "ig_baseline": "pad", "lime_samples": 200, "lime_pairs": 2, "interp_pairs": "succeeded"}
    cell = Cell("cnn", "trec", "base", None, 7, tuple(sorted(hp.items())))
    stage = InterpretStage(AttackStage.for_test(TrainStage(cell), "pwws"), hp)
    ctx = Context(cache=None, tracker=None, device="cpu")

    out = tmp_path / "out"
    out.mkdir()
    metrics, devs, extra = run_interpret_stage(stage, ctx, out, [model_dir, attack_dir])
    rows = [json.loads(line) for line in open(out / "pairs.jsonl")]
    assert metrics["n_pairs"] == 4 == len(rows) and metrics["n_records"] == 6
    assert [r["idx"] for r in rows] == [0, 5, 17, 16]
    for r in rows:
        assert len(r["ig"]["x"]) == len(r["words_x"]) and len(r["ig"]["adv"]) == len(r["words_adv"])
        assert len(r["changed"]) == 1 and r["aligned_by_position"]
        assert all(0.0 <= v <= 1.0 for v in r["ig"]["topk"])
    labels = [r["label"] for r in rows]
    taus = [r["ig"]["kendall_tau"] for r in rows]
    assert metrics["ig_kendall_tau"] == pytest.approx(class_averaged(taus, labels), abs=1e-5)
    for k in range(1, 11):
        assert metrics[f"ig_topk_{k}"] == pytest.approx(
            class_averaged([r["ig"]["topk"][k - 1] for r in rows], labels), abs=1e-5)
        assert 0.0 <= metrics[f"lime_topk_{k}"] <= 1.0
    assert sum("lime" in r for r in rows) == 2 == metrics["lime_pairs_explained"]
    # re-scoring the stored rows with the stage's (signed) ranking gives the stage's numbers
    re = rescore_pairs(rows, "ig", absolute=False)
    assert re["kendall_tau"] == pytest.approx(metrics["ig_kendall_tau"], abs=1e-5)
    assert re["topk_5"] == pytest.approx(metrics["ig_topk_5"], abs=1e-5)
    assert rescore_pairs(rows, "lime", absolute=False)["kendall_tau"] == pytest.approx(
        metrics["lime_kendall_tau"], abs=1e-5)
    assert -1.0 <= metrics["lime_kendall_tau"] <= 1.0
    assert metrics["ig_seconds_per_pair"] > 0 and metrics["lime_seconds_per_pair"] > 0
    assert metrics["ig_delta_mean"] < 0.05 and metrics["ig_flagged"] <= 4
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    assert devs == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["ig_baseline"] == "pad" and len(summary["lime_idx"]) == 2
    assert (out / "figures" / "pair_0.png").stat().st_size > 0 and (out / "figures" / "pair_0.html").is_file()

    # "attacked": the failed attack with a two-word substitute joins, aligned by difflib
    out2 = tmp_path / "out2"
    out2.mkdir()
    stage2 = InterpretStage(stage.attack, {**hp, "interp_pairs": "attacked", "lime_pairs": 0})
    m2, devs2, _ = run_interpret_stage(stage2, ctx, out2, [model_dir, attack_dir])
    assert m2["n_pairs"] == 5 and m2["n_length_mismatch"] == 1 and len(devs2) == 1
    assert math.isnan(m2["lime_kendall_tau"])

    png = plot_topk_curves([("cnn-base succeeded", metrics), ("cnn-base attacked", m2)], tmp_path / "topk.png")
    assert png.stat().st_size > 0
