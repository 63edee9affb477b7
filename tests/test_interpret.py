"""Interpretation consistency: metrics on hand-made vectors; IG / LIME / the interpret stage on
real CNNs trained briefly on real TREC."""

import json
import math
import warnings

import numpy as np
import pytest

from flatbench.interpret.consistency import (
    align_words,
    aligned_kendall_tau,
    class_averaged,
    kendall_tau,
    pair_consistency,
    rescore_pairs,
    restrict,
    topk_indices,
    topk_intersection,
    unpositioned_words,
)

NAN = float("nan")


def _same(x, y) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-12)


# ---------------------------------------------------------------- metrics on hand-made vectors


def test_identical_vectors_are_fully_consistent():
    a = [0.5, -0.2, 0.9, 0.1, 0.0]
    assert kendall_tau(a, a) == pytest.approx(1.0)
    for k in range(1, 6):
        assert topk_intersection(a, a, k) == 1.0
    for k in range(6, 11):  # fewer than k words: undefined, not a free 1.0
        assert math.isnan(topk_intersection(a, a, k))


def test_reversed_ranking_has_tau_minus_one():
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert kendall_tau(a, a[::-1]) == pytest.approx(-1.0)
    # top-2 of a = {4, 3}; of reversed = {0, 1}: no overlap
    assert topk_intersection(a, a[::-1], 2) == 0.0
    assert topk_intersection(a, a[::-1], 5) == 1.0  # everything is in the top-5 of 5 words


def test_short_text_earns_nothing_for_free():
    # a fully reversed 3-word ranking: KT is -1 and TI@5 is degenerate (the old min(k, n) made it 1.0)
    a, b = [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]
    c = pair_consistency(a, b)
    assert c["kendall_tau"] == pytest.approx(-1.0)
    assert c["topk"][:3] == [0.0, 0.5, 1.0] and all(math.isnan(v) for v in c["topk"][3:])
    # one word, or a constant side: KT undefined
    assert math.isnan(kendall_tau([0.3], [0.1])) and math.isnan(kendall_tau([], []))
    assert math.isnan(kendall_tau([0, 0, 0], [0, 0, 0]))
    assert math.isnan(kendall_tau([0, 0, 0], [1, 2, 3]))
    assert math.isnan(kendall_tau([1, 2, 3], [5, 5, 5]))
    assert math.isnan(pair_consistency([0.7], [0.2])["kendall_tau"])


def test_kendall_tau_matches_scipy_tau_b():
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    cases = [([], []), ([1.0], [2.0]), ([1, 1], [1, 2]), ([1, 2], [2, 1]), ([2, 2, 2], [1, 2, 3]),
             ([1, np.nan, 2], [1, 2, 3]), ([1, 2, 2, 3], [1, 1, 2, 3]), ([0.0, -1.0], [0.0, 1.0])]
    for n in (2, 3, 5, 8, 20, 40):
        for _ in range(10):
            # small integers: plenty of ties (tau-b's correction matters)
            cases.append((rng.integers(-3, 4, n).astype(float), rng.integers(-3, 4, n).astype(float)))
            cases.append((rng.normal(size=n), rng.normal(size=n)))
    n_nan = 0
    for a, b in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on samples of size < 2
            ref = float(kendalltau(np.asarray(a, float), np.asarray(b, float), variant="b").statistic)
        ours = kendall_tau(a, b)
        assert _same(ours, ref), (a, b, ours, ref)
        n_nan += math.isnan(ref)
    assert n_nan >= 6  # the NaN cases are really exercised


def _ref_topk(a, b, k, pairs=None):
    """Independent TI@k: plain sorted() with position tie-break; NaN unless >= k aligned words."""
    pairs = [(i, i) for i in range(len(a))] if pairs is None else pairs
    if len(pairs) < k:
        return NAN
    top_a = sorted(range(len(a)), key=lambda i: (-a[i], i))[:k]
    top_b = sorted(range(len(b)), key=lambda j: (-b[j], j))[:k]
    b_to_a = dict((j, i) for i, j in pairs)
    return len(set(top_a) & {b_to_a[j] for j in top_b if j in b_to_a}) / k


