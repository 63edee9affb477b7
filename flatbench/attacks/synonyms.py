"""The counter-fitted neighbour sets the embedding attacks substitute from, for the defences that
work in the attack's own synonym space (SAFER's perturbation sets, ASCC's convex hulls).

TextFooler (and every ``WordSwapEmbedding`` recipe) may replace a word w by one of its
``max_candidates = 50`` nearest neighbours in the counter-fitted space whose cosine with w is at
least the embedding bound. `load` returns exactly that relation, N(w), over the space the attacks
load (`flatbench.attack_resources.counterfit`: TextAttack's paragramcf when cached, else the derived
GloVe-50d space), so a defence and the attack it is judged by share one definition of "synonym":

* bound (``synonym_min_cos``): none means the bound the cell's own TextFooler attack uses
  (`attack_bound`): the cell's ``attack_bounds`` option on its dataset, so by default the
  strength-matched bound (``flatbench/resources/strength_matched.json``: SST2 cos 0.75, TREC
  0.90), and TextFooler's published 0.5 whenever TextAttack's paragramcf is loaded. The cell's
  hyper-parameters carry the resolved number (`flatbench.settings.dataset_defaults`), so it is in
  the train stage's key and the model's config; ``eval_attack_bounds`` (strength curves) does not
  move it: a model is trained once, at the cell's strength. A number pins another bound. Used
  without a cell (no dataset), none is the space's F1 bound (cos 0.95 derived; 0.5 paragramcf);
* ``synonym_k``: TextFooler's ``max_candidates`` (50, the most ``nn.npy`` stores).

Words are the space's lower-case words; N(w) excludes w itself. Every defence that uses it records
`SynonymSpace.deviation()` and `SynonymSpace.identity` with its model. Torch-free; numpy is
imported when a space is loaded, never at import (planning imports this module for ``HP``).
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from flatbench.hparams import P

TEXTFOOLER_MAX_CANDIDATES = 50  # textattack 0.3.11 textfooler_jin_2019.py: WordSwapEmbedding(max_candidates=50)
TEXTFOOLER_MIN_COS = 0.5  # WordEmbeddingDistance(min_cos_sim=0.5): the bound published for paragramcf

# Declared by every method that reads the attack's synonym space (the same declaration each time).
HP = {
    "synonym_min_cos": P(None, "float", "cosine bound of the attack's synonym sets N(w) that SAFER/ASCC "
                         "defend against; none: the bound the cell's TextFooler attack uses (its "
                         "attack_bounds on its dataset: strength-matched by default, SST2 0.75, TREC 0.90; "
                         "0.5 on paragramcf); a number pins another", lo=-1, hi=1, none=True),
    "synonym_k": P(TEXTFOOLER_MAX_CANDIDATES, "int", "nearest neighbours per word N(w) is drawn from "
                   "(TextFooler's max_candidates: 50)", lo=1, hi=TEXTFOOLER_MAX_CANDIDATES),
}


@dataclass(eq=False)
class SynonymSpace:
    """N(w) of the attacks over one counter-fitted space. ``vectors`` holds unit rows for the
    words of ``index`` (every word that has or is a neighbour)."""

    source: str  # "derived" | "paragramcf"
    identity: str  # the resource identity attack keys hold (content hash, bounds)
    min_cos: float
    k: int
    neighbours: dict  # word -> tuple of neighbour words (cos >= min_cos among the k nearest)
    index: dict = field(repr=False)  # word -> row of `vectors`
    vectors: object = field(repr=False)  # np.ndarray (n, d), unit rows

    def symmetric(self) -> dict:
        """w -> the words w may be swapped with or for (N(w) ∪ {u: w ∈ N(u)}): an undirected graph."""
        out: dict[str, set] = {}
        for w, ns in self.neighbours.items():
            for u in ns:
                out.setdefault(w, set()).add(u)
                out.setdefault(u, set()).add(w)
        return out

    def describe(self) -> dict:
        """What a model records about the space it was trained or smoothed with."""
        n = [len(v) for v in self.neighbours.values()]
        return {"source": self.source, "identity": self.identity, "min_cos": self.min_cos, "k": self.k,
                "words_with_neighbours": len(n), "mean_neighbours": round(sum(n) / max(1, len(n)), 3)}

    def deviation(self, who: str) -> str:
        d = self.describe()
        space = ("TextAttack's paragramcf" if self.source == "paragramcf"
                 else "the derived GloVe-50d counter-fitted space (see `flatbench resources`)")
        return (f"{who}: synonym sets = the attacks' counter-fitted neighbour sets N(w) (the {self.k} nearest "
                f"neighbours with cos >= {self.min_cos:g}) of {space}, {d['words_with_neighbours']} words with "
                f"{d['mean_neighbours']} neighbours on average, instead of the original's "
                "counterfitted_neighbors.json / PCA-processed 300-d space")


def id_table(tokenizer, vocab_size: int, sets: dict, oov: str = "drop"):
    """Word sets as rows of a model's vocabulary, for defences that work on ids:
    (table (V, K) long, counts (V,) long). Row v of a word w that is one embedding row of the model
    lists the ids of sets[w] in order; its first counts[v] entries are valid, the rest repeat v.
    Every other id keeps only itself (count 1). Word models: a set word outside the vocabulary
    becomes <unk> (``oov = "unk"``: what the model sees from that word in a text) or is left out
    (``"drop"``). Subword models: only words that are a single known piece, on both sides."""
    import torch

    rows: dict[int, list[int]] = {}
    if tokenizer.kind == "word":
        stoi = tokenizer.vocab.stoi
        for w, ws in sets.items():
            if w in stoi:
                rows[stoi[w]] = [stoi.get(u, 1) for u in ws if oov == "unk" or u in stoi]
    else:
        unk = getattr(tokenizer.hf, "unk_token_id", None)

        def one(word):
            ids = tokenizer.piece_ids(word)
            return ids[0] if len(ids) == 1 and ids[0] != unk else None

        for w, ws in sets.items():
            i = one(w)
            if i is not None and i not in rows:
                rows[i] = [j for j in map(one, ws) if j is not None]
    rows = {i: r for i, r in rows.items() if r}
    width = max((len(r) for r in rows.values()), default=1)
    table = torch.arange(vocab_size).unsqueeze(1).repeat(1, width)
    counts = torch.ones(vocab_size, dtype=torch.long)
    for i, r in rows.items():
        table[i, : len(r)] = torch.tensor(r)
        counts[i] = len(r)
    return table, counts


def attack_bound(attack_bounds: str | None, dataset: str) -> tuple[float, str]:
    """(cos, how): the word-embedding cosine bound TextFooler uses in a cell whose attack option
    ``attack_bounds`` is this, on ``dataset`` (the rule of `recipes._common.embedding_bound`, whose
    stage resolves "matched" from the same shipped table). Torch-free; reads the strength table
    and, for the space-calibrated options, the counter-fitted space's ``meta.json``."""
    from flatbench.analysis.strength import matched_cos
    from flatbench.attacks.recipes._common import FIXED_BOUNDS

    option = attack_bounds or "matched"
    src = _source_kind()
    if src == "paragramcf" or option == "original":
        return TEXTFOOLER_MIN_COS, f"TextFooler's published bound (attack_bounds={option}, {src})"
    if option in FIXED_BOUNDS:
        return float(option[3:]), f"the cell's fixed TextFooler bound (attack_bounds={option})"
    if option == "matched":
        cos = matched_cos(dataset, "textfooler")
        if cos is not None:
            return cos, (f"the cell's strength-matched TextFooler bound for {dataset} (attack_bounds=matched, "
                         "flatbench/resources/strength_matched.json)")
    from flatbench.attack_resources.counterfit import read_meta

    kind = "bounds_youden" if option == "youden" else "bounds"
    cos = float(read_meta(Path(_source()[1]))[kind]["min_cos_sim"])
    what = "Youden" if option == "youden" else "F1"
    extra = " (no strength-matched bound for this dataset)" if option == "matched" else ""
    return cos, f"the cell's TextFooler bound, the space's {what} bound{extra} (attack_bounds={option})"


