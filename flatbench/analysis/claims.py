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


# ----------------------------------------------------------------------------------------------
# the claims of each table

# Table 3 (text: FLAT outperforms adv and base in AA, KT and TI; base's AA is much lower than the
# adversarially trained models'). The LIME claims: "FLAT consistently improves model
# interpretation consistency, no matter which interpretation method (IG or LIME)".
T3 = (("flat", "adv", ("AA", "KT", "TI")), ("flat", "base", ("AA", "KT", "TI")), ("adv", "base", ("AA",)))
LIME = (("flat", "adv"), ("flat", "base"))
T4 = (("flat", "base"), ("flat", "adv"))
T5_BEST = (0.1, 0.001)
UNIT = {"AA": "points", "SA": "points", "KT": "tau", "TI": "share"}


def _rows(df, **match) -> list[dict]:
    recs = df.to_dict("records") if hasattr(df, "to_dict") else list(df)
    out = []
    for r in recs:
        if all((r.get(k) or "") == v if isinstance(v, str) else r.get(k) == v for k, v in match.items()):
            out.append(r)
    return out


def _method_rows(df, model, dataset, attack, method) -> list[dict]:
    train = "" if method == "base" else attack
    return _rows(df, model=model, dataset=dataset, attack=attack, method=method, train_attack=train)


def _paper3(p3, attack, model, method, dataset, metric):
    if p3 is None:
        return None
    m = p3[(p3.attack == attack) & (p3.model == model) & (p3.method == method) & (p3.dataset == dataset)]
    return None if m.empty or m.iloc[0][metric] != m.iloc[0][metric] else float(m.iloc[0][metric])


def _cell_name(model, dataset, attack) -> str:
    return f"{PRETTY.get(model, model)}, {PRETTY.get(dataset, dataset)}, {PRETTY.get(attack, attack)}"


def _paper_text(pa, pb, metric) -> tuple[str, bool | None]:
    if pa is None or pb is None:
        return "not in the paper", None
    f = (lambda v: f"{v:.2f}")
    return f"{f(pa)} vs {f(pb)}", pa > pb


def table3_claims(df, paper_t3=None, deviations=(), lime: bool = True) -> list[Claim]:
    """Table 3's orderings for every (model, dataset, attack) the results hold, and LIME's."""
    cells = sorted({(r["model"], r["dataset"], r["attack"]) for r in _rows(df)
                    if isinstance(r.get("attack"), str) and r["attack"]})
    out = []
    for model, dataset, attack in cells:
        name = _cell_name(model, dataset, attack)
        for a, b, metrics in T3:
            ra, rb = (_method_rows(df, model, dataset, attack, m) for m in (a, b))
            for metric in metrics:
                pa, pb = (_paper3(paper_t3, attack, model, m, dataset, metric) for m in (a, b))
                ptxt, agrees = _paper_text(pa, pb, metric)
                c = Claim(f"t3/{model}/{dataset}/{attack}/{metric}/{a}>{b}", "Table 3",
                          f"{PRETTY[a]} > {PRETTY[b]} in {metric} ({name})", ptxt,
                          deviations=list(deviations), paper_agrees=agrees)
                if metric == "AA":
                    xa, xb = pooled(ra, attack_rows, "records"), pooled(rb, attack_rows, "records")
                    eff = aa_effect(xa, xb) if xa and xb else {}
                else:
                    xa, xb = pooled(ra, pair_rows, "pairs"), pooled(rb, pair_rows, "pairs")
                    eff = consistency_effect(xa, xb, metric.lower()) if xa and xb else {}
                out.append(decide(c, eff))
        if not lime:
            continue
        for a, b in LIME:
            ra, rb = (_method_rows(df, model, dataset, attack, m) for m in (a, b))
            xa, xb = pooled(ra, pair_rows, "pairs"), pooled(rb, pair_rows, "pairs")
            for metric in ("KT", "TI"):
                c = Claim(f"lime/{model}/{dataset}/{attack}/{metric}/{a}>{b}", "Table 3 (LIME)",
                          f"{PRETTY[a]} > {PRETTY[b]} in LIME {metric} ({name})",
                          "the text (Table 8, the appendix, is not available)", deviations=list(deviations))
                va, vb = lime_values(xa, metric), lime_values(xb, metric)
                eff = unpaired_effect(va, vb) if va and vb else {}
                out.append(decide(c, eff))
    return out


