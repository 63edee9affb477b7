"""safer: random word-substitution smoothing (Ye, Gong & Liu, "SAFER: A Structure-free Approach for
Certified Robustness to Adversarial Word Substitutions", ACL 2020).

Perturbation sets. The synonym graph links w and w' when the attack may swap one for the other: the
attacks' counter-fitted neighbour sets N(w) (`flatbench.attacks.synonyms`; SAFER: cos > 0.8 in a
PCA-processed 300-d counter-fitted space), made undirected. A word's perturbation set P(w) is its
connected component when that has at most ``safer_set_size`` words, else the ``safer_set_size``
words of the component nearest to w (cosine), w included (SAFER data_process.py
`get_perturbation_set`). Words outside the graph keep P(w) = {w}.

Training: every batch is replaced by one random perturbation, each word drawn uniformly from P(w)
(TextDefender trainer/safer.py, rep = 1). Model selection (the loop's clean dev accuracy) judges
the base classifier f.

Inference: the smoothed classifier g_c(x) = P_Z(f(Z) = c), Z = each word of x replaced by a
uniform draw from P(x_i), estimated with ``safer_votes`` draws (TextDefender's ensemble
wrapper). Its outputs are the vote shares; the attack queries exactly this model (the attack's
model wrapper and every prediction go through `inference`), as TextDefender attacks SAFER through
its ensemble wrapper. The draws for a text are seeded by a hash of the text alone, so a text's
prediction does not depend on its batch, on the attack's worker or on the query order.

Certificate (SAFER Theorem 1 and evaluation.py): for each word, tv(w) = min over w' linked to w of
|P(w) ∩ P(w')| / |P(w)| (1 inside a component of at most ``safer_set_size`` words); with the R
smallest tv of a text, Delta_R = 1 - prod tv. The example is certified against any swaps of R
words if p_y - p_b >= 2 (Delta_R + mc_error), p_y/p_b the vote shares of the gold and the best
other class over ``safer_cert_samples`` fresh draws (binary case: p_y - Delta_R >= 0.5 + mc_error,
SAFER's rule). Certified robust accuracy is the share certified with every word swappable
(R = all, as SAFER reports); the radius is the largest such R. The attack stage stores both beside
the empirical after-attack accuracy, on the same examples. IG explains the base classifier f (the
vote is not differentiable); LIME, evaluation and attacks see the smoothed classifier.

Defaults: ``safer_set_size`` 100 (SAFER run.sh/data_process.py ``perturbation_constraint``),
``safer_cert_samples`` 2000 and ``safer_mc_error`` 0.01 (SAFER evaluation.py ``num_random_sample``
and ``mc_error``), ``safer_votes`` 100 (TextDefender args.py ``ensemble_num``; SAFER gives no
empirical-attack setting), ``safer_vote`` = "votes" (SAFER's g is a vote; TextDefender's default
"logits" averages L2-normalised logits, here "probs" averages softmax probabilities).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import weakref

from flatbench.attacks.synonyms import HP as SYNONYM_HP
from flatbench.hparams import P, resolve

NAME = "safer"
USES_MASK = False
ADVERSARIAL = False  # no attack rounds: robustness comes from the smoothing
HP = {
    "safer_set_size": P(100, "int", "SAFER: most words in a perturbation set (SAFER run.sh: 100)", lo=1),
    "safer_votes": P(100, "int", "SAFER: random substitutions per prediction (TextDefender ensemble_num: 100)",
                     lo=1),
    "safer_vote": P("votes", "str", "SAFER: smoothed output = vote shares (SAFER's g) or mean softmax",
                    choices=("votes", "probs")),
    "safer_cert_samples": P(2000, "int", "SAFER: draws per certified example (SAFER evaluation.py: 2000)", lo=1),
    "safer_mc_error": P(0.01, "float", "SAFER: Monte Carlo error of the vote shares (SAFER evaluation.py: 0.01)",
                        lo=0, hi=1),
    **SYNONYM_HP,
}

_SALT = {"vote": b"flatbench-safer-vote", "cert": b"flatbench-safer-cert"}
_WORD = re.compile(r"[A-Za-z]+")


def text_seed(text: str, purpose: str = "vote") -> int:
    """The seed of a text's draws: a hash of the text alone (not of its batch, worker or order)."""
    return int.from_bytes(hashlib.sha256(_SALT[purpose] + b"\0" + text.encode("utf-8")).digest()[:8], "little")


# ------------------------------------------------------------------------------ perturbation sets

