"""Sentence encoders for TextFooler's USE constraint, compared on the same windows.

For 300 seeded SST2 dev sentences, one content word is swapped (a) for its nearest neighbour
in the counter-fitted space and (b) for a random vocabulary word; each encoder scores the
15-word window around the swap against the original's with TextAttack's own `_sim_score`
(angular similarity, as TextFooler), and we report the share passing TextFooler's 0.8408
threshold and the encoding time per 1,000 windows (one thread, batches of 50, cold caches).

    python benchmarks/encoder_compare.py [--n 300] [--out reports/encoders.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from flatbench.attack_resources import catalog as R

    R.ensure_nltk_env()
    from textattack.shared import AttackedText

    from flatbench.attack_resources.constraints import MiniLMEncoder, USEm3Encoder
    from flatbench.attack_resources.counterfit import load_counterfitted
    from flatbench.attacks.recipes.textfooler import STOPWORDS, USE_THRESHOLD
    from flatbench.data import load_dataset

    emb = load_counterfitted()
    rng = random.Random(a.seed)
    dev = load_dataset("sst2").dev
    texts = rng.sample(dev.texts, a.n)
    vocab = [emb.index2word(i) for i in range(min(20000, len(emb.embedding_matrix)))]
    pairs = {"nearest": [], "random": []}
    for t in texts:
        at = AttackedText(t)
        cand = [i for i, w in enumerate(at.words) if w.lower() not in STOPWORDS and
                _in(emb, w.lower())]
        if not cand:
            continue
        i = rng.choice(cand)
        w = at.words[i].lower()
        nn = emb.nearest_neighbours(emb.word2index(w), 1)
        pairs["nearest"].append((at, at.replace_word_at_index(i, emb.index2word(int(nn[0])))))
        pairs["random"].append((at, at.replace_word_at_index(i, rng.choice(vocab))))
    out = {"n_sentences": len(pairs["nearest"]), "threshold": USE_THRESHOLD, "window": 15}
    for name, cls in (("use-m3", USEm3Encoder), ("minilm", MiniLMEncoder)):
        c = cls(threshold=USE_THRESHOLD, metric="angular", window_size=15,
                skip_text_shorter_than_window=False, compare_against_original=False)
        c.encode(["warm up"])
        res = {}
        for kind, ps in pairs.items():
            scores = [float(c._sim_score(ref, t)) for ref, t in ps]
            res[f"pass_{kind}"] = round(float(np.mean(np.asarray(scores) >= USE_THRESHOLD)), 3)
            res[f"mean_sim_{kind}"] = round(float(np.mean(scores)), 4)
        windows = [" ".join(t.words[max(0, i - 7): i + 8]) for _, t in pairs["random"]
                   for i in list(t.attack_attrs["newly_modified_indices"])[:1]]
        windows = (windows * (1000 // max(1, len(windows)) + 1))[:1000]
        t0 = time.perf_counter()
        for s in range(0, len(windows), 50):
            c.encode(windows[s:s + 50])
        res["seconds_per_1000_windows"] = round(time.perf_counter() - t0, 2)
        out[name] = res
    print(json.dumps(out, indent=1))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


def _in(emb, w):
    try:
        emb.word2index(w)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    main()