def test_topk_matches_an_independent_implementation():
    rng = np.random.default_rng(1)
    checked = 0
    for n in (1, 2, 3, 4, 5, 6, 9, 15, 30):
        for _ in range(15):
            a = rng.integers(-2, 3, n).astype(float).tolist()  # ties on purpose
            b = rng.integers(-2, 3, n).astype(float).tolist()
            for k in range(1, 11):
                assert _same(topk_intersection(a, b, k), _ref_topk(a, b, k)), (a, b, k)
                checked += 1
            # a difflib-style alignment: x' has one inserted word at position 0
            b2 = [9.0] + b
            pairs = [(i, i + 1) for i in range(n)]
            for k in range(1, 11):
                assert _same(topk_intersection(a, b2, k, pairs), _ref_topk(a, b2, k, pairs))
    assert checked == 9 * 15 * 10


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
    assert math.isnan(topk_intersection(ax, aa, 5, al))  # 4 words


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
    assert topk_intersection(ax, aa, 5, al) == pytest.approx(3 / 5)  # 5 aligned words: defined
    assert math.isnan(topk_intersection(ax, aa, 6, al))  # 6 words each side but only 5 aligned
    assert aligned_kendall_tau(ax, aa, al) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        topk_intersection(ax, aa, 1)


def test_words_without_a_position_are_dropped():
    # tokenizer.align of a subword model: [CLS] w0 w1 w1 w2 [SEP]; words 3 and 4 were cut off
    assert unpositioned_words([-1, 0, 1, 1, 2, -1], 5) == [3, 4]
    assert unpositioned_words([0, 1, 2], 3) == []
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=9), rng.normal(size=9)
    # x keeps 7 positioned words, x' only 6 (its substitute took more pieces): both drop to 6
    got = pair_consistency(a, b, drop_x=[7, 8], drop_adv=[6, 7, 8])
    want = pair_consistency(a[:6], b[:6])
    assert _same(got["kendall_tau"], want["kendall_tau"])
    assert all(_same(g, w) for g, w in zip(got["topk"], want["topk"]))
    assert all(math.isnan(v) for v in got["topk"][6:])
    # the dropped words would otherwise have attribution 0 and change the result
    a0, b0 = a.copy(), b.copy()
    a0[7:], b0[6:] = 0.0, 0.0
    assert not _same(pair_consistency(a0, b0)["kendall_tau"], want["kendall_tau"])
    # with a difflib alignment: the partner of a dropped word is dropped too, indices re-mapped
    ra, rb, pairs = restrict([1, 2, 3, 4], [1, 9, 2, 3, 4], [(0, 0), (1, 2), (2, 3), (3, 4)], drop_adv=[3])
    assert ra.tolist() == [1, 2, 4] and rb.tolist() == [1, 9, 2, 4] and pairs == [(0, 0), (1, 2), (2, 3)]
    # rescoring stored rows drops them as well
    row = {"label": 0, "aligned_by_position": True, "no_position_x": [7, 8], "no_position_adv": [6, 7, 8],
           "ig": {"x": a.tolist(), "adv": b.tolist()}}
    re = rescore_pairs([row], absolute=False)
    assert _same(re["kendall_tau"], want["kendall_tau"]) and _same(re["topk_5"], want["topk"][4])


def test_class_average_is_macro():
    # class 0: three pairs (1.0, 0.5, 0.0) -> 0.5; class 1: one pair (1.0) -> 1.0; NaN ignored
    values = [1.0, 0.5, 0.0, 1.0, float("nan")]
    labels = [0, 0, 0, 1, 2]
    assert class_averaged(values, labels) == pytest.approx(0.75)  # micro would be 0.625
    assert math.isnan(class_averaged([], []))


def test_rescore_by_magnitude_ignores_sign_flips():
    # pair 1 (class 0): a negative top word turns positive -> signed ranking changes, |a| does not
    # pair 2 (class 1): identical -> 1 either way; pair 3 (class 1, difflib-aligned): reversed |a|
    rows = [{"label": 0, "status": "succeeded", "aligned_by_position": True,
             "ig": {"x": [-3.0, 2.0, 1.0, 0.5, 0.1, 0.0], "adv": [3.0, 2.0, 1.0, 0.5, 0.1, 0.0]}},
            {"label": 1, "status": "failed", "aligned_by_position": True,
             "ig": {"x": [1, 2, 3, 4, 5], "adv": [1, 2, 3, 4, 5]}},
            {"label": 1, "status": "succeeded", "aligned_by_position": False, "alignment": [[0, 0], [1, 1], [2, 3]],
             "ig": {"x": [1.0, 2.0, 3.0], "adv": [3.0, 2.0, 9.9, 1.0]}}]
    signed = rescore_pairs(rows, absolute=False)
    mag = rescore_pairs(rows, absolute=True)
    tau1_signed = kendall_tau(rows[0]["ig"]["x"], rows[0]["ig"]["adv"])  # 1 - 2*5/15
    assert tau1_signed == pytest.approx(1 / 3)
    # class 1 = mean(1, -1) = 0 for tau; macro over classes 0 and 1
    assert signed["kendall_tau"] == pytest.approx((tau1_signed + 0.0) / 2)
    assert mag["kendall_tau"] == pytest.approx((1.0 + 0.0) / 2)
    # top-5 of pair 1: signed loses word 0 (last in x, first in x') -> 4/5; by magnitude 5/5.
    # pair 3 has only 3 aligned words: TI@5 degenerate, left out of class 1 and counted
    assert signed["topk_5"] == pytest.approx((0.8 + 1.0) / 2)
    assert mag["topk_5"] == pytest.approx((1.0 + 1.0) / 2)
    assert signed["n_degenerate_ti"] == 1 and signed["n_degenerate_kt"] == 0
    assert mag["n"] == 3 and rescore_pairs(rows, "lime")["n"] == 0
    succ = rescore_pairs(rows, absolute=False, statuses={"succeeded"})
    assert succ["n"] == 2 and succ["kendall_tau"] == pytest.approx((tau1_signed - 1.0) / 2)
    assert succ["topk_5"] == pytest.approx(0.8) and succ["n_degenerate_ti"] == 1