def perturbation_sets(space, set_size: int) -> tuple[dict, dict]:
    """(P, tv): P(w) as a tuple of words for every word of the synonym graph, tv(w) (SAFER's
    total-variation factor) for every such word; words outside the graph have neither."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sym = space.symmetric()
    words = sorted(sym)
    idx = {w: i for i, w in enumerate(words)}
    r = [idx[w] for w in words for _ in sym[w]]
    c = [idx[u] for w in words for u in sorted(sym[w])]
    adj = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(words), len(words)))
    n_comp, lab = connected_components(adj, directed=False)
    members: dict[int, list] = {}
    for w, k in zip(words, lab):
        members.setdefault(int(k), []).append(w)
    psets, big = {}, set()
    for comp in members.values():
        if len(comp) <= set_size:
            t = tuple(comp)
            for w in comp:
                psets[w] = t
            continue
        big.update(comp)
        vec = space.vectors[[space.index[w] for w in comp]]
        for s in range(0, len(comp), 1024):  # the set_size nearest words of the component, w first
            sims = vec[s : s + 1024] @ vec.T
            for i, row in enumerate(sims):
                order = np.lexsort((np.arange(len(comp)), -row))[:set_size]
                psets[comp[s + i]] = tuple(comp[j] for j in order)
    tv = {}
    for w in words:
        if w not in big:
            tv[w] = 1.0
            continue
        pw = set(psets[w])
        tv[w] = min(len(pw.intersection(psets[u])) / len(pw) for u in sym[w])
    return psets, tv


_SETS: dict = {}


def _sets(min_cos, k, set_size):
    from flatbench.attacks import synonyms

    space = synonyms.load(min_cos, k)
    key = (space.identity, space.min_cos, space.k, int(set_size))
    if key not in _SETS:
        _SETS.clear()
        _SETS[key] = (space, *perturbation_sets(space, int(set_size)))
    return _SETS[key]


def radius(p_gold: float, p_runner_up: float, tvs, mc_error: float) -> int:
    """SAFER's certificate: the most words R that may be swapped (any R of the text's words) with
    the gold class still certified, i.e. p_gold - p_runner_up >= 2 (Delta_R + mc_error) where
    Delta_R = 1 - (product of the R smallest tv); -1 when even R = 0 fails (not certifiably
    correct). Binary: p_gold - Delta_R >= 0.5 + mc_error, SAFER evaluation.py's rule."""
    margin = (p_gold - p_runner_up) / 2 - mc_error
    if margin < -1e-12:
        return -1
    prod, r = 1.0, 0
    for t in sorted(tvs):
        prod *= t
        if 1.0 - prod > margin + 1e-12:
            break
        r += 1
    return r


# ------------------------------------------------------------------------------ training

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def inference_config(hp, space) -> dict:
    return {"method": NAME, "votes": hp.safer_votes, "vote": hp.safer_vote, "set_size": hp.safer_set_size,
            "cert_samples": hp.safer_cert_samples, "mc_error": hp.safer_mc_error,
            "space": space.describe()}


def batch_loss(bundle, batch, hp):
    import torch

    from flatbench.attacks import synonyms
    from flatbench.training.objectives import cross_entropy

    hp = resolve(hp, HP)
    sig = (hp.synonym_min_cos, hp.synonym_k, hp.safer_set_size)
    hit = _TABLES.get(bundle.model)
    if hit is None or hit[0] != sig:
        space, psets, _ = _sets(hp.synonym_min_cos, hp.synonym_k, hp.safer_set_size)
        # ids as the model would see each drawn word (word models: <unk> outside the vocabulary;
        # subword models: one-piece words only, for training; inference perturbs the text)
        table, counts = synonyms.id_table(bundle.tokenizer, bundle.model.embedding.num_embeddings, psets, "unk")
        hit = _TABLES[bundle.model] = (sig, table.to(bundle.device), counts.to(bundle.device), space)
        # the model is a smoothed classifier from now on: its saved config says how (see inference)
        bundle.config["inference"] = inference_config(hp, space)
        line = space.deviation(NAME)
        if line not in bundle.deviations:
            bundle.deviations.append(line)
    _, table, counts, _ = hit
    ids = batch.ids
    pick = (torch.rand(ids.shape, device=ids.device) * counts[ids]).long()
    noisy = table[ids, pick]
    return cross_entropy(bundle.model(noisy), batch.y), {"safer_changed": float((noisy != ids).float().mean())}


# ------------------------------------------------------------------------------ inference

def inference(bundle, cfg: dict) -> "Smoothed":
    """The smoothed classifier of a loaded bundle (ModelBundle.load calls this)."""
    return Smoothed(bundle, cfg)


