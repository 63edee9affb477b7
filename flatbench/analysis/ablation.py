"""Table 5's mechanism checks, computed from the cached LSTM-FLAT models of each (beta, gamma):

- the distribution of the mask values phi (global word importance) over the vocabulary; the paper
  says that with beta = 0 "all masks are close to 1";
- Fig. 5 (Appendix D, not available to us): the L1 difference |phi(w) - phi(s)| between 1,000
  seeded random words w and 10 of their synonyms s each; the paper says it "varies more" (larger
  variance) with gamma = 0.

Synonyms are the 10 nearest neighbours of w in the counter-fitted space the attacks use
(`flatbench.attack_resources.counterfit.load_counterfitted()`: TextAttack's paragramcf where it is cached,
else the offline derived space), restricted to words in the model's vocabulary (a word outside it
would be <unk> to the model). No cosine bound is applied; the words' neighbours are the same for
every variant (the variants share one vocabulary).

phi of a word comes from its own embedding row alone (flatbench.models.masks), so it is a
per-vocabulary-word number read with `model.word_phi`.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from flatbench.analysis.stats import mcnemar_exact
from flatbench.report.plots import save_figure

PHI_THRESHOLDS = (0.1, 0.5, 0.9, 0.99)
N_WORDS, N_SYN, SEED, N_BOOT = 1000, 10, 0, 2000


def vocabulary_words(bundle) -> list[str]:
    """The model's vocabulary without <pad> / <unk>."""
    return list(bundle.tokenizer.vocab.itos[2:])


def word_phi(bundle, words: list[str]) -> np.ndarray:
    import torch

    stoi = bundle.tokenizer.vocab.stoi
    ids = torch.tensor([stoi[w] for w in words], device=bundle.device)
    with torch.inference_mode():
        return bundle.model.word_phi(ids).float().cpu().numpy()


def phi_summary(phi: np.ndarray) -> dict:
    """n, mean, sd, quantiles and the shares of phi above / below thresholds."""
    phi = np.asarray(phi, dtype=float)
    q = np.quantile(phi, [0.0, 0.05, 0.5, 0.95, 1.0])
    out = {"n": int(phi.size), "mean": float(phi.mean()), "sd": float(phi.std(ddof=1)) if phi.size > 1 else float("nan"),
           "min": float(q[0]), "q05": float(q[1]), "median": float(q[2]), "q95": float(q[3]), "max": float(q[4])}
    for t in PHI_THRESHOLDS:
        out[f"share_ge_{t:g}"] = float(np.mean(phi >= t))
    out["share_le_0.1"] = float(np.mean(phi <= 0.1))
    return out


def synonym_sets(vocab: list[str], pool: list[str], n_words: int = N_WORDS, k: int = N_SYN,
                 seed: int = SEED, emb=None) -> tuple[list[tuple[str, list[str]]], str]:
    """(word, its k nearest counter-fitted neighbours in ``vocab``) for up to ``n_words`` words drawn
    in a seeded random order from ``pool`` (words in the counter-fitted space with k such
    neighbours among their 50 nearest); and the space's name."""
    if emb is None:
        from flatbench.attack_resources.counterfit import load_counterfitted

        emb = load_counterfitted()
    in_vocab = set(vocab)
    cands = sorted({w for w in pool if w in in_vocab})
    random.Random(seed).shuffle(cands)
    out = []
    for w in cands:
        try:
            i = emb.word2index(w)
        except KeyError:
            continue
        nn = [emb.index2word(int(j)) for j in emb.nearest_neighbours(i, 50)]
        syn = [s for s in nn if s != w and s in in_vocab][:k]
        if len(syn) == k:
            out.append((w, syn))
            if len(out) == n_words:
                break
    return out, getattr(emb, "flatbench_source", "counterfitted")


def synonym_l1(bundle, sets: list[tuple[str, list[str]]]) -> np.ndarray:
    """|phi(w) - phi(s)| as an (n_words, k) array."""
    if not sets:
        return np.zeros((0, 0))
    words = [w for w, _ in sets]
    syn = [s for _, ss in sets for s in ss]
    pw = word_phi(bundle, words)
    ps = word_phi(bundle, syn).reshape(len(sets), -1)
    return np.abs(pw[:, None] - ps)