def table4_claims(df, paper_t4=None, deviations=(), online_only: dict | None = None) -> list[Claim]:
    """Table 4: FLAT's AA above base's and adv's under each unforeseen attack (SST2)."""
    out = []
    models = sorted({r["model"] for r in _rows(df)})
    attacks = []
    for r in _rows(df):
        if isinstance(r.get("attack"), str) and r["attack"] and r["attack"] not in attacks:
            attacks.append(r["attack"])
    for attack in list(attacks) + [a for a in (online_only or {}) if a not in attacks]:
        for model in models:
            for a, b in T4:
                train = "textfooler"
                ra = _rows(df, model=model, attack=attack, method=a, train_attack=train if a != "base" else "")
                rb = _rows(df, model=model, attack=attack, method=b, train_attack=train if b != "base" else "")
                pa = pb = None
                if paper_t4 is not None:
                    sel = paper_t4[(paper_t4.model == model) & (paper_t4.attack == attack)]
                    vals = {m: float(v) for m, v in zip(sel.method, sel.AA) if v == v}
                    pa, pb = vals.get(a), vals.get(b)
                ptxt, agrees = _paper_text(pa, pb, "AA")
                c = Claim(f"t4/{model}/sst2/{attack}/AA/{a}>{b}", "Table 4",
                          f"{PRETTY[a]} > {PRETTY[b]} in AA under {PRETTY.get(attack, attack)} "
                          f"({PRETTY.get(model, model)}, SST2, trained with Textfooler)", ptxt,
                          deviations=list(deviations), paper_agrees=agrees)
                xa, xb = pooled(ra, attack_rows, "records"), pooled(rb, attack_rows, "records")
                eff = aa_effect(xa, xb) if xa and xb else {}
                if not eff and online_only and attack in online_only:
                    c.note = f"no data: online only here ({online_only[attack]})"
                out.append(decide(c, eff))
    return out


def table5_claims(df, paper_t5=None, deviations=()) -> list[Claim]:
    """Table 5: (beta, gamma) = (0.1, 0.001) above each other variant in standard accuracy (on the
    attacked test examples: a skipped attack = misclassified) and after-attack accuracy."""
    rows = _rows(df)
    variants = sorted({(float(r.get("beta")), float(r.get("gamma"))) for r in rows
                       if r.get("beta") is not None and r.get("gamma") is not None}, reverse=True)
    best = [r for r in rows if (r.get("beta"), r.get("gamma")) == T5_BEST]
    out = []
    paper = {}
    if paper_t5 is not None:
        paper = {(float(b), float(g)): (float(sa), float(aa)) for b, g, sa, aa in
                 zip(paper_t5.beta, paper_t5.gamma, paper_t5.SA, paper_t5.AA)}
    for v in variants:
        if v == T5_BEST:
            continue
        other = [r for r in rows if (r.get("beta"), r.get("gamma")) == v]
        xa, xb = pooled(best, attack_rows, "records"), pooled(other, attack_rows, "records")
        for metric, col in (("SA", "correct"), ("AA", "robust")):
            pa, pb = (paper.get(T5_BEST, (None, None)), paper.get(v, (None, None)))
            i = 0 if metric == "SA" else 1
            ptxt, agrees = _paper_text(pa[i], pb[i], metric)
            c = Claim(f"t5/beta={v[0]:g},gamma={v[1]:g}/{metric}", "Table 5",
                      f"(β, γ) = (0.1, 0.001) > ({v[0]:g}, {v[1]:g}) in {metric} (LSTM-FLAT, SST2, Textfooler)",
                      ptxt, deviations=list(deviations), paper_agrees=agrees)
            eff = {}
            if xa and xb:
                eff = aa_effect([{**e, "robust": e[col]} for e in xa], [{**e, "robust": e[col]} for e in xb])
            if metric == "SA":
                c.note = "SA on the attacked test examples (a skipped attack = misclassified)"
            out.append(decide(c, eff))
    return out


