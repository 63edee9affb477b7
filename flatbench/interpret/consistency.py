"""Interpretation-consistency metrics between an original text x and its adversarial x'.

Words are identified by *position* among the model's words (`tokenizer.align`). For a
word-substitution attack x and x' have equally many model words and a replaced word and its
substitute sit at the same position, so they count as the same word (paper: "we treat synonyms
as the 'same' words"). When the counts differ, `align_words` pairs positions with difflib.

Ranking choice (documented, used everywhere unless `absolute=True`): words are ranked by their
*signed* attribution toward the pair's gold label, largest first. Reasons: (1) the explanations
are computed "on corresponding labels", i.e. as evidence *for* that label, and a word that pushes
strongly *against* the label is not one of the words the model relies on to predict it; (2) the
paper's Fig. 3 discussion reads polarity ("labeled them [bad/wicked] with opposite sentiment
polarities"), which an absolute ranking would hide; (3) Kendall's tau on the raw signed values is
the plain rank correlation of the two attribution vectors. `absolute=True` ranks by magnitude.

Ties in top-k are broken by position (earlier word first), so results are deterministic.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.stats import kendalltau as _scipy_kendalltau


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (scipy.stats.kendalltau) between two equally long attribution vectors.

    Defined where scipy gives NaN: if both vectors are constant (this includes length 0 and 1:
    every word tied in both rankings, so the rankings agree) the result is 1.0; if exactly one is
    constant the result is 0.0 (no association between an order and a total tie)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"kendall_tau needs two 1-d vectors of equal length, got {a.shape} and {b.shape}")
    const_a = a.size < 2 or bool(np.all(a == a[0]))
    const_b = b.size < 2 or bool(np.all(b == b[0]))
    if const_a and const_b:
        return 1.0
    if const_a or const_b:
        return 0.0
    return float(_scipy_kendalltau(a, b, variant="b").statistic)


def topk_indices(a: Sequence[float], k: int, absolute: bool = False) -> list[int]:
    """Positions of the k largest attributions (signed by default); ties -> earlier position."""
    v = np.asarray(a, dtype=np.float64)
    if absolute:
        v = np.abs(v)
    order = np.argsort(-v, kind="stable")
    return [int(i) for i in order[: max(0, min(k, v.size))]]


@dataclass
class Alignment:
    """Which word of x is which word of x'.

    pairs: (i, j) = word i of x and word j of x' are "the same word" (equal, or a substitution).
    identity: x and x' have equally many words and are aligned position by position.
    changed: pairs whose words differ (the substitutions seen at model-word level).
    unmatched_x / unmatched_adv: words of one side without a partner (insertions, deletions,
    or pieces of a replace block of unequal size)."""

    pairs: list[tuple[int, int]]
    identity: bool
    changed: list[tuple[int, int]] = field(default_factory=list)
    unmatched_x: list[int] = field(default_factory=list)
    unmatched_adv: list[int] = field(default_factory=list)


def align_words(words_x: Sequence[str], words_adv: Sequence[str]) -> Alignment:
    """Align the model words of x and x'.

    Equal counts: position by position (a word-substitution attack; a substitute counts as the
    word it replaced). Different counts: difflib.SequenceMatcher over the words; 'equal' blocks
    and 'replace' blocks of equal size are paired position by position (a replace block is a run
    of substitutions); words of unequal 'replace', 'insert' and 'delete' blocks stay unmatched."""
    wx, wa = list(words_x), list(words_adv)
    if len(wx) == len(wa):
        pairs = [(i, i) for i in range(len(wx))]
        return Alignment(pairs, True, [(i, i) for i in range(len(wx)) if wx[i] != wa[i]])
    pairs, changed, ux, ua = [], [], [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wx, wa, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for d in range(i2 - i1):
                pairs.append((i1 + d, j1 + d))
                if tag == "replace":
                    changed.append((i1 + d, j1 + d))
        else:
            ux += list(range(i1, i2))
            ua += list(range(j1, j2))
    return Alignment(pairs, False, changed, ux, ua)


def _same_pairs(n_a: int, n_b: int, same) -> list[tuple[int, int]]:
    if same is None:
        if n_a != n_b:
            raise ValueError(f"vectors of different lengths ({n_a} vs {n_b}) need an alignment (`same`)")
        return [(i, i) for i in range(n_a)]
    if isinstance(same, Alignment):
        return same.pairs
    return [(int(i), int(j)) for i, j in same]


def aligned_kendall_tau(a: Sequence[float], b: Sequence[float], same=None) -> float:
    """Kendall's tau over the aligned words only (all words for an identity alignment)."""
    pairs = _same_pairs(len(a), len(b), same)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return kendall_tau(a[[i for i, _ in pairs]], b[[j for _, j in pairs]])