class Smoothed:
    """g(x): vote shares of the base classifier over seeded random substitutions of x."""

    def __init__(self, bundle, cfg: dict):
        from flatbench.errors import ResourceMissingError

        self.bundle, self.cfg = bundle, cfg
        sp = cfg["space"]
        space, self.psets, self.tv = _sets(sp["min_cos"], sp["k"], cfg["set_size"])
        if space.identity != sp["identity"]:
            raise ResourceMissingError(
                f"safer: this model was smoothed over counter-fitted space {sp['identity']!r}, but "
                f"{space.identity!r} is loaded now; prepare the same resources or retrain")
        self.word_level = bundle.tokenizer.kind == "word"
        self._cands: dict[str, object] = {}

    # draws ----------------------------------------------------------------------------
    def _units(self, text: str) -> list[str]:
        """The words that are perturbed (and certified): the model's own tokens for word models,
        the alphabetic words of the text otherwise."""
        if self.word_level:
            return self.bundle.tokenizer.tokens(text)
        return [m.group(0) for m in _WORD.finditer(text)]

    def _cand_ids(self, tok: str):
        import numpy as np

        c = self._cands.get(tok)
        if c is None:
            stoi = self.bundle.tokenizer.vocab.stoi
            c = self._cands[tok] = np.array([stoi.get(u, 1) for u in self.psets.get(tok, (tok,))], dtype=np.int64)
        return c

    def draws(self, text: str, n: int, purpose: str = "vote"):
        """(n, L) id tensor of n seeded random substitutions of ``text`` (word models), or the
        n perturbed texts (subword models)."""
        import numpy as np
        import torch

        rng = np.random.default_rng(text_seed(text, purpose))
        units = self._units(text)
        if self.word_level:
            cands = [self._cand_ids(t) for t in units]
            counts = np.array([len(c) for c in cands])
            u = rng.random((n, len(units)))
            pick = np.minimum((u * counts).astype(np.int64), counts - 1)
            width = counts.max()
            mat = np.zeros((len(units), width), dtype=np.int64)
            for i, c in enumerate(cands):
                mat[i, : len(c)] = c
            return torch.from_numpy(mat[np.arange(len(units)), pick])
        spans = [m for m in _WORD.finditer(text)]
        sets = [self.psets.get(m.group(0).lower(), (m.group(0),)) for m in spans]
        u = rng.random((n, len(spans)))
        out = []
        for row in u:
            parts, last = [], 0
            for m, s, x in zip(spans, sets, row):
                w = s[min(int(x * len(s)), len(s) - 1)]
                orig = m.group(0)
                if orig.isupper() and len(orig) > 1:
                    w = w.upper()
                elif orig[:1].isupper():
                    w = w[:1].upper() + w[1:]
                parts += [text[last : m.start()], w]
                last = m.end()
            out.append("".join(parts) + text[last:])
        return out

    # predictions ----------------------------------------------------------------------
    def _scores(self, texts, n: int, purpose: str, vote: str, batch_size: int = 2048):
        """(len(texts), C): per text, the vote counts (vote = "votes") or summed softmax."""
        import numpy as np
        import torch

        b = self.bundle
        n_classes = int(b.config["n_classes"])
        out = np.zeros((len(texts), n_classes), dtype=np.float64)
        was = b.model.training
        b.model.eval()
        per = max(1, batch_size // n)
        with torch.inference_mode():
            for s in range(0, len(texts), per):
                chunk = texts[s : s + per]
                if self.word_level:
                    rows = [self.draws(t, n, purpose) for t in chunk]
                    width = max(r.shape[1] for r in rows)
                    ids = torch.zeros(len(rows) * n, width, dtype=torch.long)
                    for i, r in enumerate(rows):
                        ids[i * n : (i + 1) * n, : r.shape[1]] = r
                else:
                    ids = b.tokenizer.batch([x for t in chunk for x in self.draws(t, n, purpose)])
                with getattr(b, "autocast", contextlib.nullcontext)():
                    logits = b.model(ids.to(b.device)).float()
                if vote == "votes":
                    pred = logits.argmax(1).view(len(chunk), n).cpu().numpy()
                    for i, p in enumerate(pred):
                        out[s + i] = np.bincount(p, minlength=n_classes)
                else:
                    out[s : s + len(chunk)] = torch.softmax(logits, 1).view(len(chunk), n, -1).sum(1).cpu().numpy()
        b.model.train(was)
        return out

    def probs(self, texts, batch_size: int = 2048):
        """g(x) for each text: vote shares (or mean softmax), rows sum to 1."""
        texts = [str(t) for t in texts]
        n = int(self.cfg["votes"])
        return self._scores(texts, n, "vote", self.cfg["vote"], batch_size) / n

    def log_probs(self, texts, batch_size: int = 2048):
        import numpy as np

        return np.log(np.clip(self.probs(texts, batch_size), 1e-6, None)).astype(np.float32)

    # certificate ----------------------------------------------------------------------
    def certify(self, texts, labels) -> list[dict]:
        """Per example: the gold and runner-up vote shares over fresh draws, whether it is
        certified with every word swappable (SAFER's certified accuracy) and the radius (the most
        swapped words certified; -1: not even the unperturbed text is certified)."""
        import numpy as np

        n, eps = int(self.cfg["cert_samples"]), float(self.cfg["mc_error"])
        counts = self._scores([str(t) for t in texts], n, "cert", "votes")
        out = []
        for text, y, row in zip(texts, labels, counts):
            p = row / n
            p_y = float(p[int(y)])
            p_b = float(np.delete(p, int(y)).max()) if len(p) > 1 else 0.0
            tvs = [self.tv.get(self._key(w), 1.0) for w in self._units(str(text))]
            r = radius(p_y, p_b, tvs, eps)
            out.append({"p_gold": p_y, "p_runner_up": p_b, "words": len(tvs),
                        "delta_all": 1.0 - float(np.prod(tvs)) if tvs else 0.0,
                        "radius": r, "certified": r == len(tvs)})
        return out

    def _key(self, w: str) -> str:
        return w if self.word_level else w.lower()