def variance_claim(l1_var: dict | None, deviations=()) -> Claim:
    """Fig. 5: with gamma = 0 the L1 |phi(w) - phi(synonym)| varies more than with gamma = 0.001.
    ``l1_var``: {"a": var(gamma=0), "b": var(gamma=0.001), "lo"/"hi": CI of a - b, "p": paired
    bootstrap p} from the ablation's mechanism check, or None."""
    c = Claim("fig5/l1_variance/gamma=0>gamma=0.001", "Fig. 5",
              "the synonym-L1 |φ(w) − φ(s)| varies more with γ = 0 than with γ = 0.001 (LSTM-FLAT, SST2)",
              "the text (Fig. 5 itself is in the missing appendix)", deviations=list(deviations))
    if not l1_var:
        return decide(c, {})
    return decide(c, {"effect": l1_var["a"] - l1_var["b"], "lo": l1_var.get("lo", float("nan")),
                      "hi": l1_var.get("hi", float("nan")), "p": l1_var["p"], "a": l1_var["a"],
                      "b": l1_var["b"], "n": l1_var.get("n", 0), "test": "paired bootstrap of the variance"})


STRONG_R = 0.3  # |r| below this is "no strong correlation" (the usual weak/moderate boundary)


def correlation_claims(corr: dict | None, deviations=()) -> list[Claim]:
    """Table 9: no strong correlation between phi, word frequency and substitution frequency.
    ``corr``: {pair name: {"r", "lo", "hi", "n"}} (Pearson r with its 95 % CI). The effect is
    STRONG_R - |r|: confirmed when the whole CI of r lies inside (-0.3, 0.3), refuted when it lies
    wholly outside, undecided otherwise."""
    names = ("phi vs word frequency", "phi vs substitution frequency",
             "word frequency vs substitution frequency")
    out = []
    for name in names:
        c = Claim(f"t9/{name.replace(' ', '_')}", "Table 9",
                  f"no strong correlation (|r| < {STRONG_R}): {name} (LSTM-FLAT, SST2, Textfooler)",
                  "the text (Table 9 is in the missing appendix)", deviations=list(deviations),
                  test=f"Pearson r, 95 % CI against |r| = {STRONG_R}")
        e = (corr or {}).get(name)
        if not e:
            out.append(decide(c, {}))
            continue
        r, lo, hi = e["r"], e["lo"], e["hi"]
        c.effect, c.n, c.ours = STRONG_R - abs(r), int(e.get("n", 0)), f"r = {r:.3f} [{lo:.3f}, {hi:.3f}]"
        c.lo, c.hi = STRONG_R - max(abs(lo), abs(hi)), STRONG_R - (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)))
        c.p = float("nan")
        c.verdict = CONFIRMED if c.lo > 0 else (REFUTED if c.hi < 0 else UNDECIDED)
        out.append(c)
    return out


# ----------------------------------------------------------------------------------------------
# the ledger of a set of grids, from the cache

LEDGER_GRIDS = ("table3_cpu", "table4_cpu", "table5_cpu")


def gather(ctx, grids=LEDGER_GRIDS, paper_tables: dict | None = None, online_only: dict | None = None,
           l1_var: dict | None = None, corr: dict | None = None,
           selection: dict | None = None) -> tuple[list[Claim], list[str]]:
    """Every claim decidable from ``grids``' cached results (a grid's ``paper_table`` says which
    claims it carries). ``paper_tables``: {"table3": df, "table4": df, "table5": df}; ``l1_var`` /
    ``corr``: Fig. 5's variance comparison and Table 9's correlations where cached."""
    from flatbench.cells import load_grid
    from flatbench.results import collect

    paper_tables = paper_tables or {}
    out, devs = [], []
    for g in grids:
        grid = load_grid(g, **(selection or {}))
        df, d, _ = collect(grid, ctx)
        devs += d
        kind = grid.paper_table
        if kind == "table3":
            out += table2_claims(df, paper_tables.get("table2"), d)
            out += table3_claims(df, paper_tables.get("table3"), d)
        elif kind == "table4":
            out += table4_claims(df, paper_tables.get("table4"), d, online_only=online_only)
        elif kind == "table5":
            out += table5_claims(df, paper_tables.get("table5"), d)
            out.append(variance_claim(l1_var, d))
    out += correlation_claims(corr)
    return out, sorted(set(devs))