def test_pair_selection_rules():
    from flatbench.interpret.stage import DEFAULTS, pair_selection, select_pairs

    recs = [{"idx": 0, "status": "succeeded", "original": "a b", "adversarial": "a c"},
            {"idx": 1, "status": "failed", "original": "a b", "adversarial": "d b"},
            {"idx": 2, "status": "failed", "original": "a b", "adversarial": "a b"},  # no word changed
            {"idx": 3, "status": "skipped", "original": "a b", "adversarial": "a b"},
            {"idx": 4, "status": "skipped", "original": "a b", "adversarial": None},
            {"idx": 5, "status": "succeeded", "original": "e f", "adversarial": "e g"},
            {"idx": 6, "status": "weird", "original": "a b", "adversarial": "a x"}]
    assert DEFAULTS["interp_pairs"] == "paper"
    pairs, removed = pair_selection(recs)
    assert [p["idx"] for p in pairs] == [0, 1, 5] == [p["idx"] for p in select_pairs(recs)]
    assert removed == {"n_removed_skipped": 2, "n_removed_unchanged": 1, "n_removed_status": 1}
    pairs, removed = pair_selection(recs, "succeeded")
    assert [p["idx"] for p in pairs] == [0, 5] and removed["n_removed_status"] == 2
    assert removed["n_removed_skipped"] == 2 and removed["n_removed_unchanged"] == 1
    pairs, removed = pair_selection(recs, "attacked")
    assert [p["idx"] for p in pairs] == [0, 1, 5, 6] and removed["n_removed_status"] == 0
    from flatbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        pair_selection(recs, "all")


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
    (9, "What is autism ?", "What constitutes autism ?", 1, "is", "constitutes", "succeeded"),  # 4 words
    (28, "Where is John Wayne airport ?", "Where is John Wayne air terminal ?", 4, "airport", "air terminal", "failed"),
    (3, "What is an atom ?", "What is an atom ?", None, None, None, "failed"),  # the attack changed nothing
    (2, "Who was Galileo ?", "Who was Galileo ?", None, None, None, "skipped"),
]


def _write_records(d, trec, records=RECORDS):
    d.mkdir()
    with open(d / "records.jsonl", "w") as f:
        for idx, orig, adv, pos, w, s, status in records:
            assert trec.test.texts[idx] == orig
            y = int(trec.test.labels[idx])
            f.write(json.dumps({"idx": idx, "original": orig, "adversarial": adv, "label": y,
                                "orig_pred": y, "adv_pred": (y + 1) % 6 if status == "succeeded" else y,
                                "status": status, "queries": 10,
                                "replaced": [[pos, w, s]] if w else [], "perturbed_pct": 10.0}) + "\n")


