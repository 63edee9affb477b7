"""The defence leaderboard's rows: every defence (base, adv, FLAT and the defences beyond the paper:
FreeLB, SAFER, ASCC, PGD-K, ...) in every model / dataset / attack setting, scored on prediction
(clean accuracy, after-attack accuracy AA, SAFER's certified accuracy) and interpretation (IG
Kendall's tau KT and top-5 intersection TI), each with its 95 % CI, its paired difference from
base with that difference's CI and the paired test's p, and its rank among the defences of the
setting on AA and on KT.

Input: `flatbench.results.collect`'s per-seed rows (`df`) and their seed aggregate
(`flatbench.analysis.seeds.aggregate_seeds`, which pools CIs and tests over the seeds' examples).
Pure, torch-free; reads only the per-example files the rows point to (records.jsonl, pairs.jsonl).

Δ vs base (``dAA``, ``dKT``, ``dTI``): paired, on the examples both models share (joined by
(seed, example id) as the tests are): the mean of the per-example differences (KT/TI: the
class-macro mean over the pairs neither side has degenerate), with a seeded percentile bootstrap
95 % CI (KT/TI stratified by gold class, as the metrics' own CIs); ``d*_p`` is the paired test the
tables mark (exact McNemar for AA, sign-flip permutation for KT/TI, `analysis.records.paired_p`);
``d*_sig`` is "+" / "−" where p < 0.05 (the direction of Δ), "" otherwise. The paired Δ can differ
from the difference of the two shown values by the examples only one model has (skipped examples
and degenerate pairs differ between models).

Ranks (``AA_rank``, ``KT_rank``) within each (dataset, model, attack) setting, by `rank_with_ties`
(RANK_RULE).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from flatbench.analysis.claims import aa_effect, consistency_effect, pooled
from flatbench.analysis.records import ALPHA, N_BOOT, _nan, _num, read_pairs, read_records
from flatbench.analysis.stats import binomial_ci

SETTING = ("dataset", "model", "attack")
METRICS = ("AA", "KT", "TI")
RANK_RULE = ("rank = 1 + the number of defences of the same dataset / model / attack whose 95 % CI lies "
             "entirely above this one's (lower bound > this upper bound); defences whose CIs overlap are "
             "not told apart, so they can share a rank (shown \"=k\"). Overlapping CIs is a conservative "
             "reading (two defences whose CIs overlap can still differ by the paired test).")
BOOT_SEED = 20221


def rank_with_ties(values, lo=None, hi=None) -> list[int | None]:
    """Ranks (1 = best, higher values better) of ``values`` with their 95 % CIs [lo, hi], by
    RANK_RULE: rank_i = 1 + #{j : lo_j > hi_i}. A missing value has no rank (None); a value
    without a CI counts as the interval [value, value]."""
    v = [_num(x) for x in values]
    lo = [_num(x) for x in (lo if lo is not None else [None] * len(v))]
    hi = [_num(x) for x in (hi if hi is not None else [None] * len(v))]
    iv = [None if not math.isfinite(x) else (a if math.isfinite(a) else x, b if math.isfinite(b) else x)
          for x, a, b in zip(v, lo, hi)]
    return [None if me is None else 1 + sum(1 for o in iv if o is not None and o[0] > me[1]) for me in iv]


def tied(ranks: list[int | None]) -> list[bool]:
    """Whether each rank is shared with another row of the same list."""
    return [r is not None and ranks.count(r) > 1 for r in ranks]


def _pooled(rows: list[dict], kind: str) -> list[dict]:
    """Per-example rows of several seeds' stages, ids made unique by seed (`claims.pooled`); a seed
    without its file adds nothing here, where the ledger refuses the group."""
    read, col = (read_records, "attack_dir") if kind == "records" else (read_pairs, "interpret_dir")
    return pooled(rows, lambda r: read(r.get(col)) or []) or []


def paired_delta(metric: str, rows: list[dict], base_rows: list[dict], *, n_boot: int = N_BOOT,
                 seed: int = BOOT_SEED) -> tuple[float, float, float, int]:
    """(Δ, lo, hi, n): a defence's paired difference from base on ``metric`` over the examples both
    share (per-seed result rows of the defence and of base; seeds matched), its bootstrap 95 % CI
    and the number of examples it rests on. AA in percentage points; NaN without shared examples.
    The effect is the claims ledger's (`claims.aa_effect` / `consistency_effect`); its test is the
    tables' (`records.paired_p`, in `leaderboard`)."""
    seeds = {r.get("seed") for r in base_rows}
    rows = [r for r in rows if r.get("seed") in seeds]
    kind = "records" if metric == "AA" else "pairs"
    a_rows, b_rows = _pooled(rows, kind), _pooled(base_rows, kind)
    e = {"n": 0}
    if a_rows and b_rows:
        e = (aa_effect(a_rows, b_rows, n_boot=n_boot, seed=seed) if metric == "AA" else
             consistency_effect(a_rows, b_rows, {"KT": "kt", "TI": "ti"}[metric], n_boot=n_boot, n_perm=0,
                                seed=seed))
    if not e["n"]:
        return (float("nan"),) * 3 + (0,)
    return e["effect"], e["lo"], e["hi"], e["n"]