def gather_phi(ctx, grids=("table3_cpu", "table5_cpu"), selection: dict | None = None) -> list[dict]:
    """The cached phi_pairs results of the grids' FLAT cells: one dict per (cell, round)."""
    from flatbench.cells import load_grid
    from flatbench.stages import plan

    out, seen = [], set()
    for g in grids:
        grid = load_grid(g, **(selection or {}))
        _, targets = plan(grid, ctx.data_dir)
        for cell, t in targets.items():
            for k, st in t.items():
                if not k.startswith("phi_pairs:") or st.key in seen:
                    continue
                seen.add(st.key)
                m = ctx.cache.manifest(st.kind, st.key)["metrics"] if ctx.cache.done(st.kind, st.key) else None
                out.append({"grid": g, "model": cell.model, "dataset": cell.dataset, "method": cell.method,
                            "train_attack": cell.train_attack, "seed": cell.seed, "variant": cell.variant or "",
                            "gamma": cell.hp.get("gamma"), "round": int(k.split(":")[1]), "metrics": m})
    return out


# Table 2 (text): "adversarial training ('adv' and 'FLAT') does not cause significant model
# performance drop". Clean accuracy is stored per model as a count over the whole test split (no
# per-example predictions), so the difference is compared as two independent proportions:
# Newcombe's hybrid score interval from Wilson intervals. A non-inferiority reading with a stated
# margin: confirmed when the CI's lower end is above -NI_MARGIN points, refuted when the whole CI
# is below 0 (a significant drop), undecided otherwise.
NI_MARGIN = 2.0


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return c - h, c + h


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """(p1 - p2, lo, hi), 95 % Newcombe hybrid score interval (method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1)
    l2, u2 = _wilson(k2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def table2_claims(df, paper_t2=None, deviations=()) -> list[Claim]:
    """adv and FLAT (per training attack) keep base's clean accuracy, per (model, dataset)."""
    rows = _rows(df)
    out = []
    cells = sorted({(r["model"], r["dataset"], r["method"], r.get("train_attack") or "") for r in rows
                    if r["method"] in ("adv", "flat")})
    for model, dataset, method, train in cells:
        name = f"{PRETTY.get(model, model)}, {PRETTY.get(dataset, dataset)}, trained with {PRETTY.get(train, train)}"
        a = {(r["seed"]): r for r in rows if (r["model"], r["dataset"], r["method"], r.get("train_attack") or "")
             == (model, dataset, method, train)}
        b = {(r["seed"]): r for r in rows if (r["model"], r["dataset"], r["method"]) == (model, dataset, "base")}
        pa = pb = None
        if paper_t2 is not None:
            sel = paper_t2[(paper_t2.model == model) & (paper_t2.dataset == dataset)]
            va = sel[(sel.method == method) & (sel.train_attack == train)]["acc"]
            vb = sel[sel.method == "base"]["acc"]
            pa = float(va.iloc[0]) if len(va) and va.iloc[0] == va.iloc[0] else None
            pb = float(vb.iloc[0]) if len(vb) and vb.iloc[0] == vb.iloc[0] else None
        ptxt, _ = _paper_text(pa, pb, "SA")
        c = Claim(f"t2/{model}/{dataset}/{method}-{train}/clean", "Table 2",
                  f"{PRETTY[method]} keeps base's clean accuracy, no significant drop ({name})", ptxt,
                  test=f"Newcombe interval, independent proportions; non-inferiority margin {NI_MARGIN:g} points",
                  deviations=list(deviations), paper_agrees=None if pa is None or pb is None else pa >= pb - NI_MARGIN)
        seeds = sorted(set(a) & set(b))

        def counts(rs):
            k = sum(round(r["clean_acc"] / 100 * r["clean_n"]) for r in rs)
            return int(k), int(sum(r["clean_n"] for r in rs))

        ok = seeds and all(_finite(a[s].get("clean_acc")) and _finite(b[s].get("clean_acc")) for s in seeds)
        if not ok:
            out.append(decide(c, {}))
            continue
        ka, na = counts([a[s] for s in seeds])
        kb, nb = counts([b[s] for s in seeds])
        d, lo, hi = newcombe(ka, na, kb, nb)
        c.effect, c.lo, c.hi, c.n = 100 * d, 100 * lo, 100 * hi, na + nb
        c.ours = f"{100 * ka / na:.2f} vs {100 * kb / nb:.2f}"
        c.verdict = REFUTED if c.hi < 0 else (CONFIRMED if c.lo > -NI_MARGIN else UNDECIDED)
        out.append(c)
    return out


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