def _source_kind() -> str:
    """"paragramcf" when TextAttack's original space is loaded, else "derived" (also when the
    space is not prepared yet: offline preparation derives it)."""
    from flatbench.attack_resources import catalog as R

    return "paragramcf" if R.resource("counterfitted").status == "online-original" else "derived"


def default_bound() -> float:
    """The bound the attacks use on the loaded space when no option changes it."""
    src, path = _source()
    if src == "paragramcf":
        return TEXTFOOLER_MIN_COS
    from flatbench.attack_resources.counterfit import read_meta

    return float(read_meta(Path(path))["bounds"]["min_cos_sim"])


def _source() -> tuple[str, str]:
    from flatbench.attack_resources import catalog as R
    from flatbench.errors import ResourceMissingError

    r = R.resource("counterfitted")
    if r.status == "missing":
        raise ResourceMissingError("counter-fitted embedding missing: the synonym sets of SAFER/ASCC are the "
                                   "attacks' ones; run `flatbench resources prepare` (offline, ~1 min)")
    return ("paragramcf" if r.status == "online-original" else "derived"), str(r.path)


def load(min_cos: float | None = None, k: int = TEXTFOOLER_MAX_CANDIDATES) -> SynonymSpace:
    """N(w) for every word of the attacks' counter-fitted space (kept per process)."""
    from flatbench.attack_resources import catalog as R

    bound = default_bound() if min_cos is None else float(min_cos)
    return _load(bound, int(k), R.identity("counterfitted"))


@functools.lru_cache(maxsize=4)
def _load(min_cos: float, k: int, identity: str) -> SynonymSpace:
    import numpy as np

    src, path = _source()
    d = Path(path)
    if src == "paragramcf":  # TextAttack's files (WordEmbedding.counterfitted_GLOVE_embedding)
        emb = np.load(d / "paragram.npy")
        with open(d / "wordlist.pickle", "rb") as f:
            w2i = pickle.load(f)
        words = [None] * len(emb)
        for w, i in w2i.items():
            words[int(i)] = w
        nn = np.load(d / "nn.npy")
    else:
        emb = np.load(d / "embedding.npy")
        words = (d / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        nn = np.load(d / "nn.npy")
    emb = emb.astype(np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    cand = nn[:, 1 : k + 1].astype(np.int64)  # column 0 is the word itself (TextAttack's nn.npy layout)
    ok = np.zeros(cand.shape, dtype=bool)
    for s in range(0, len(cand), 4096):  # cosine of each word with its k nearest, in blocks
        c = cand[s : s + 4096]
        ok[s : s + 4096] = np.einsum("nd,nkd->nk", emb[s : s + 4096], emb[c]) >= min_cos - 1e-6
    neighbours, used = {}, set()
    for i in np.flatnonzero(ok.any(1)):
        w = words[i]
        ns = tuple(words[j] for j in cand[i][ok[i]] if words[j] != w)
        if w and ns:
            neighbours[w] = ns
            used.add(i)
            used.update(int(j) for j in cand[i][ok[i]])
    rows = sorted(used)
    index = {words[i]: n for n, i in enumerate(rows)}
    return SynonymSpace(src, identity, min_cos, k, neighbours, index, emb[rows])
