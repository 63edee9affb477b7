"""Batched LIME gives the reference's numbers bit for bit: `lime_explain_many` (what the interpret
stage runs) against `lime_explain` (LIME's own `explain_instance`, one text at a time), on tiny
CNNs and LSTMs trained on real TREC and SST2, on real test sentences and perturbed copies of them;
and the whole interpret stage, batched against the reference, writes the same bytes."""

import dataclasses
import json
import random

import numpy as np
import pytest
import torch

from flatbench.interpret.lime import lime_explain, lime_explain_many

HP = {"embedding": "glove50", "vocab_extra": 0, "hidden": 50, "mask_hidden": 16, "max_len": 30,
      "batch_size": 64, "lr": 0.005, "epochs": 1, "dropout": 0.3, "widths": [3, 4, 5]}
N_TRAIN = 1500
# CNN filters: 150 gives the linear layer rows of 450 floats, whose SIMD alignment alternates from
# row to row (the case where a row's logits depend on its index's parity on CPU); 50 gives 150 floats
FILTERS = {"trec": 150, "sst2": 50}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_DATA: dict = {}
_MODELS: dict = {}


def data(name, data_dir):
    if name not in _DATA:
        from flatbench.data import load_dataset

        ds = load_dataset(name, data_dir)
        idx = random.Random(0).sample(range(len(ds.train)), N_TRAIN)
        _DATA[name] = dataclasses.replace(ds, train=ds.train.subset(idx), dev=ds.dev.subset(range(100)))
    return _DATA[name]


def model(kind, name, data_dir):
    """A tiny real model of `kind` trained for one epoch on 1,500 real examples of `name`."""
    if (kind, name) not in _MODELS:
        import flatbench.methods.base as base
        from flatbench.registry import MODELS
        from flatbench.training.loop import Example, train

        ds = data(name, data_dir)
        hp = {**HP, "filters": FILTERS[name]}
        bundle = MODELS.get(kind).build(ds, hp, seed=3, mask=False)
        train(bundle, base, [Example(t, int(y)) for t, y in zip(ds.train.texts, ds.train.labels)], ds.dev, hp,
              seed=3)
        _MODELS[(kind, name)] = bundle
    return _MODELS[(kind, name)]


def perturbed(text: str, other: str, rng: random.Random) -> str:
    """`text` with one word replaced by a word of another real sentence (an attack-like pair)."""
    words, repl = text.split(), other.split()
    words[rng.randrange(len(words))] = repl[rng.randrange(len(repl))]
    return " ".join(words)


def texts_of(name, data_dir, n_pairs):
    """Real test sentences and perturbed copies, plus edge cases: one word, past max_len,
    clitics, out-of-vocabulary words, repeated words."""
    ds = data(name, data_dir)
    rng = random.Random(1)
    idx = rng.sample(range(len(ds.test)), n_pairs + 1)
    out = []
    for a, b in zip(idx, idx[1:]):
        t = ds.test.texts[a]
        out += [(t, int(ds.test.labels[a])), (perturbed(t, ds.test.texts[b], rng), int(ds.test.labels[a]))]
    long = " ".join(ds.test.texts[i] for i in idx[:6])  # cut at max_len
    out += [("Why ?", 0), (long, 1), ("I don't think it's what they'd've wanted , isn't it ?", 1),
            ("zxqv flurbish the the the quorple ?", 0)]
    return out


def same(a, b) -> bool:
    """Equal bits (a NaN score, R^2 of one sample, equals itself)."""
    bits = lambda r: (r.weights.tobytes(), np.float64(r.intercept).tobytes(), np.float64(r.score).tobytes())
    return a.words == b.words and a.label == b.label and a.resplit_ok == b.resplit_ok and bits(a) == bits(b)


CASES = [("cnn", "trec"), ("lstm", "trec"), ("cnn", "sst2"), ("lstm", "sst2")]


@pytest.mark.parametrize("kind,name", CASES)
def test_batched_lime_is_the_reference_bit_for_bit(kind, name, data_dir):
    bundle = model(kind, name, data_dir)
    items = texts_of(name, data_dir, 6)
    texts, labels = [t for t, _ in items], [y for _, y in items]
    seeds = [(13 * 1_000_003 + 2 * k) % 2**32 + (k % 2) for k in range(len(texts))]
    seeds[-1] = 2**32 - 1 + 1  # the stage's base_seed + 1 may pass 2**32 (wrapped, as the reference does)
    ref = [lime_explain(bundle, t, y, 1000, s) for t, y, s in zip(texts, labels, seeds)]
    assert all(np.any(r.weights != 0) for r in ref)
    # the stage's defaults (calls of one reference batch), merged calls of up to 16 batches across
    # texts, and small blocks
    for kw in ({}, {"rows_per_call": 4096}, {"rows_per_call": 700, "block_texts": 3}):
        new = lime_explain_many(bundle, texts, labels, seeds, 1000, **kw)
        assert [k for k, (a, b) in enumerate(zip(ref, new)) if not same(a, b)] == [], kw