def _certified(rows: list[dict]) -> dict:
    """SAFER's certified accuracy (%) pooled over the seeds' attacked examples, with its exact CI."""
    got = [(_num(r.get("certified_acc")), _num(r.get("attacked_n"))) for r in rows]
    got = [(c, n) for c, n in got if math.isfinite(c) and math.isfinite(n) and n > 0]
    if not got:
        return {}
    k = sum(round(c / 100 * n) for c, n in got)
    n = int(sum(n for _, n in got))
    lo, hi = binomial_ci(k, n)
    return {"certified_acc": 100 * k / n, "certified_lo": 100 * lo, "certified_hi": 100 * hi}


def _sig(p: float, delta: float, alpha: float = ALPHA) -> str:
    if not (math.isfinite(p) and p < alpha and math.isfinite(delta)) or delta == 0:
        return ""
    return "+" if delta > 0 else "−"


COLUMNS = ["defence", "train_attack", "dataset", "model", "attack", "seeds", "n_seeds", "clean_acc", "clean_lo",
           "clean_hi", "AA", "AA_lo", "AA_hi", "certified_acc", "certified_lo", "certified_hi", "KT", "KT_lo",
           "KT_hi", "TI", "TI_lo", "TI_hi", "attacked_n", "n_pairs",
           *[f"d{m}{s}" for m in METRICS for s in ("", "_lo", "_hi", "_n", "_p", "_sig")],
           "AA_rank", "AA_tied", "KT_rank", "KT_tied"]


