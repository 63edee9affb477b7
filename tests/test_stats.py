"""flatbench.analysis.stats on real numbers: coverage by simulation, known values, exact cases."""

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as st

from flatbench.analysis.stats import (
    binomial_ci,
    bootstrap_ci,
    join_by_idx,
    macro_mean,
    mcnemar_exact,
    mean_sd,
    paired_permutation_test,
)


def test_no_torch_import():
    code = "import sys, flatbench.analysis.stats; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_clopper_pearson_known_values():
    lo, hi = binomial_ci(13, 300)
    # the Clopper-Pearson bounds are beta quantiles: Beta(k, n-k+1) at a/2, Beta(k+1, n-k) at 1-a/2
    assert lo == pytest.approx(st.beta.ppf(0.025, 13, 288), rel=1e-6)
    assert hi == pytest.approx(st.beta.ppf(0.975, 14, 287), rel=1e-6)
    assert (round(lo, 4), round(hi, 4)) == (0.0233, 0.0730)
    assert binomial_ci(0, 10)[0] == 0.0 and binomial_ci(10, 10)[1] == 1.0
    assert binomial_ci(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10))  # closed form at k = 0
    lo90, hi90 = binomial_ci(13, 300, level=0.90)
    assert lo < lo90 < 13 / 300 < hi90 < hi
    assert all(math.isnan(x) for x in binomial_ci(0, 0))


def test_macro_mean():
    # class 0: (1.0, 0.5, 0.0) -> 0.5; class 1: 1.0; class 2: only NaN -> does not count
    values = [1.0, 0.5, 0.0, 1.0, float("nan"), None]
    labels = [0, 0, 0, 1, 2, 2]
    assert macro_mean(values, labels) == pytest.approx(0.75)
    assert macro_mean(values) == pytest.approx(0.625)  # one class = plain mean of the finite values
    assert math.isnan(macro_mean([], []))
    assert math.isnan(macro_mean([float("nan")], [0]))


def test_bootstrap_ci_covers_at_nominal_rate():
    rng = np.random.default_rng(12345)
    p, n, sims, hits = 0.3, 200, 200, 0
    for s in range(sims):
        x = (rng.random(n) < p).astype(float)
        lo, hi = bootstrap_ci(x, n_boot=500, seed=s)
        hits += lo <= p <= hi
    assert 0.88 <= hits / sims <= 0.99


def test_bootstrap_ci_seeded_stratified_nan_dropped():
    rng = np.random.default_rng(0)
    v = np.r_[rng.normal(0.2, 0.1, 80), rng.normal(0.8, 0.1, 20)]
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    ci = bootstrap_ci(v, y, n_boot=1000, seed=3)
    assert ci == bootstrap_ci(v, y, n_boot=1000, seed=3)  # seeded
    assert ci[0] < macro_mean(v, y) < ci[1]
    assert 0.4 < ci[0] and ci[1] < 0.6  # macro mean ~0.5 (the micro mean would be ~0.32)
    with_nan = bootstrap_ci(np.r_[v, np.nan, np.nan], np.r_[y, 0, 1], n_boot=1000, seed=3)
    assert with_nan == ci
    assert bootstrap_ci([0.4, 0.4, 0.4], n_boot=100) == pytest.approx((0.4, 0.4))
    assert all(math.isnan(x) for x in bootstrap_ci([float("nan")], n_boot=10))


def test_mcnemar_exact():
    a = np.array([1, 0, 1, 1, 0, 1, 0, 0], bool)
    assert mcnemar_exact(a, a) == 1.0
    assert mcnemar_exact([], []) == 1.0
    # 20 discordant pairs all one way: p = 2 * 0.5**20
    a = np.r_[np.ones(20, bool), np.ones(30, bool), np.zeros(50, bool)]
    b = np.r_[np.zeros(20, bool), np.ones(30, bool), np.zeros(50, bool)]
    assert mcnemar_exact(a, b) == pytest.approx(2 * 0.5**20) and mcnemar_exact(a, b) < 0.05
    assert mcnemar_exact(b, a) == mcnemar_exact(a, b)
    # 6 vs 4 discordant: far from significant, equals the two-sided binomial p
    a = np.r_[np.ones(6, bool), np.zeros(4, bool)]
    assert mcnemar_exact(a, ~a) == pytest.approx(st.binomtest(6, 10, 0.5).pvalue)
    with pytest.raises(ValueError):
        mcnemar_exact([1, 0], [1])


