"""Uncertainty for every reported number: confidence intervals, paired tests, seed aggregation.

numpy/scipy only (no torch), small pure functions:
- `binomial_ci`: exact Clopper-Pearson interval of a proportion (AA, success rate, accuracy).
- `macro_mean` / `bootstrap_ci`: the paper's class-macro average of per-pair values (KT, TI@k:
  "take the average over all classes") and its seeded, class-stratified percentile bootstrap.
- `mcnemar_exact`: paired exact test of two binary vectors on the same examples (AA of two
  methods: per example, attack failed = robust).
- `paired_permutation_test` / `join_by_idx`: paired sign-flip test of the class-macro mean
  difference of two methods on the same test examples (KT/TI from two pairs.jsonl files).
- `mean_sd`: across-seed mean and sample standard deviation.
NaN values are dropped (a degenerate pair has no value); callers report how many.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

_NAN2 = (float("nan"), float("nan"))
_CHUNK = 2_000_000  # elements per random block


def _clean(values, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Values as float (None -> NaN) and labels (None -> one class), NaN values dropped."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64).reshape(-1)
    y = np.zeros(v.size, dtype=np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if y.size != v.size:
        raise ValueError(f"{v.size} values but {y.size} labels")
    ok = np.isfinite(v)
    return v[ok], y[ok]


def _class_index(y: np.ndarray) -> list[np.ndarray]:
    """Positions of each class, classes in sorted order."""
    return [np.flatnonzero(y == c) for c in np.unique(y)]


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact Clopper-Pearson interval for k successes out of n; (nan, nan) for n == 0."""
    k, n = int(k), int(n)
    if n == 0:
        return _NAN2
    ci = _st.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def macro_mean(values: Sequence[float], labels: Sequence | None = None) -> float:
    """Mean over classes of the within-class mean of the finite values (NaN/None dropped); classes
    without a finite value do not count; NaN when nothing is left. labels None = one class."""
    v, y = _clean(values, labels)
    if v.size == 0:
        return float("nan")
    return float(np.mean([v[ix].mean() for ix in _class_index(y)]))


def bootstrap_ci(values: Sequence[float], labels: Sequence | None = None, *, n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Seeded percentile bootstrap CI of `macro_mean(values, labels)`.

    NaN values are dropped first; each replicate resamples the pairs of every class with
    replacement within that class (stratified: class counts kept), and the interval is the
    ((1-level)/2, (1+level)/2) quantiles of the replicates' macro means. (nan, nan) when no
    finite value is left."""
    v, y = _clean(values, labels)
    if v.size == 0:
        return _NAN2
    rng = np.random.default_rng(seed)
    groups = _class_index(y)
    reps = np.zeros(int(n_boot), dtype=np.float64)
    for ix in groups:
        vc = v[ix]
        block = max(1, _CHUNK // vc.size)  # bounded memory for large n (replicates in blocks)
        for s in range(0, int(n_boot), block):
            m = min(block, int(n_boot) - s)
            reps[s : s + m] += vc[rng.integers(0, vc.size, size=(m, vc.size))].mean(axis=1)
    reps /= len(groups)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> float:
    """Exact McNemar test: two-sided binomial test (p = 1/2) on the discordant pairs of two binary
    vectors over the same examples. 1.0 when there is no discordant pair."""
    a = np.asarray(correct_a).astype(bool).reshape(-1)
    b = np.asarray(correct_b).astype(bool).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"paired vectors of different lengths ({a.size} vs {b.size})")
    n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if n01 + n10 == 0:
        return 1.0
    return float(min(1.0, _st.binomtest(n01, n01 + n10, 0.5).pvalue))


def paired_permutation_test(a: Sequence[float], b: Sequence[float], labels: Sequence | None = None, *,
                            n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation test of macro_mean(a - b, labels) = 0.

    a, b, labels aligned by position (same example at the same index; see `join_by_idx`); pairs
    with NaN/None in a or b are dropped. Under H0 the sign of each pair's difference is
    exchangeable; the statistic is the class-macro mean difference. With 2**n <= n_perm all sign
    patterns are enumerated (exact p); otherwise p = (1 + #{|T*| >= |T|}) / (1 + n_perm) over
    n_perm seeded random sign vectors. Identical inputs (all differences 0) give p = 1.0."""
    a = np.asarray([np.nan if x is None else x for x in a], dtype=np.float64).reshape(-1)
    b = np.asarray([np.nan if x is None else x for x in b], dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"paired vectors of different lengths ({a.size} vs {b.size})")
    y = np.zeros(a.size, dtype=np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if y.size != a.size:
        raise ValueError(f"{a.size} pairs but {y.size} labels")
    ok = np.isfinite(a) & np.isfinite(b)
    d, y = a[ok] - b[ok], y[ok]
    if d.size == 0 or not np.any(d != 0):
        return 1.0
    # macro mean of d is linear in d: sum_i w_i with w_i = d_i / (n_class(i) * n_classes)
    groups = _class_index(y)
    w = np.empty_like(d)
    for ix in groups:
        w[ix] = d[ix] / (ix.size * len(groups))
    t_obs = abs(float(w.sum()))
    tol = 1e-12 * max(1.0, t_obs)
    n = d.size
    if n <= 20 and 2**n <= int(n_perm):
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        t = np.abs(signs @ w)
        return float(np.mean(t >= t_obs - tol))
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, max(1, min(int(n_perm), _CHUNK // n))
    while done < int(n_perm):
        m = min(chunk, int(n_perm) - done)
        signs = rng.integers(0, 2, size=(m, n), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ w) >= t_obs - tol))
        done += m
    return float((1 + hits) / (1 + int(n_perm)))


def _get(row: dict, key):
    if callable(key):
        return key(row)
    v = row
    for part in str(key).split("."):
        if v is None:
            return None
        v = v[int(part)] if isinstance(v, (list, tuple)) else v.get(part)
    return v


def join_by_idx(rows_a: Sequence[dict], rows_b: Sequence[dict],
                key: str | Callable[[dict], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align two methods' per-example rows (dicts with 'idx', 'label' and a value) on idx.

    key: a value key, a dotted path into nested dicts/lists (e.g. "ig.kendall_tau",
    "ig.topk.4" for TI@5 in pairs.jsonl rows), or a function of the row. Returns (a, b, labels)
    over the idx present in both, sorted by idx; a missing/None value becomes NaN (dropped by the
    tests). Raises ValueError on a duplicated idx or on labels that disagree."""
    def index(rows, side):
        out = {}
        for r in rows:
            i = int(r["idx"])
            if i in out:
                raise ValueError(f"idx {i} appears twice in rows_{side}")
            out[i] = r
        return out

    ia, ib = index(rows_a, "a"), index(rows_b, "b")
    common = sorted(set(ia) & set(ib))
    a, b, labels = [], [], []
    for i in common:
        ra, rb = ia[i], ib[i]
        if int(ra["label"]) != int(rb["label"]):
            raise ValueError(f"idx {i}: label {ra['label']} in rows_a but {rb['label']} in rows_b")
        va, vb = _get(ra, key), _get(rb, key)
        a.append(np.nan if va is None else float(va))
        b.append(np.nan if vb is None else float(vb))
        labels.append(int(ra["label"]))
    return (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
            np.asarray(labels, dtype=np.int64))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample sd with ddof=1) of the finite values, e.g. one number per seed; sd is NaN for
    a single value, both NaN for none."""
    v, _ = _clean(values)
    if v.size == 0:
        return _NAN2
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")
