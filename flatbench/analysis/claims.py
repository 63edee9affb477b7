"""The claims ledger: every claim the paper makes in Tables 3-5 and its text, decided on our
per-example results with an effect size, its 95 % CI, a test and a verdict.

A claim says "a > b" for a metric (after-attack accuracy AA, IG or LIME Kendall's tau KT,
top-5 intersection TI) in one (model, dataset, attack) cell, e.g. "FLAT > adv in AA for LSTM on
SST2 under Textfooler" (the paper's text: "FLAT consistently outperforms traditional adversarial
training", "base models ... achieving much lower after-attack accuracy", "the models (-FLAT)
outperform other baseline models (-adv and -base) with higher Kendall's Tau", the same for LIME
and for Table 4's unforeseen attacks). Verdicts, computed from the cache and never typed:

- **confirmed**: the test is significant (p < 0.05) and our effect a - b is positive;
- **refuted**: significant, in the other direction;
- **undecided**: not significant, or no data (the cell is missing from the cache: said so).

Effects are paired wherever both models were measured on the same examples (the same seeded
test examples are attacked for every method; several seeds are pooled by (seed, idx)):
AA: difference of robust shares in points, exact McNemar test, CI from a seeded paired
bootstrap over examples; IG KT/TI: difference of class-macro means of the per-pair values,
paired sign-flip permutation test, CI from a seeded class-stratified paired bootstrap. LIME runs
on a seeded random subset of each model's pairs, so two models share few pairs: its KT/TI are
compared unpaired (two-sample permutation test of the mean difference, independent bootstrap).
Torch-free: reads only what the stages cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from flatbench.analysis.records import (ALPHA, IDX_STRIDE, N_BOOT, N_PERM, _nan, read_pairs, read_records,
                                        seed_idx)
from flatbench.analysis.stats import bootstrap_ci, join_by_idx, macro_mean, mcnemar_exact, paired_permutation_test
from flatbench.registry import display_names

SEED = 0  # the claims' bootstrap / permutation seed

CONFIRMED, REFUTED, UNDECIDED = "confirmed", "refuted", "undecided"
PRETTY = display_names()  # the paper's spelling of every registered name (flatbench.registry)


@dataclass
class Claim:
    """One decided claim. ``effect`` = ours(a) - ours(b) in the metric's unit (AA in points)."""

    id: str
    source: str  # "Table 2", "Table 3", "Table 3 (LIME)", "Table 4", "Table 5", "Fig. 5", "Table 9"
    text: str
    paper: str  # the paper's numbers behind the claim ("17.76 vs 12.36"), or its words
    effect: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")
    test: str = ""
    p: float = float("nan")
    n: int = 0
    verdict: str = UNDECIDED
    ours: str = ""  # our two numbers
    note: str = ""  # why undecided for want of data, or what else to know
    deviations: list[str] = field(default_factory=list)
    paper_agrees: bool | None = None  # does the paper's own table show the claimed direction?
    # each seed decided on its own ({"seed", "effect", "p", "verdict"}), where several are pooled
    per_seed: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def verdict(effect: float, p: float, alpha: float = ALPHA) -> str:
    """confirmed / refuted / undecided from the effect's sign and the test's p."""
    if effect is None or p is None or not (math.isfinite(effect) and math.isfinite(p)):
        return UNDECIDED
    if p < alpha and effect > 0:
        return CONFIRMED
    if p < alpha and effect < 0:
        return REFUTED
    return UNDECIDED


# ----------------------------------------------------------------------------------------------
# effects from per-example rows


