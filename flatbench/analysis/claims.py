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

from flatbench.analysis.stats import join_by_idx, mcnemar_exact, paired_permutation_test
from flatbench.registry import display_names

ALPHA = 0.05
N_BOOT = 2000
N_PERM = 2000
SEED = 0
IDX_STRIDE = 10_000_000  # pooled example id = seed * IDX_STRIDE + idx (as results.aggregate_seeds)

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


def _boot_paired(d: np.ndarray, labels: np.ndarray | None, n_boot: int, seed: int,
                 macro: bool) -> tuple[float, float]:
    """Percentile CI of the (class-macro) mean of paired differences ``d`` (class-stratified)."""
    if d.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    y = np.zeros(d.size, dtype=np.int64) if (labels is None or not macro) else labels
    groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    reps = np.zeros(n_boot)
    for ix in groups:
        reps += d[ix][rng.integers(0, ix.size, size=(n_boot, ix.size))].mean(axis=1)
    reps /= len(groups)
    lo, hi = np.quantile(reps, [ALPHA / 2, 1 - ALPHA / 2])
    return float(lo), float(hi)


def _macro(v: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([v[y == c].mean() for c in np.unique(y)])) if v.size else float("nan")


def aa_effect(recs_a: list[dict], recs_b: list[dict], *, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """AA(a) - AA(b) in points on the shared examples, its CI and the exact McNemar p."""
    a, b, _ = join_by_idx(recs_a, recs_b, "robust")
    if a.size == 0:
        return {"effect": float("nan"), "n": 0}
    d = 100.0 * (a - b)
    lo, hi = _boot_paired(d, None, n_boot, seed, macro=False)
    return {"effect": float(d.mean()), "lo": lo, "hi": hi, "p": mcnemar_exact(a > 0.5, b > 0.5),
            "n": int(a.size), "a": 100.0 * float(a.mean()), "b": 100.0 * float(b.mean()),
            "test": "exact McNemar (paired)"}


def consistency_effect(pairs_a: list[dict], pairs_b: list[dict], key: str, *, n_boot: int = N_BOOT,
                       n_perm: int = N_PERM, seed: int = SEED) -> dict:
    """Class-macro mean difference of a per-pair value (``key``: "kt" / "ti") on the shared pairs."""
    a, b, y = join_by_idx(pairs_a, pairs_b, key)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b, y = a[ok], b[ok], y[ok]
    if a.size == 0:
        return {"effect": float("nan"), "n": 0}
    d = a - b
    lo, hi = _boot_paired(d, y, n_boot, seed, macro=True)
    return {"effect": _macro(d, y), "lo": lo, "hi": hi, "n": int(a.size),
            "p": paired_permutation_test(a, b, y, n_perm=n_perm, seed=seed),
            "a": _macro(a, y), "b": _macro(b, y), "test": "paired sign-flip permutation"}


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


def pooled(rows: list[dict], reader, kind: str) -> list[dict] | None:
    """The per-example rows of result rows (one per seed), idx made unique per seed; None when
    any seed's data is missing."""
    out = []
    for r in rows:
        data = reader(r)
        if data is None:
            return None
        seed = int(r.get("seed") or 0)
        for e in data:
            e = dict(e)
            e["idx"] = seed * IDX_STRIDE + int(e["idx"])
            out.append(e)
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


def summary(claims: list[Claim]) -> dict:
    """Counts of verdicts (undecided split into 'no data' and 'not significant')."""
    out = {CONFIRMED: 0, REFUTED: 0, UNDECIDED: 0, "no data": 0}
    for c in claims:
        out[c.verdict] += 1
        if c.verdict == UNDECIDED and not math.isfinite(c.effect):
            out["no data"] += 1
    out["total"] = len(claims)
    return out


# ----------------------------------------------------------------------------------------------
# readers of the cached per-example files (kept here so the ledger is a pure read of the cache)


def _read_jsonl(path) -> list[dict] | None:
    import json
    from pathlib import Path

    if path is None or (isinstance(path, float) and math.isnan(path)) or not path:
        return None
    p = Path(path)
    if not p.is_file():
        return None
    with open(p, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def attack_rows(r: dict) -> list[dict] | None:
    """Per attacked example: idx, label, robust (attack failed), correct (not skipped)."""
    recs = _read_jsonl(None if r.get("attack_dir") is None else f"{r['attack_dir']}/records.jsonl")
    if recs is None:
        return None
    return [{"idx": int(e["idx"]), "label": int(e["label"]),
             "robust": 1.0 if e.get("status") == "failed" else 0.0,
             "correct": 0.0 if e.get("status") == "skipped" else 1.0} for e in recs]


def pair_rows(r: dict) -> list[dict] | None:
    """pairs.jsonl rows reduced to idx, label, IG kt / ti (TI@5), and the raw LIME block."""
    d = r.get("interpret_dir")
    rows = _read_jsonl(None if d is None or (isinstance(d, float) and math.isnan(d)) else f"{d}/pairs.jsonl")
    if rows is None:
        return None
    out = []
    for e in rows:
        ig = e.get("ig") or {}
        topk = ig.get("topk") or []
        out.append({"idx": int(e["idx"]), "label": int(e["label"]), "kt": ig.get("kendall_tau"),
                    "ti": topk[4] if len(topk) > 4 else None, "lime": e.get("lime")})
    return out


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) >= 1.5 else f"{v:.2f}"