def topk_intersection(a: Sequence[float], b: Sequence[float], k: int, same=None,
                      absolute: bool = False) -> float:
    """|top-k(x) ∩ top-k(x')| / k', k' = min(k, len(a), len(b)).

    a, b: word attributions of x and x'. same: None (equal lengths, position i of x is position i
    of x'), an `Alignment`, or a list of (i, j) pairs saying word i of x and word j of x' are the
    same word (a replaced word and its substitute are the same word). Top-k is taken over all
    words of each side; a word of x' without a partner in x never intersects."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    kk = min(k, len(a), len(b))
    if kk == 0:
        return float("nan")
    j2i = {j: i for i, j in _same_pairs(len(a), len(b), same)}
    top_a = set(topk_indices(a, kk, absolute))
    top_b = {j2i[j] for j in topk_indices(b, kk, absolute) if j in j2i}
    return len(top_a & top_b) / kk


def class_breakdown(values: Sequence[float], labels: Sequence[int]) -> dict[int, tuple[float, int]]:
    """{label: (mean of the finite values of that class, number of finite values)}."""
    groups: dict[int, list[float]] = defaultdict(list)
    for v, y in zip(values, labels, strict=True):
        if v is not None and math.isfinite(float(v)):
            groups[int(y)].append(float(v))
    return {y: (float(np.mean(vs)), len(vs)) for y, vs in sorted(groups.items())}


def class_averaged(values: Sequence[float], labels: Sequence[int]) -> float:
    """The paper's overall consistency: "we compute the interpretation consistency on
    corresponding labels and take the average over all classes as the overall consistency".

    Our reading: every pair (x, x') is explained toward its *gold* label (the label the attack
    tried to move the prediction away from; the same for x and x'), giving one value per pair
    (tau or top-k). Pairs are grouped by that gold label, the values are averaged within each
    class, and the result is the unweighted mean over the classes that have at least one pair
    (a macro average: a rare class weighs as much as a frequent one). NaN/None values are
    ignored; with no finite value at all the result is NaN."""
    per = class_breakdown(values, labels)
    if not per:
        return float("nan")
    return float(np.mean([m for m, _ in per.values()]))


def rescore_pairs(rows: Sequence[dict], method: str = "ig", absolute: bool = True, k: int = 5) -> dict:
    """Class-averaged Kendall's tau and top-k intersection re-scored from the per-pair rows an
    interpret stage wrote (`pairs.jsonl`), e.g. with words ranked by |attribution|.

    The papers the FLAT paper cites for both metrics (Chen et al. 2019; Ghorbani et al. 2019) rank
    features by attribution magnitude; our primary ranking is signed (see the module docstring),
    so reports show both. Uses the stored alignment, gold labels and the same macro average."""
    taus, tops, labels = [], [], []
    for r in rows:
        att = r.get(method)
        if not att or "x" not in att:
            continue
        a = np.asarray(att["x"], dtype=np.float64)
        b = np.asarray(att["adv"], dtype=np.float64)
        same = None if r.get("aligned_by_position", len(a) == len(b)) else [tuple(q) for q in r.get("alignment", [])]
        if absolute:
            a, b = np.abs(a), np.abs(b)
        taus.append(aligned_kendall_tau(a, b, same))
        tops.append(topk_intersection(a, b, k, same))  # NaN for an empty side
        labels.append(int(r["label"]))
    # class_averaged gives NaN when there is nothing to average
    return {"kendall_tau": class_averaged(taus, labels), f"topk_{k}": class_averaged(tops, labels), "n": len(taus)}