def test_run_interpret_stage_end_to_end(trained_cnn, trec, tmp_path):
    from flatbench.cells import Cell
    from flatbench.report.plots import plot_topk_curves
    from flatbench.interpret.stage import run_interpret_stage
    from flatbench.stages import AttackStage, Context, InterpretStage, TrainStage

    model_dir, attack_dir = tmp_path / "model", tmp_path / "attack"
    model_dir.mkdir()
    trained_cnn.save(model_dir)
    _write_records(attack_dir, trec)
    hp = {"ig_steps": 50, "ig_baseline": "pad", "lime_samples": 200, "lime_pairs": 3}  # pairs: "paper" default
    cell = Cell("cnn", "trec", "base", None, 7, tuple(sorted(hp.items())))
    stage = InterpretStage(AttackStage.for_test(TrainStage(cell), "pwws"), hp)
    ctx = Context(cache=None, tracker=None, device="cpu")

    out = tmp_path / "out"
    out.mkdir()
    metrics, devs, extra = run_interpret_stage(stage, ctx, out, [model_dir, attack_dir])
    rows = [json.loads(line) for line in open(out / "pairs.jsonl")]
    # "paper": succeeded + failed-with-a-change; the skipped and the unchanged failed record removed
    assert metrics["n_pairs"] == 6 == len(rows) and metrics["n_records"] == 8
    assert metrics["n_removed_skipped"] == 1 and metrics["n_removed_unchanged"] == 1
    assert metrics["n_removed_status"] == 0
    assert metrics["n_pairs_succeeded"] == 5 and metrics["n_pairs_failed"] == 1
    assert [r["idx"] for r in rows] == [0, 5, 17, 16, 9, 28]
    assert extra["settings"]["interp_pairs"] == "paper"
    for r in rows:
        assert {"idx", "label", "status"} <= set(r) and len(r["ig"]["topk"]) == 10
        assert len(r["ig"]["x"]) == len(r["words_x"]) and len(r["ig"]["adv"]) == len(r["words_adv"])
        assert r["no_position_x"] == [] == r["no_position_adv"]  # word models list only what they see
        assert len(r["changed"]) == 1 or not r["aligned_by_position"]
        assert all(v is None or 0.0 <= v <= 1.0 for v in r["ig"]["topk"])
        n_aligned = len(r["words_x"]) if r["aligned_by_position"] else len(r["alignment"])
        assert [v is None for v in r["ig"]["topk"]] == [n_aligned < k for k in range(1, 11)]
    # the failed attack with a two-word substitute is aligned by difflib (a recorded deviation)
    assert metrics["n_length_mismatch"] == 1 and len(devs) == 1 and "difflib" in devs[0]
    # the 4-word text has no TI@5: left out of the average and counted
    assert metrics["ig_degenerate_ti"] == 1 == sum(r["ig"]["topk"][4] is None for r in rows)
    assert metrics["ig_degenerate_kt"] == sum(r["ig"]["kendall_tau"] is None for r in rows)
    labels = [r["label"] for r in rows]
    taus = [r["ig"]["kendall_tau"] for r in rows]
    # pairs.jsonl stores what the metrics were computed from: they re-aggregate exactly
    assert _same(metrics["ig_kendall_tau"], class_averaged(taus, labels))
    for k in range(1, 11):
        assert _same(metrics[f"ig_topk_{k}"], class_averaged([r["ig"]["topk"][k - 1] for r in rows], labels))
        assert 0.0 <= metrics[f"lime_topk_{k}"] <= 1.0 or math.isnan(metrics[f"lime_topk_{k}"])
    assert 0.0 <= metrics["ig_topk_5"] <= 1.0 and math.isnan(metrics["ig_topk_10"])  # TREC is short
    # the succeeded-only reading from the same attributions
    succ = [r for r in rows if r["status"] == "succeeded"]
    assert _same(metrics["ig_kendall_tau_succeeded"],
                 class_averaged([r["ig"]["kendall_tau"] for r in succ], [r["label"] for r in succ]))
    assert _same(metrics["ig_topk_5_succeeded"],
                 class_averaged([r["ig"]["topk"][4] for r in succ], [r["label"] for r in succ]))
    lime_rows = [r for r in rows if "lime" in r]
    assert len(lime_rows) == 3 == metrics["lime_pairs_explained"]
    assert metrics["lime_n_pairs_succeeded"] == sum(r["status"] == "succeeded" for r in lime_rows)
    assert metrics["lime_degenerate_ti"] == sum(r["lime"]["topk"][4] is None for r in lime_rows)
    # re-scoring the stored rows with the stage's (signed) ranking gives the stage's numbers
    re = rescore_pairs(rows, "ig", absolute=False)
    assert _same(re["kendall_tau"], metrics["ig_kendall_tau"]) and _same(re["topk_5"], metrics["ig_topk_5"])
    assert re["n_degenerate_ti"] == metrics["ig_degenerate_ti"] and re["n"] == 6
    re_s = rescore_pairs(rows, "ig", absolute=False, statuses={"succeeded"})
    assert _same(re_s["kendall_tau"], metrics["ig_kendall_tau_succeeded"])
    assert _same(rescore_pairs(rows, "lime", absolute=False)["kendall_tau"], metrics["lime_kendall_tau"])
    assert -1.0 <= metrics["lime_kendall_tau"] <= 1.0
    assert metrics["ig_seconds_per_pair"] > 0 and metrics["lime_seconds_per_pair"] > 0
    assert metrics["ig_delta_mean"] < 0.05 and metrics["ig_flagged"] <= 6
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["ig_baseline"] == "pad" and len(summary["lime_idx"]) == 3
    assert summary["metrics"]["n_removed_unchanged"] == 1
    assert (out / "figures" / "pair_0.png").stat().st_size > 0 and (out / "figures" / "pair_0.html").is_file()

    # "succeeded" (the old default): 5 pairs, and the same numbers as the succeeded-only reading above
    out2 = tmp_path / "out2"
    out2.mkdir()
    stage2 = InterpretStage(stage.attack, {**hp, "interp_pairs": "succeeded", "lime_pairs": 0,
                                           "interp_figures": 0})
    m2, devs2, _ = run_interpret_stage(stage2, ctx, out2, [model_dir, attack_dir])
    assert m2["n_pairs"] == 5 == m2["n_pairs_succeeded"] and m2["n_removed_status"] == 1
    assert m2["n_length_mismatch"] == 0 and devs2 == []
    assert m2["ig_kendall_tau"] == pytest.approx(metrics["ig_kendall_tau_succeeded"], abs=1e-5)
    assert m2["ig_topk_5"] == pytest.approx(metrics["ig_topk_5_succeeded"], abs=1e-5)
    assert m2["ig_degenerate_ti"] == metrics["ig_degenerate_ti_succeeded"] == 1
    assert math.isnan(m2["lime_kendall_tau"]) and m2["lime_degenerate_kt"] == 0

    png = plot_topk_curves([("cnn-base paper", metrics), ("cnn-base succeeded", m2)], tmp_path / "topk.png")
    assert png.stat().st_size > 0