def leaderboard(df: pd.DataFrame, agg: pd.DataFrame | None = None, *, n_boot: int = N_BOOT,
                alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (defence, train attack, dataset, model, attack) with an attack measured: the
    seed-aggregated values and CIs, Δ vs base (paired, CI, p, significance) and the ranks (see the
    module doc). ``agg``: `aggregate_seeds(df)` when the caller has it."""
    from flatbench.analysis.seeds import aggregate_seeds

    if df.empty or "attack" not in df.columns:
        return pd.DataFrame(columns=COLUMNS)
    agg = aggregate_seeds(df) if agg is None else agg
    per_seed = [r for r in df.to_dict("records") if isinstance(r.get("attack"), str) and r["attack"]]

    def seeds_of(r):
        return [s for s in per_seed if all(s.get(k) == r.get(k) for k in (*SETTING, "method"))
                and (s.get("train_attack") or "") == (r.get("train_attack") or "")
                and (s.get("variant") or "") == (r.get("variant") or "")]

    out = []
    for r in agg.to_dict("records"):
        if not (isinstance(r.get("attack"), str) and r["attack"]):
            continue
        mine = seeds_of(r)
        base = [s for s in per_seed if s.get("method") == "base" and all(s.get(k) == r.get(k) for k in SETTING)]
        row = {"defence": r["method"], "train_attack": r.get("train_attack") or "",
               **{k: r[k] for k in SETTING},
               "seeds": r.get("seeds") or ",".join(str(int(s["seed"])) for s in mine if not _nan(s.get("seed"))),
               "n_seeds": len(mine)}
        for c in ("clean_acc", "clean_lo", "clean_hi", "AA", "AA_lo", "AA_hi", "KT", "KT_lo", "KT_hi", "TI",
                  "TI_lo", "TI_hi", "attacked_n", "n_pairs"):
            row[c] = _num(r.get(c))
        row.update(_certified(mine))
        for m in METRICS:
            if r["method"] == "base" or not base:
                d = (float("nan"),) * 3 + (0,)
                p = float("nan")
            else:
                d = paired_delta(m, mine, base, n_boot=n_boot)
                p = _num(r.get(f"{m}_p_base"))
            row.update({f"d{m}": d[0], f"d{m}_lo": d[1], f"d{m}_hi": d[2], f"d{m}_n": d[3], f"d{m}_p": p,
                        f"d{m}_sig": _sig(p, d[0], alpha)})
        out.append(row)
    lb = _ordered(pd.DataFrame(out).reindex(columns=COLUMNS))
    for m in ("AA", "KT"):
        lb[f"{m}_rank"] = pd.Series([None] * len(lb), dtype=object)
        lb[f"{m}_tied"] = False
        for _, g in lb.groupby(list(SETTING), sort=False):
            ranks = rank_with_ties(g[m], g[f"{m}_lo"], g[f"{m}_hi"])
            lb.loc[g.index, f"{m}_rank"] = pd.Series(ranks, index=g.index, dtype=object)
            lb.loc[g.index, f"{m}_tied"] = tied(ranks)
    return lb


def _ordered(lb: pd.DataFrame) -> pd.DataFrame:
    """Rows by dataset, model, attack (first appearance), then defence in the registry's order."""
    from flatbench.registry import METHODS

    if lb.empty:
        return lb
    method_order = {m: i for i, m in enumerate(METHODS.names())}
    order = {c: {v: i for i, v in enumerate(dict.fromkeys(lb[c]))} for c in SETTING}
    sort = [tuple(order[c][r[c]] for c in SETTING) + (method_order.get(r["defence"], 99), r["train_attack"])
            for r in lb.to_dict("records")]
    return lb.iloc[sorted(range(len(lb)), key=lambda i: sort[i])].reset_index(drop=True)


def dataset_summary(lb: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and defence (base excluded): over its model × attack settings, the mean AA and
    KT rank, and in how many settings it is significantly better / worse than base on AA, KT, TI."""
    rows = []
    if lb.empty:
        return pd.DataFrame(rows)
    for (ds, defence), g in lb.groupby(["dataset", "defence"], sort=False):
        row = {"dataset": ds, "defence": defence, "settings": int(g["AA"].notna().sum())}  # measured ones
        for m in ("AA", "KT"):
            ranks = [x for x in g[f"{m}_rank"] if x is not None and not _nan(x)]
            row[f"{m}_rank_mean"] = float(np.mean(ranks)) if ranks else float("nan")
        for m in METRICS:
            row[f"{m}_better"] = int((g[f"d{m}_sig"] == "+").sum())
            row[f"{m}_worse"] = int((g[f"d{m}_sig"] == "−").sum())
            row[f"{m}_tested"] = int(g[f"d{m}_p"].notna().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def grid_leaderboard(grid, ctx) -> tuple[pd.DataFrame, list[str], dict]:
    """(leaderboard rows, deviations, progress) of a grid, from the cache (`flatbench.results.collect`)."""
    from flatbench.results import collect

    df, devs, prog = collect(grid, ctx)
    return leaderboard(df), devs, prog


__all__ = ["leaderboard", "grid_leaderboard", "dataset_summary", "rank_with_ties", "tied", "paired_delta", "RANK_RULE", "COLUMNS"]
