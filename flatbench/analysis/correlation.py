"""Fig. 4 / Table 9: how FLAT's global importance phi relates to word frequency and to how
often a word is substituted by the attack (the paper studies LSTM-FLAT, Textfooler, SST2).

Reads only cached stages: the final FLAT model and the training-set attacks of its rounds."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from scipy import stats

from flatbench.data.text import tokenize
from flatbench.errors import FlatbenchError
from flatbench.models import ModelBundle
from flatbench.training.adversarial import read_records


def phi_table(bundle: ModelBundle, words: list[str]) -> np.ndarray:
    ids = torch.tensor([bundle.tokenizer.piece_ids(w)[0] for w in words], device=bundle.device)
    with torch.inference_mode():
        return bundle.model.word_phi(ids).float().cpu().numpy()


def correlate(model_dir, attack_dirs, train_texts, min_count: int = 1) -> dict:
    """Pearson and Spearman correlations of phi with log word frequency (train) and with
    log(1 + times substituted) over the rounds' successful attacks; the per-word table too."""
    bundle = ModelBundle.load(model_dir)
    if bundle.model.mask is None:
        raise FlatbenchError("correlate needs a FLAT model (one with word masks)")
    freq = Counter(t for text in train_texts for t in tokenize(text))
    subs, replaced = Counter(), Counter()
    for d in attack_dirs:
        for r in read_records(d):
            if r["status"] == "succeeded":
                for _, o, s in r["replaced"]:
                    subs[s.lower()] += 1
                    replaced[o.lower()] += 1
    words = [w for w, c in freq.items() if c >= min_count and w in bundle.tokenizer.vocab.stoi]
    phi = phi_table(bundle, words)
    f = np.log([freq[w] for w in words])
    sub = np.log1p([subs[w] for w in words])
    out = {"n_words": len(words), "n_substituted": int(sum(1 for w in words if subs[w]))}
    for name, x in (("freq", f), ("subst", sub)):
        out[f"pearson_{name}"] = float(stats.pearsonr(phi, x)[0])
        out[f"spearman_{name}"] = float(stats.spearmanr(phi, x)[0])
    order = np.argsort(-phi)
    out["top_words"] = [(words[i], float(phi[i])) for i in order[:15]]
    out["bottom_words"] = [(words[i], float(phi[i])) for i in order[-15:]]
    out["table"] = [{"word": w, "phi": float(p), "freq": freq[w], "substituted": subs[w], "replaced": replaced[w]}
                    for w, p in zip(words, phi)]
    return out