def test_paired_permutation_test():
    rng = np.random.default_rng(7)
    a = rng.normal(size=300)
    y = rng.integers(0, 3, size=300)
    assert paired_permutation_test(a, a, y) == 1.0
    assert paired_permutation_test(a, a.copy()) == 1.0
    shifted = a - 0.3 + rng.normal(scale=0.2, size=300)
    p = paired_permutation_test(a, shifted, y, n_perm=2000, seed=1)
    assert p < 0.05 and p == pytest.approx(1 / 2001)
    assert p == paired_permutation_test(a, shifted, y, n_perm=2000, seed=1)  # seeded
    # pure noise: not significant
    assert paired_permutation_test(a, a + rng.normal(scale=0.5, size=300), y, n_perm=2000) > 0.05
    # small n: exact enumeration; 4 positive differences -> the 2 extreme of 16 sign patterns
    assert paired_permutation_test([1, 2, 3, 4], [0, 1, 2, 3]) == pytest.approx(2 / 16)
    # NaN in either side drops the pair
    assert paired_permutation_test([1, 2, 3, 4, np.nan], [0, 1, 2, 3, 9.0]) == pytest.approx(2 / 16)
    assert paired_permutation_test([1.0, None], [None, 2.0]) == 1.0


def test_join_by_idx_on_pairs_rows():
    rows_a = [{"idx": 3, "label": 1, "ig": {"kendall_tau": 0.5, "topk": [1.0, 0.5, None, 0.25, 0.2]}},
              {"idx": 1, "label": 0, "ig": {"kendall_tau": None, "topk": [0, 0, 0, 0, 0.4]}},
              {"idx": 7, "label": 2, "ig": {"kendall_tau": 0.1, "topk": [0, 0, 0, 0, 0.6]}}]
    rows_b = [{"idx": 1, "label": 0, "ig": {"kendall_tau": 0.3, "topk": [0, 0, 0, 0, 0.8]}},
              {"idx": 3, "label": 1, "ig": {"kendall_tau": 0.7, "topk": [0, 0, 0, 0, 1.0]}}]
    a, b, y = join_by_idx(rows_a, rows_b, "ig.kendall_tau")
    assert y.tolist() == [0, 1] and np.isnan(a[0]) and a[1] == 0.5 and b.tolist() == [0.3, 0.7]
    a, b, y = join_by_idx(rows_a, rows_b, "ig.topk.4")
    assert a.tolist() == [0.4, 0.2] and b.tolist() == [0.8, 1.0]
    a, _, _ = join_by_idx(rows_a, rows_b, lambda r: r["ig"]["topk"][4] * 10)
    assert a.tolist() == [4.0, 2.0]
    flat = [{"idx": 1, "label": 0, "robust": True}]
    assert join_by_idx(flat, flat, "robust")[0].tolist() == [1.0]
    with pytest.raises(ValueError):
        join_by_idx(rows_a, [{"idx": 1, "label": 5, "ig": {"kendall_tau": 0.1}}], "ig.kendall_tau")
    with pytest.raises(ValueError):
        join_by_idx(rows_a + rows_a[:1], rows_b, "ig.kendall_tau")


def test_mean_sd():
    m, s = mean_sd([0.70, 0.74, 0.72])
    assert m == pytest.approx(0.72) and s == pytest.approx(0.02)
    m, s = mean_sd([0.5])
    assert m == 0.5 and math.isnan(s)
    assert all(math.isnan(x) for x in mean_sd([]))
    assert mean_sd([1.0, float("nan"), 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
