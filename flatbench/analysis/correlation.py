"""Fig. 4 / Table 9: how FLAT's global importance phi relates to word frequency and to how
often a word is substituted by the attack (the paper studies LSTM-FLAT, Textfooler, SST2).

Reads only cached stages: the final FLAT model and the training-set attacks of its rounds. It is the
body of the cached correlate stage (flatbench.analysis.stage); the report side renders its result
(flatbench.report.correlation, flatbench.report.plots.plot_fig4).

"Substitution frequency" (the paper's Fig. 4) is read as how often a word was *replaced* in the
successful adversarial examples of the rounds' training-set attacks ("the replaced words are not
based on their frequency"); how often a word was used *as* a substitute is the secondary reading.
Word frequency: occurrences in the training split. Correlations over the training words in the
model's vocabulary: Pearson on the raw counts (as the scatter plots show them) and on
log(count) / log(1 + count), and Spearman (rank, so the same either way), each with a 95 % CI by
Fisher's z (Spearman: the Bonett-Wright standard error sqrt((1 + r^2 / 2) / (n - 3)))."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from scipy import stats

from flatbench.data.text import tokenize
from flatbench.errors import FlatbenchError
from flatbench.models.bundle import ModelBundle
from flatbench.analysis.records import raw_records


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
    n_adv = 0
    for d in attack_dirs:
        for r in raw_records(d):
            if r["status"] == "succeeded":
                n_adv += 1
                for _, o, s in r["replaced"]:
                    subs[s.lower()] += 1
                    replaced[o.lower()] += 1
    words = [w for w, c in freq.items() if c >= min_count and w in bundle.tokenizer.vocab.stoi]
    phi = phi_table(bundle, words)
    f = np.log([freq[w] for w in words])
    sub = np.log1p([subs[w] for w in words])
    out = {"n_words": len(words), "n_substituted": int(sum(1 for w in words if subs[w]))}
    for name, x in (("freq", f), ("subst", sub)):
        const = len(x) < 3 or np.ptp(x) == 0 or np.ptp(phi) == 0
        out[f"pearson_{name}"] = float("nan") if const else float(stats.pearsonr(phi, x)[0])
        out[f"spearman_{name}"] = float("nan") if const else float(stats.spearmanr(phi, x)[0])
    order = np.argsort(-phi)
    out["top_words"] = [(words[i], float(phi[i])) for i in order[:15]]
    out["bottom_words"] = [(words[i], float(phi[i])) for i in order[-15:]]
    out["table"] = [{"word": w, "phi": float(p), "freq": freq[w], "substituted": subs[w], "replaced": replaced[w]}
                    for w, p in zip(words, phi)]
    out["n_replaced"] = int(sum(1 for w in words if replaced[w]))
    out["n_adversarial"] = int(n_adv)
    cols = {"phi": phi, "freq": np.array([freq[w] for w in words], float),
            "replaced": np.array([replaced[w] for w in words], float),
            "substituted": np.array([subs[w] for w in words], float)}
    out["correlations"] = [correlation_row(a, b, cols[a], cols[b]) for a, b in PAIRS]
    return out


# (x, y) of Fig. 4 (a), (b), (c), then the secondary "used as a substitute" reading
PAIRS = (("freq", "replaced"), ("freq", "phi"), ("replaced", "phi"), ("freq", "substituted"),
         ("substituted", "phi"))


def _log(name: str, v: np.ndarray) -> np.ndarray:
    return v if name == "phi" else (np.log(v) if name == "freq" else np.log1p(v))


def fisher_ci(r: float, n: int, se: float | None = None, level: float = 0.95) -> tuple[float, float]:
    """CI of a correlation by Fisher's z (se default 1 / sqrt(n - 3))."""
    if n <= 3 or not np.isfinite(r):
        return float("nan"), float("nan")
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    se = 1 / np.sqrt(n - 3) if se is None else se
    q = stats.norm.ppf(0.5 + level / 2)
    return float(np.tanh(z - q * se)), float(np.tanh(z + q * se))


def correlation_row(xname: str, yname: str, x: np.ndarray, y: np.ndarray) -> dict:
    """Pearson (raw and log), Spearman, each with its 95 % CI and p, for one pair of columns."""
    n = len(x)
    out = {"x": xname, "y": yname, "n": n}
    const = np.ptp(x) == 0 or np.ptp(y) == 0 if n else True
    for name, (a, b) in (("pearson", (x, y)), ("pearson_log", (_log(xname, x), _log(yname, y)))):
        r, p = (float("nan"), float("nan")) if const or n < 3 else (float(v) for v in stats.pearsonr(a, b))
        out[name], out[f"{name}_p"] = r, p
        out[f"{name}_lo"], out[f"{name}_hi"] = fisher_ci(r, n)
    r, p = (float("nan"), float("nan")) if const or n < 3 else (float(v) for v in stats.spearmanr(x, y))
    out["spearman"], out["spearman_p"] = r, p
    se = np.sqrt((1 + r * r / 2) / (n - 3)) if n > 3 and np.isfinite(r) else None
    out["spearman_lo"], out["spearman_hi"] = fisher_ci(r, n, se)
    return out