def aa_effect(recs_a: list[dict], recs_b: list[dict], *, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """AA(a) - AA(b) in points on the shared examples, its CI and the exact McNemar p."""
    a, b, _ = join_by_idx(recs_a, recs_b, "robust")
    if a.size == 0:
        return {"effect": float("nan"), "n": 0}
    d = 100.0 * (a - b)
    lo, hi = bootstrap_ci(d, None, n_boot=n_boot, seed=seed, level=1 - ALPHA)
    return {"effect": float(d.mean()), "lo": lo, "hi": hi, "p": mcnemar_exact(a > 0.5, b > 0.5),
            "n": int(a.size), "a": 100.0 * float(a.mean()), "b": 100.0 * float(b.mean()),
            "test": "exact McNemar (paired)"}


def consistency_effect(pairs_a: list[dict], pairs_b: list[dict], key: str, *, n_boot: int = N_BOOT,
                       n_perm: int = N_PERM, seed: int = SEED) -> dict:
    """Class-macro mean difference of a per-pair value (``key``: "kt" / "ti") on the shared pairs
    (``n_perm=0``: no test, p NaN)."""
    a, b, y = join_by_idx(pairs_a, pairs_b, key)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b, y = a[ok], b[ok], y[ok]
    if a.size == 0:
        return {"effect": float("nan"), "n": 0}
    d = a - b
    lo, hi = bootstrap_ci(d, y, n_boot=n_boot, seed=seed, level=1 - ALPHA)  # class-stratified
    return {"effect": macro_mean(d, y), "lo": lo, "hi": hi, "n": int(a.size),
            "p": paired_permutation_test(a, b, y, n_perm=n_perm, seed=seed) if n_perm else float("nan"),
            "a": macro_mean(a, y), "b": macro_mean(b, y), "test": "paired sign-flip permutation"}


def unpaired_effect(a: list[float], b: list[float], *, n_boot: int = N_BOOT, n_perm: int = N_PERM,
                    seed: int = SEED) -> dict:
    """Mean(a) - mean(b) of two independent samples: independent bootstrap CI, two-sample
    permutation p = (1 + #{|T*| >= |T|}) / (1 + n_perm)."""
    x = np.asarray([v for v in a if v is not None and math.isfinite(v)], dtype=float)
    z = np.asarray([v for v in b if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0 or z.size == 0:
        return {"effect": float("nan"), "n": int(x.size + z.size)}
    t = float(x.mean() - z.mean())
    rng = np.random.default_rng(seed)
    reps = (x[rng.integers(0, x.size, (n_boot, x.size))].mean(1)
            - z[rng.integers(0, z.size, (n_boot, z.size))].mean(1))
    lo, hi = np.quantile(reps, [ALPHA / 2, 1 - ALPHA / 2])
    pool = np.concatenate([x, z])
    hits = 0
    for _ in range(n_perm):
        perm = rng.permutation(pool)
        hits += abs(perm[: x.size].mean() - perm[x.size:].mean()) >= abs(t) - 1e-12
    return {"effect": t, "lo": float(lo), "hi": float(hi), "p": (1 + hits) / (1 + n_perm),
            "n": int(x.size + z.size), "a": float(x.mean()), "b": float(z.mean()),
            "test": "two-sample permutation (unpaired)"}


# ----------------------------------------------------------------------------------------------
# per-example rows of a group of result rows (several seeds pooled)


def pooled(rows: list[dict], reader) -> list[dict] | None:
    """The per-example rows of result rows (one per seed), idx made unique per seed; None when
    any seed's data is missing (a reader returning [] for a missing file skips that seed instead).
    A row without a seed counts as seed 0."""
    out = []
    for r in rows:
        data = reader(r)
        if data is None:
            return None
        out += seed_idx(data, 0 if _nan(r.get("seed")) else r["seed"])
    return out if rows else None


def lime_values(pairs: list[dict] | None, metric: str) -> list[float] | None:
    """The LIME KT (or TI@5) values of the pairs LIME explained (raw pairs.jsonl rows)."""
    if pairs is None:
        return None
    out = []
    for p in pairs:
        lime = p.get("lime")
        if not lime:
            continue
        v = lime.get("kendall_tau") if metric == "KT" else (lime.get("topk") or [None] * 5)[4]
        if v is not None:
            out.append(float(v))
    return out


def decide(claim: Claim, eff: dict) -> Claim:
    """Fill a claim's numbers and verdict from an effect dict (missing data: undecided + note)."""
    e = eff.get("effect", float("nan"))
    claim.effect, claim.n = e, int(eff.get("n", 0))
    claim.lo, claim.hi = eff.get("lo", float("nan")), eff.get("hi", float("nan"))
    claim.p, claim.test = eff.get("p", float("nan")), eff.get("test", claim.test)
    if "a" in eff:
        claim.ours = f"{eff['a']:.{2 if abs(eff['a']) > 1.5 else 3}f} vs {eff['b']:.{2 if abs(eff['b']) > 1.5 else 3}f}"
    claim.verdict = verdict(e, claim.p)
    if not math.isfinite(e) and not claim.note:
        claim.note = "no data: a cell is missing from the cache"
    return claim


def per_seed(xa: list[dict], xb: list[dict], effect) -> list[dict]:
    """Each shared seed's own effect, p and verdict, from the pooled per-example rows (`pooled`:
    idx = seed * IDX_STRIDE + idx; ``effect``: xa, xb -> effect dict), where they pool two or more
    seeds; [] otherwise. The pooled test treats the trained models as fixed, so it says nothing
    about training (seed) variance: a claim whose verdict every seed gives on its own is robust to it."""
    def by_seed(rows):
        out: dict[int, list[dict]] = {}
        for r in rows:
            out.setdefault(int(r["idx"]) // IDX_STRIDE, []).append(r)
        return out

    a, b = by_seed(xa), by_seed(xb)
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return []
    out = []
    for s in seeds:
        eff = effect(a[s], b[s])
        e, p = eff.get("effect", float("nan")), eff.get("p", float("nan"))
        out.append({"seed": s, "effect": e, "p": p, "verdict": verdict(e, p)})
    return out


def decide_pooled(claim: Claim, xa: list[dict] | None, xb: list[dict] | None, effect) -> Claim:
    """`decide` a claim on two methods' pooled per-example rows (None: not cached), and each seed
    on its own (`per_seed`) where there is an effect."""
    eff = effect(xa, xb) if xa and xb else {}
    decide(claim, eff)
    if eff:
        claim.per_seed = per_seed(xa, xb, effect)
    return claim


def replicated(c: Claim) -> tuple[int, int] | None:
    """(seeds whose own verdict is the pooled verdict, seeds): None for a claim of one seed or an
    undecided pooled verdict."""
    if not c.per_seed or c.verdict == UNDECIDED:
        return None
    return sum(s["verdict"] == c.verdict for s in c.per_seed), len(c.per_seed)


def summary(claims: list[Claim]) -> dict:
    """Counts of verdicts (undecided split into 'no data' and 'not significant')."""
    out = {CONFIRMED: 0, REFUTED: 0, UNDECIDED: 0, "no data": 0}
    for c in claims:
        out[c.verdict] += 1
        if c.verdict == UNDECIDED and not math.isfinite(c.effect):
            out["no data"] += 1
    out["total"] = len(claims)
    # decided claims pooling several seeds, and those of them every seed gives on its own
    rep = [r for r in map(replicated, claims) if r is not None]
    out["multi_seed_decided"] = len(rep)
    out["every_seed"] = sum(k == n for k, n in rep)
    return out


# ----------------------------------------------------------------------------------------------
# readers of the cached per-example files (kept here so the ledger is a pure read of the cache)


def attack_rows(r: dict) -> list[dict] | None:
    """A result row's attack records (idx, label, robust, correct), or None when not cached."""
    return read_records(r.get("attack_dir"))


def pair_rows(r: dict) -> list[dict] | None:
    """A result row's interpretation pairs (idx, label, IG kt / ti, the LIME block), or None."""
    return read_pairs(r.get("interpret_dir"))
