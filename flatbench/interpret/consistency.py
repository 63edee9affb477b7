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

Definitions (a short text earns nothing for free):
- Words without a model position (cut off by `max_len`: `tokenizer.align` lists them but no
  position of the row points to them; `unpositioned_words`) are dropped before ranking: the
  alignment is computed on all words, then every aligned pair (i, j) with i or j unpositioned
  and every unaligned unpositioned word is removed (`restrict`).
- KT = Kendall's tau-b (scipy.stats.kendalltau, variant "b") over the remaining aligned pairs;
  NaN ("degenerate") exactly where scipy gives NaN: fewer than 2 aligned words or a constant
  vector on either side.
- TI@k = |top-k(x) ∩ top-k(x')| / k, top-k over all remaining words of each side (a word of x'
  without a partner in x never intersects), ties broken by position (earlier word first);
  defined only when at least k aligned words remain, otherwise NaN ("degenerate").
- Averages (`class_averaged`) skip NaN; callers count the NaN pairs (`n_degenerate_*`).
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy.stats import kendalltau as _scipy_kendalltau

KS = tuple(range(1, 11))


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (scipy.stats.kendalltau, variant="b") between two equally long vectors.

    NaN exactly where scipy gives NaN: fewer than 2 elements, a constant vector on either side,
    or a NaN in the input. No convention fills these in (a 1-word text is not "consistent")."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"kendall_tau needs two 1-d vectors of equal length, got {a.shape} and {b.shape}")
    if a.size < 2 or bool(np.all(a == a[0])) or bool(np.all(b == b[0])):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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


def unpositioned_words(pos2word: Sequence[int], n_words: int) -> list[int]:
    """Indices of the words (0..n_words-1) that no position of the model's row points to, given
    `tokenizer.align`'s pos2word (-1 = special token). For subword models these are the words cut
    off by max_len (their IG attribution is exactly 0 and LIME's weight is noise); word models
    truncate the word list itself, so the list is empty for them."""
    seen = {int(w) for w in pos2word if int(w) >= 0}
    return [w for w in range(int(n_words)) if w not in seen]


def _same_pairs(n_a: int, n_b: int, same) -> list[tuple[int, int]]:
    if same is None:
        if n_a != n_b:
            raise ValueError(f"vectors of different lengths ({n_a} vs {n_b}) need an alignment (`same`)")
        return [(i, i) for i in range(n_a)]
    if isinstance(same, Alignment):
        return same.pairs
    return [(int(i), int(j)) for i, j in same]