@pytest.mark.parametrize("kind,name", [("cnn", "trec"), ("lstm", "sst2")])
def test_other_settings_and_the_string_path(kind, name, data_dir, monkeypatch):
    import flatbench.interpret.lime as lime_mod

    bundle = model(kind, name, data_dir)
    items = texts_of(name, data_dir, 3)
    texts, labels, seeds = [t for t, _ in items], [y for _, y in items], list(range(len(items)))
    for kw in ({"mask": "delete"}, {"num_samples": 300, "batch_size": 100}, {"num_samples": 257},
               {"num_samples": 1}, {"class_names": ["a", "b", "c", "d", "e", "f"][: bundle.config["n_classes"]]}):
        n = kw.get("num_samples", 400)
        ref_kw = {k: v for k, v in kw.items() if k != "num_samples"}
        ref = [lime_explain(bundle, t, y, n, s, **ref_kw) for t, y, s in zip(texts, labels, seeds)]
        new = lime_explain_many(bundle, texts, labels, seeds, n, rows_per_call=2048, **ref_kw)
        assert all(same(a, b) for a, b in zip(ref, new)), kw
    # texts the word fast path does not take (subword tokenizers, a method's inference): the sample
    # strings go through bundle.logits as in the reference
    monkeypatch.setattr(lime_mod, "_word_ids", lambda *a, **k: None)
    ref = [lime_explain(bundle, t, y, 400, s) for t, y, s in zip(texts, labels, seeds)]
    assert all(same(a, b) for a, b in zip(ref, lime_explain_many(bundle, texts, labels, seeds, 400)))


def test_sampling_and_distances_are_limes_own():
    """The sampler and distance of `lime_explain_many` against LIME's private neighbourhood code."""
    from lime.lime_text import IndexedString, LimeTextExplainer

    from flatbench.interpret.lime import _distances, _sample

    for d, seed, n in ((1, 0, 50), (2, 5, 300), (7, 11, 1000), (30, 2**32 - 1, 500)):
        text = " ".join(f"w{i}" for i in range(d))
        a = LimeTextExplainer(split_expression=" ", bow=False, random_state=seed)
        b = LimeTextExplainer(split_expression=" ", bow=False, random_state=seed)
        strings = []

        def fn(batch):
            strings.extend(batch)
            return np.zeros((len(batch), 2))

        ia = IndexedString(text, bow=False, split_expression=" ")
        data, _, dist = a._LimeTextExplainer__data_labels_distances(ia, fn, n)
        mine = _sample(b, IndexedString(text, bow=False, split_expression=" "), n)
        assert np.array_equal(data, mine) and data.dtype == mine.dtype
        assert np.array_equal(dist, _distances(mine))
        assert strings == [ia.raw_string()] + [ia.inverse_removing(np.flatnonzero(r == 0)) for r in mine[1:]]
        assert a.random_state.randint(0, 2**31) == b.random_state.randint(0, 2**31)  # same draws used


def test_interpret_stage_batched_writes_the_reference_bytes(data_dir, tmp_path):
    """The stage's outputs (pairs.jsonl with every IG and LIME attribution, summary.json) are the
    same bytes with batched LIME as with the reference, on real TREC pairs."""
    from flatbench.interpret.stage import interpret_pairs

    bundle = model("lstm", "trec", data_dir)
    items = texts_of("trec", data_dir, 12)[:24]
    records = [{"idx": k, "original": items[2 * k][0], "adversarial": items[2 * k + 1][0], "label": items[2 * k][1],
                "orig_pred": items[2 * k][1], "adv_pred": 0, "status": "succeeded" if k % 3 else "failed",
                "replaced": []} for k in range(12)]
    hp = {"lime_pairs": 10, "lime_samples": 300, "interp_figures": 0}
    outs = {}
    for batched in (False, True):
        out = tmp_path / str(batched)
        out.mkdir()
        metrics, deviations, extra = interpret_pairs(bundle, records, hp, seed=13, out=out, lime_batched=batched)
        assert metrics["lime_pairs_explained"] == 10 and metrics["n_pairs"] >= 10
        outs[batched] = {f: (out / f).read_bytes() for f in ("pairs.jsonl", "summary.json")}
    assert outs[True] == outs[False]
    rows = [json.loads(line) for line in outs[True]["pairs.jsonl"].decode().splitlines()]
    assert sum("lime" in r for r in rows) == 10
