"""Per-example data of cached stages and the uncertainty of every number made from it: exact
Clopper-Pearson CIs of accuracies, seeded stratified bootstrap CIs of the class-macro KT/TI means,
and the paired tests (exact McNemar on per-example robustness, sign-flip permutation on KT/TI).
Pure reads of records.jsonl / pairs.jsonl; no model, no plan (flatbench.results collects the rows).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from flatbench.analysis.stats import (
    binomial_ci,
    bootstrap_ci,
    join_by_idx,
    macro_mean,
    mcnemar_exact,
    paired_permutation_test,
)

N_BOOT = 2000  # bootstrap replicates of a KT/TI CI
N_PERM = 2000  # random sign vectors of a permutation test (MC s.e. of p at 0.05: 0.005)
BOOT_SEED = 0
ALPHA = 0.05
LEVEL = 0.95
METRICS = ("AA", "KT", "TI")
REFS = ("adv", "base")
P_COLUMNS = [f"{m}_p_{ref}" for m in METRICS for ref in REFS]
CI_COLUMNS = ["clean_lo", "clean_hi", "AA_lo", "AA_hi", "KT_lo", "KT_hi", "TI_lo", "TI_hi",
              "KT_succ_lo", "KT_succ_hi", "TI_succ_lo", "TI_succ_hi"]
COUNT_COLUMNS = ["clean_n", "attacked_n", "AA_robust", "n_pairs", "n_pairs_succ", "KT_degenerate",
                 "TI_degenerate", "KT_succ_degenerate", "TI_succ_degenerate", "n_removed_skipped",
                 "n_removed_unchanged"]
SD_COLUMNS = ["clean_acc", "AA", "KT", "TI", "KT_succ", "TI_succ", "KT_abs", "TI_abs"]
GROUP = ["model", "dataset", "method", "train_attack", "attack", "variant"]
IDX_STRIDE = 10_000_000  # pooled example id = seed * IDX_STRIDE + idx (test splits are far smaller)


# ----------------------------------------------------------------------------------------------
# per-example data


def seed_idx(rows: list[dict] | None, seed) -> list[dict]:
    """One seed's per-example rows with idx made unique across seeds (seed * IDX_STRIDE + idx): how
    every CI and test pooled over seeds joins examples."""
    return [{**r, "idx": int(seed) * IDX_STRIDE + int(r["idx"])} for r in rows or []]


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _num(v) -> float:
    if v is None:
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def record_values(r: dict) -> dict:
    """An attack record reduced to what the statistics need: idx, label, robust (1.0 = the attack
    failed, the example stayed correctly classified; succeeded and skipped count as not robust) and
    correct (1.0 = clean prediction right: the attack did not skip it)."""
    if "robust" in r:
        return r
    return {"idx": int(r["idx"]), "label": int(r["label"]), "robust": 1.0 if r.get("status") == "failed" else 0.0,
            "correct": 0.0 if r.get("status") == "skipped" else 1.0}


def pair_values(r: dict) -> dict:
    """A pairs.jsonl row reduced to idx, label, status, its IG KT / TI@5 (None = degenerate) and
    its LIME block (None where LIME did not explain the pair)."""
    if "kt" in r and "ti" in r:
        return r
    ig = r.get("ig") or {}
    topk = ig.get("topk") or []
    return {"idx": int(r["idx"]), "label": int(r["label"]), "status": r.get("status"),
            "kt": ig.get("kendall_tau"), "ti": topk[4] if len(topk) > 4 else None, "lime": r.get("lime")}


def _stamp(p: Path):
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=512)
def _read_slim(path: str, mtime_ns: int, size: int, kind: str) -> tuple:
    f = record_values if kind == "records" else pair_values
    with open(path, encoding="utf-8") as fh:
        return tuple(f(json.loads(line)) for line in fh if line.strip())


def raw_records(attack_dir) -> list[dict]:
    """records.jsonl of an attack stage directory, every field of every line (texts, queries,
    replaced words), uncached: what training on D', interpretation and the diagnostics read."""
    with open(Path(attack_dir) / "records.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_records(attack_dir) -> list[dict] | None:
    """records.jsonl of an attack stage directory as `record_values` rows (None: not there)."""
    if _nan(attack_dir) or not attack_dir:
        return None
    p = Path(attack_dir) / "records.jsonl"
    return list(_read_slim(*_stamp(p), "records")) if p.is_file() else None


def read_pairs(interpret_dir) -> list[dict] | None:
    """pairs.jsonl of an interpret stage directory as `pair_values` rows (None: not there)."""
    if _nan(interpret_dir) or not interpret_dir:
        return None
    p = Path(interpret_dir) / "pairs.jsonl"
    return list(_read_slim(*_stamp(p), "pairs")) if p.is_file() else None


# ----------------------------------------------------------------------------------------------
# CIs and tests from per-example rows


def clean_stats(acc: float | None, n: int | None, level: float = LEVEL) -> dict:
    """clean_lo / clean_hi (%): Clopper-Pearson of round(acc * n) correct of n (acc a fraction)."""
    if _nan(acc) or _nan(n) or not n:
        return {"clean_lo": float("nan"), "clean_hi": float("nan")}
    lo, hi = binomial_ci(round(float(acc) * int(n)), int(n), level)
    return {"clean_lo": 100 * lo, "clean_hi": 100 * hi}


def aa_counts(robust: int, n: int, level: float = LEVEL) -> dict:
    lo, hi = binomial_ci(robust, n, level) if n else (float("nan"), float("nan"))
    return {"AA": 100 * robust / n if n else float("nan"), "AA_robust": int(robust), "attacked_n": int(n),
            "AA_lo": 100 * lo, "AA_hi": 100 * hi}


def aa_stats(records: list[dict], level: float = LEVEL) -> dict:
    """AA (%), AA_robust, attacked_n and the exact Clopper-Pearson AA_lo / AA_hi (%) over the
    attacked examples of an attack (records.jsonl rows or `record_values` rows)."""
    rows = [record_values(r) for r in records]
    return aa_counts(int(sum(r["robust"] for r in rows)), len(rows), level)


def consistency_stats(pairs: list[dict], *, n_boot: int = N_BOOT, seed: int = BOOT_SEED,
                      level: float = LEVEL) -> dict:
    """KT, TI (TI@5) with bootstrap CIs and degenerate counts, over all pairs (the paper's rule)
    and over the pairs whose attack succeeded (_succ); pairs.jsonl or `pair_values` rows."""
    rows = [pair_values(r) for r in pairs]
    out: dict = {}
    for suffix, keep in (("", None), ("_succ", "succeeded")):
        sel = rows if keep is None else [r for r in rows if r.get("status") == keep]
        labels = [r["label"] for r in sel]
        for m, key in (("KT", "kt"), ("TI", "ti")):
            vals = [_num(r[key]) for r in sel]
            out[f"{m}{suffix}"] = macro_mean(vals, labels) if sel else float("nan")
            lo, hi = bootstrap_ci(vals, labels, n_boot=n_boot, seed=seed, level=level) if sel else (
                float("nan"), float("nan"))
            out[f"{m}{suffix}_lo"], out[f"{m}{suffix}_hi"] = lo, hi
            out[f"{m}{suffix}_degenerate"] = int(sum(1 for v in vals if not math.isfinite(v)))
        out[f"n_pairs{suffix}"] = len(sel)
    return out


def paired_p(metric: str, rows_a: list[dict] | None, rows_b: list[dict] | None, *, n_perm: int = N_PERM,
             seed: int = BOOT_SEED) -> float:
    """Two-sided p of "a and b differ" on the examples both have (joined by idx).

    metric "AA": rows are attack records, exact McNemar test of per-example robustness; "KT" /
    "TI": rows are pairs, paired sign-flip permutation test of the class-macro mean difference of
    the per-pair values (pairs degenerate on either side dropped). NaN without shared examples."""
    if not rows_a or not rows_b:
        return float("nan")
    if metric == "AA":
        a, b, _ = join_by_idx([record_values(r) for r in rows_a], [record_values(r) for r in rows_b], "robust")
        return mcnemar_exact(a > 0.5, b > 0.5) if a.size else float("nan")
    key = {"KT": "kt", "TI": "ti"}[metric]
    a, b, labels = join_by_idx([pair_values(r) for r in rows_a], [pair_values(r) for r in rows_b], key)
    if not np.any(np.isfinite(a) & np.isfinite(b)):
        return float("nan")
    return paired_permutation_test(a, b, labels, n_perm=n_perm, seed=seed)


def _key(r, cols) -> tuple:
    return tuple(None if _nan(r.get(c)) else r.get(c) for c in cols)


def add_paired_tests(df: pd.DataFrame, data: Callable[[object], tuple], keys=("model", "dataset", "attack", "seed"),
                     *, n_perm: int = N_PERM) -> pd.DataFrame:
    """Fill P_COLUMNS: FLAT rows against adv (same train_attack) and base, adv rows against base,
    matched on `keys`. data(index) -> (records, pairs) of that row (either may be None)."""
    df = df.copy()
    for c in P_COLUMNS:
        df[c] = float("nan")
    if df.empty or "attack" not in df.columns:
        return df
    keys = [k for k in keys if k in df.columns]
    recs = df.to_dict("index")
    by_key: dict = {}
    for i, r in recs.items():
        if isinstance(r.get("attack"), str) and r["attack"]:
            by_key.setdefault(_key(r, keys), []).append(i)

    def find(r, method, same_train):
        for j in by_key.get(_key(r, keys), []):
            o = recs[j]
            if o["method"] == method and (not same_train or (o.get("train_attack") or "") == (r.get("train_attack") or "")):
                return j
        return None

    cache: dict = {}

    def get(i):
        if i not in cache:
            cache[i] = data(i)
        return cache[i]

    for i, r in recs.items():
        # every method is tested against base; FLAT also against adv (defences beyond the paper,
        # e.g. freelb, against base only)
        if r.get("method") in (None, "base") or not isinstance(r.get("attack"), str):
            continue
        refs = {"base": find(r, "base", False)}
        if r["method"] == "flat":
            refs["adv"] = find(r, "adv", True)
        for ref, j in refs.items():
            if j is None:
                continue
            (ra, pa), (rb, pb) = get(i), get(j)
            df.at[i, f"AA_p_{ref}"] = paired_p("AA", ra, rb, n_perm=n_perm)
            for m in ("KT", "TI"):
                df.at[i, f"{m}_p_{ref}"] = paired_p(m, pa, pb, n_perm=n_perm)
    return df


def row_data(df: pd.DataFrame) -> Callable[[object], tuple]:
    def data(i):
        r = df.loc[i]
        return (read_records(r.get("attack_dir")) if "attack_dir" in df.columns else None,
                read_pairs(r.get("interpret_dir")) if "interpret_dir" in df.columns else None)
    return data


def ensure_columns(df: pd.DataFrame) -> pd.DataFrame:
    for c in ["AA", "KT", "TI", "KT_succ", "TI_succ", *CI_COLUMNS, *COUNT_COLUMNS, *P_COLUMNS]:
        if c not in df.columns:
            df[c] = float("nan")
    return df


__all__ = ["aa_stats", "aa_counts", "clean_stats", "consistency_stats", "paired_p", "add_paired_tests", "read_records",
           "read_pairs", "record_values", "pair_values", "row_data", "ensure_columns"]