def restrict(a: Sequence[float], b: Sequence[float], same=None, drop_x: Iterable[int] = (),
             drop_adv: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Drop words without a model position from both sides: (a', b', pairs') re-indexed.

    Removed: the words in drop_x (of x) and drop_adv (of x'), and the partner of each of them
    (an aligned pair is kept only if both of its words are kept)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    pairs = _same_pairs(a.size, b.size, same)
    dx, da = {int(i) for i in drop_x}, {int(j) for j in drop_adv}
    if not dx and not da:
        return a, b, list(pairs)
    for i, j in pairs:
        if i in dx or j in da:
            dx.add(i)
            da.add(j)
    keep_x = [i for i in range(a.size) if i not in dx]
    keep_a = [j for j in range(b.size) if j not in da]
    new_x = {i: n for n, i in enumerate(keep_x)}
    new_a = {j: n for n, j in enumerate(keep_a)}
    return a[keep_x], b[keep_a], [(new_x[i], new_a[j]) for i, j in pairs if i in new_x]


def aligned_kendall_tau(a: Sequence[float], b: Sequence[float], same=None, drop_x: Iterable[int] = (),
                        drop_adv: Iterable[int] = ()) -> float:
    """KT over the aligned, positioned words only (NaN: fewer than 2 of them, or a constant side)."""
    a, b, pairs = restrict(a, b, same, drop_x, drop_adv)
    return kendall_tau(a[[i for i, _ in pairs]], b[[j for _, j in pairs]])


def topk_intersection(a: Sequence[float], b: Sequence[float], k: int, same=None, absolute: bool = False,
                      drop_x: Iterable[int] = (), drop_adv: Iterable[int] = ()) -> float:
    """TI@k = |top-k(x) ∩ top-k(x')| / k; NaN unless at least k aligned positioned words remain.

    a, b: word attributions of x and x'. same: None (equal lengths, position i of x is position i
    of x'), an `Alignment`, or a list of (i, j) pairs saying word i of x and word j of x' are the
    same word (a replaced word and its substitute are the same word). drop_x / drop_adv: words
    without a model position (see `restrict`). Top-k is taken over all remaining words of each
    side; a word of x' without a partner in x never intersects."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    a, b, pairs = restrict(a, b, same, drop_x, drop_adv)
    if len(pairs) < k:
        return float("nan")
    j2i = {j: i for i, j in pairs}
    top_a = set(topk_indices(a, k, absolute))
    top_b = {j2i[j] for j in topk_indices(b, k, absolute) if j in j2i}
    return len(top_a & top_b) / k


def pair_consistency(a: Sequence[float], b: Sequence[float], same=None, *, drop_x: Iterable[int] = (),
                     drop_adv: Iterable[int] = (), ks: Sequence[int] = KS, absolute: bool = False) -> dict:
    """{"kendall_tau": KT, "topk": [TI@k for k in ks]} of one pair (NaN where degenerate)."""
    a, b, pairs = restrict(a, b, same, drop_x, drop_adv)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return {"kendall_tau": aligned_kendall_tau(a, b, pairs),
            "topk": [topk_intersection(a, b, k, pairs) for k in ks]}


def _finite(v) -> bool:
    return v is not None and math.isfinite(float(v))


def n_degenerate(values: Sequence[float]) -> int:
    """How many values are undefined (NaN or None)."""
    return sum(1 for v in values if not _finite(v))


def class_breakdown(values: Sequence[float], labels: Sequence[int]) -> dict[int, tuple[float, int]]:
    """{label: (mean of the finite values of that class, number of finite values)}."""
    groups: dict[int, list[float]] = defaultdict(list)
    for v, y in zip(values, labels, strict=True):
        if _finite(v):
            groups[int(y)].append(float(v))
    return {y: (float(np.mean(vs)), len(vs)) for y, vs in sorted(groups.items())}


def class_averaged(values: Sequence[float], labels: Sequence[int]) -> float:
    """The paper's overall consistency: "we compute the interpretation consistency on
    corresponding labels and take the average over all classes as the overall consistency".

    Our reading: every pair (x, x') is explained toward its *gold* label (the label the attack
    tried to move the prediction away from; the same for x and x'), giving one value per pair
    (tau or top-k). Pairs are grouped by that gold label, the values are averaged within each
    class, and the result is the unweighted mean over the classes that have at least one pair
    (a macro average: a rare class weighs as much as a frequent one). NaN/None (degenerate)
    values are left out (and counted by the callers); with no finite value the result is NaN."""
    per = class_breakdown(values, labels)
    if not per:
        return float("nan")
    return float(np.mean([m for m, _ in per.values()]))


def row_positions(row: dict) -> tuple[list[int], list[int]]:
    """The words without a model position of a pairs.jsonl row (x, x'); none for old rows."""
    return list(row.get("no_position_x") or []), list(row.get("no_position_adv") or [])


def row_alignment(row: dict, n_x: int, n_adv: int):
    """The stored alignment of a pairs.jsonl row (None = position by position)."""
    if row.get("aligned_by_position", n_x == n_adv):
        return None
    return [tuple(q) for q in row.get("alignment", [])]


def rescore_pairs(rows: Sequence[dict], method: str = "ig", absolute: bool = True, k: int = 5,
                  statuses: Iterable[str] | None = None) -> dict:
    """Class-averaged KT and TI@k re-scored from the per-pair rows an interpret stage wrote
    (`pairs.jsonl`), e.g. with words ranked by |attribution|.

    The papers the FLAT paper cites for both metrics (Chen et al. 2019; Ghorbani et al. 2019) rank
    features by attribution magnitude; our primary ranking is signed (see the module docstring),
    so reports show both. Uses the stored alignment, gold labels, words without a model position
    and the same definitions and macro average. statuses: only rows of these attack statuses
    (e.g. {"succeeded"}); None = all. Returns kendall_tau, topk_<k>, n (pairs scored) and
    n_degenerate_kt / n_degenerate_ti (pairs whose KT / TI@k is undefined)."""
    keep = None if statuses is None else set(statuses)
    taus, tops, labels = [], [], []
    for r in rows:
        att = r.get(method)
        if not att or "x" not in att:
            continue
        if keep is not None and r.get("status") not in keep:
            continue
        a = np.asarray([np.nan if v is None else v for v in att["x"]], dtype=np.float64)
        b = np.asarray([np.nan if v is None else v for v in att["adv"]], dtype=np.float64)
        dx, da = row_positions(r)
        c = pair_consistency(a, b, row_alignment(r, a.size, b.size), drop_x=dx, drop_adv=da, ks=(k,),
                             absolute=absolute)
        taus.append(c["kendall_tau"])
        tops.append(c["topk"][0])
        labels.append(int(r["label"]))
    return {"kendall_tau": class_averaged(taus, labels), f"topk_{k}": class_averaged(tops, labels),
            "n": len(taus), "n_degenerate_kt": n_degenerate(taus), "n_degenerate_ti": n_degenerate(tops)}