def test_truncated_words_are_dropped_on_a_subword_model(trec, tmp_path):
    """A real (tiny, untrained) BERT with max_len 8 pieces: words past the cut have no position;
    their IG attribution is 0, they are stored per text and left out of KT/TI."""
    from flatbench.interpret.stage import interpret_pairs
    from flatbench.models.transformers import BERT

    bundle = BERT.build(trec, {"tiny": True, "max_len": 8}, seed=0, mask=False)
    recs = [{"idx": 0, "label": 5, "status": "succeeded", "original": "How far is it from Denver to Aspen ?",
             "adversarial": "How far is it from Denver to Vail ?"},  # the substitution is past the cut
            {"idx": 13, "label": 3, "status": "failed",
             "original": "Who was the first man to fly across the Pacific Ocean ?",
             "adversarial": "Who was the first person to fly across the Pacific Ocean ?"}]
    hp = {"ig_steps": 20, "lime_pairs": 2, "lime_samples": 100, "interp_figures": 0}
    metrics, _, _ = interpret_pairs(bundle, recs, hp, seed=0, out=tmp_path)
    rows = [json.loads(line) for line in open(tmp_path / "pairs.jsonl")]
    assert metrics["n_pairs"] == 2 == metrics["n_pairs_truncated"]
    for r, rec in zip(rows, recs):
        words, p2w = bundle.tokenizer.align(rec["original"])
        assert r["no_position_x"] == unpositioned_words(p2w, len(words)) != []
        m = len(words) - len(r["no_position_x"])
        assert r["no_position_x"] == list(range(m, len(words)))  # truncation cuts a suffix
        assert all(v == 0.0 for v in np.asarray(r["ig"]["x"])[r["no_position_x"]])  # IG: exactly 0
        m = min(m, len(r["words_adv"]) - len(r["no_position_adv"]))
        for method in ("ig", "lime"):
            a, b = np.asarray(r[method]["x"], float), np.asarray(r[method]["adv"], float)
            want = pair_consistency(a[:m], b[:m])  # scoring the truncated vectors
            got = [NAN if v is None else v for v in [r[method]["kendall_tau"]] + r[method]["topk"]]
            assert all(_same(g, w) for g, w in zip(got, [want["kendall_tau"]] + want["topk"])), (method, got, want)
            assert [v is None for v in r[method]["topk"]] == [m < k for k in range(1, 11)]
    re = rescore_pairs(rows, "ig", absolute=False)
    assert _same(re["kendall_tau"], metrics["ig_kendall_tau"]) and _same(re["topk_5"], metrics["ig_topk_5"])
    assert re["n_degenerate_ti"] == metrics["ig_degenerate_ti"]