def l1_summary(l1: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Mean and variance of the L1 differences (all word-synonym pairs), each with a 95 % CI from a
    seeded bootstrap over the sampled words (a word's 10 pairs stay together)."""
    flat = l1.reshape(-1)
    out = {"pairs": int(flat.size), "words": int(l1.shape[0]), "mean": float(flat.mean()),
           "var": float(flat.var(ddof=1)), "sd": float(flat.std(ddof=1)), "median": float(np.median(flat)),
           "q95": float(np.quantile(flat, 0.95))}
    rng = np.random.default_rng(seed)
    means, vars_ = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        s = l1[rng.integers(0, l1.shape[0], l1.shape[0])].reshape(-1)
        means[b], vars_[b] = s.mean(), s.var(ddof=1)
    out["mean_lo"], out["mean_hi"] = (float(x) for x in np.quantile(means, [0.025, 0.975]))
    out["var_lo"], out["var_hi"] = (float(x) for x in np.quantile(vars_, [0.025, 0.975]))
    return out


def variance_diff(l1_a: np.ndarray, l1_b: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """var(l1_a) - var(l1_b) over the same sampled words, with a paired bootstrap of the words (both
    variants resampled together): the 95 % percentile CI and the two-sided
    p = 2 * min(P(diff <= 0), P(diff >= 0))."""
    rng = np.random.default_rng(seed)
    n = l1_a.shape[0]
    d = np.empty(n_boot)
    for b in range(n_boot):
        ix = rng.integers(0, n, n)
        d[b] = l1_a[ix].reshape(-1).var(ddof=1) - l1_b[ix].reshape(-1).var(ddof=1)
    lo, hi = np.quantile(d, [0.025, 0.975])
    return {"a": float(l1_a.reshape(-1).var(ddof=1)), "b": float(l1_b.reshape(-1).var(ddof=1)),
            "lo": float(lo), "hi": float(hi), "n": int(n),
            "p": float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))}


def variance_test(l1_a: np.ndarray, l1_b: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> float:
    """Two-sided p of "the L1 variances differ" (see `variance_diff`)."""
    return variance_diff(l1_a, l1_b, n_boot, seed)["p"]


def mechanism(model_dirs: dict[str, Path], train_texts: list[str], test=None, *, n_words: int = N_WORDS,
              k: int = N_SYN, seed: int = SEED, reference: str | None = None) -> dict:
    """Per variant label: phi summary over the vocabulary and over the training words, synonym-L1
    summary, and (with ``test``) per-example clean correctness; paired tests against
    ``reference`` (clean accuracy: exact McNemar; L1 variance: paired bootstrap)."""
    from flatbench.data.text import tokenize
    from flatbench.models.bundle import ModelBundle

    out = {"variants": {}, "phi": {}, "l1": {}, "synonym_space": None, "n_words": 0, "k": k}
    sets = None
    train_words = sorted({t for text in train_texts for t in tokenize(text)})
    correct = {}
    for label, d in model_dirs.items():
        bundle = ModelBundle.load(d)
        if bundle.model.mask is None:
            continue
        vocab = vocabulary_words(bundle)
        if sets is None:
            sets, space = synonym_sets(vocab, train_words, n_words, k, seed)
            out["synonym_space"], out["n_words"] = space, len(sets)
            out["examples"] = sets[:5]
        phi = word_phi(bundle, vocab)
        in_train = set(train_words)
        phi_train = phi[[i for i, w in enumerate(vocab) if w in in_train]]
        l1 = synonym_l1(bundle, sets)
        v = {"phi_vocab": phi_summary(phi), "phi_train": phi_summary(phi_train), "l1": l1_summary(l1)}
        out["phi"][label], out["l1"][label] = phi, l1
        if test is not None:
            pred = bundle.predict(list(test.texts))
            correct[label] = pred == np.asarray(test.labels)
            v["clean_acc"] = float(100 * correct[label].mean())
        out["variants"][label] = v
    if reference in out["variants"]:
        for label, v in out["variants"].items():
            if label == reference:
                continue
            if label in correct:
                v["clean_p_ref"] = mcnemar_exact(correct[reference], correct[label])
            v["l1_var_p_ref"] = variance_test(out["l1"][reference], out["l1"][label])
    return out


def grid_mechanism(grid, ctx, n_words: int = N_WORDS, keep=None,
                   with_test: bool = True) -> tuple[dict | None, str | None]:
    """(`mechanism` over the cached final models of a Table 5 grid's variants, the (0.1, 0.001)
    reference variant); (None, reference) when no final model is cached. ``keep(cell)``: only
    those variants; ``with_test=False``: skip the clean-accuracy check on the test split."""
    from flatbench.data.splits import data_for
    from flatbench.stages import bind_data, final_train_stage

    dirs, ds, train = {}, None, None
    for c in grid.cells:
        if keep is not None and not keep(c):
            continue
        c = bind_data(c, ctx.data_dir)
        final = final_train_stage(c)
        if ctx.cache.done(final.kind, final.key):
            dirs[c.variant or c.id] = ctx.cache.dir(final.kind, final.key)
            ds, train, _ = data_for(c, ctx)
    ref = next((c.variant for c in grid.cells if c.hp.get("beta") == 0.1 and c.hp.get("gamma") == 0.001), None)
    mech = (mechanism(dirs, train.texts, ds.test if with_test else None, n_words=n_words, reference=ref)
            if dirs else None)
    return mech, ref


def plot_phi_histograms(phis: dict[str, np.ndarray], path, title: str = "") -> Path:
    """One histogram of phi over the vocabulary per variant (Table 5's mask check)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(phis))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), sharey=True, squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, (label, phi) in zip(axes[0], phis.items()):
        ax.hist(phi, bins=bins, color="#4477aa")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("φ (mask keep-probability)")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("vocabulary words (log)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_synonym_l1(l1s: dict[str, np.ndarray], path, title: str = "") -> Path:
    """Fig. 5-style: the distribution of |phi(w) - phi(synonym)| per variant (box plot) and, per
    sampled word, the mean over its synonyms (points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(l1s)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    data = [l1s[lab].reshape(-1) for lab in labels]
    axes[0].boxplot(data, showfliers=True, flierprops={"markersize": 2})
    short = [lab.replace("beta=", "β=").replace(",gamma=", "\nγ=") for lab in labels]
    axes[0].set_xticks(range(1, len(labels) + 1), short, fontsize=8)
    axes[0].set_ylabel("|φ(w) − φ(synonym)|")
    axes[0].set_title("all word–synonym pairs", fontsize=9)
    for i, lab in enumerate(labels):
        y = l1s[lab]
        axes[1].scatter(np.arange(y.shape[0]), y.mean(1) if y.size else [], s=2, label=short[i], alpha=0.5)
    axes[1].set_xlabel("sampled word")
    axes[1].set_ylabel("mean over its 10 synonyms")
    axes[1].legend(fontsize=7, markerscale=4)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
