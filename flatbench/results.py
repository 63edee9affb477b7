"""Collect what a grid's stages produced (from the cache only: nothing is trained, attacked or
explained here; magnitude-ranked consistency is re-scored from the stored per-pair attributions),
with the uncertainty of every number, computed from the per-example records in the cache.

Columns of `collect`'s rows (one per cell and measured attack; NaN where a stage is missing):
- clean_acc (%), clean_n, clean_lo / clean_hi: exact Clopper-Pearson 95 % CI of the test accuracy
  (k = round(test_acc * test_n) of test_n);
- AA (%), attacked_n, AA_robust (examples whose attack failed = robust), AA_lo / AA_hi: exact
  Clopper-Pearson over the attacked examples (records.jsonl, else the manifest's counts);
- KT, TI (TI@5) and their _lo / _hi: seeded class-stratified bootstrap (N_BOOT replicates) of the
  class-macro mean of the per-pair IG values in pairs.jsonl (the paper's pairs: every attacked
  example with an adversarial counterpart); KT_succ, TI_succ (+ _lo / _hi): the same over the
  pairs whose attack succeeded only; KT_degenerate, TI_degenerate, KT_succ_degenerate,
  TI_succ_degenerate: pairs without a value (left out of the means); n_pairs, n_pairs_succ,
  n_removed_skipped, n_removed_unchanged: the pair rule's counts; KT_abs / TI_abs (and LIME_*):
  words ranked by |attribution| (secondary reading);
- AA_p_adv, AA_p_base, KT_p_adv, KT_p_base, TI_p_adv, TI_p_base: two-sided paired tests of a
  FLAT row against the adv row (same train_attack) and the base row of the same model, dataset,
  attack and seed, and of an adv row against base (its *_p_adv stay NaN), on the examples both
  share (joined by idx): AA by the exact McNemar test of per-example robustness, KT and TI@5 by
  the paired sign-flip permutation test of the class-macro mean difference (N_PERM draws);
- attack_dir / interpret_dir: the stage directories the per-example data came from.

`aggregate_seeds` turns per-seed rows into one row per (model, dataset, method, train_attack,
attack, variant): across-seed mean and sd (ddof=1) plus CIs and paired tests pooled over the
per-example records of all seeds (pairs matched by (seed, idx)). `orderings` says, for every
model/dataset/attack, whether FLAT > adv, FLAT > base and adv > base hold in AA/KT/TI and whether
the difference is significant.
"""

from __future__ import annotations

import functools
import json
import math
import re
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
    mean_sd,
    paired_permutation_test,
)
from flatbench.interpret.consistency import rescore_pairs
from flatbench.stages import Context, plan

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
    failed, the example stayed correctly classified; succeeded and skipped count as not robust)."""
    if "robust" in r:
        return r
    return {"idx": int(r["idx"]), "label": int(r["label"]), "robust": 1.0 if r.get("status") == "failed" else 0.0}


def pair_values(r: dict) -> dict:
    """A pairs.jsonl row reduced to idx, label, status and its IG KT / TI@5 (None = degenerate)."""
    if "kt" in r and "ti" in r:
        return r
    ig = r.get("ig") or {}
    topk = ig.get("topk") or []
    return {"idx": int(r["idx"]), "label": int(r["label"]), "status": r.get("status"),
            "kt": ig.get("kendall_tau"), "ti": topk[4] if len(topk) > 4 else None}


def _stamp(p: Path):
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=512)
def _read_slim(path: str, mtime_ns: int, size: int, kind: str) -> tuple:
    f = record_values if kind == "records" else pair_values
    with open(path, encoding="utf-8") as fh:
        return tuple(f(json.loads(line)) for line in fh if line.strip())


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


def _row_data(df: pd.DataFrame) -> Callable[[object], tuple]:
    def data(i):
        r = df.loc[i]
        return (read_records(r.get("attack_dir")) if "attack_dir" in df.columns else None,
                read_pairs(r.get("interpret_dir")) if "interpret_dir" in df.columns else None)
    return data


def _ensure_columns(df: pd.DataFrame) -> pd.DataFrame:
    for c in ["AA", "KT", "TI", "KT_succ", "TI_succ", *CI_COLUMNS, *COUNT_COLUMNS, *P_COLUMNS]:
        if c not in df.columns:
            df[c] = float("nan")
    return df


# ----------------------------------------------------------------------------------------------
# collect


def collect(grid, ctx: Context, *, n_boot: int = N_BOOT, n_perm: int = N_PERM) -> tuple[pd.DataFrame, list[str], dict]:
    """One row per (cell, measured attack): clean acc and, where measured, AA/KT/TI, their CIs and
    the paired tests (see the module docstring for the columns).

    Returns (rows, deviations, progress counts)."""
    _, targets = plan(grid, ctx.data_dir)
    rows, devs = [], set()
    done = total = 0
    for cell, t in targets.items():
        base = {"model": cell.model, "dataset": cell.dataset, "method": cell.method,
                "train_attack": cell.train_attack or "", "seed": cell.seed, "cell": cell.id,
                "variant": cell.variant or "", "beta": cell.hp.get("beta"), "gamma": cell.hp.get("gamma")}

        def manifest(stage):
            nonlocal done, total
            total += 1
            if ctx.cache.done(stage.kind, stage.key):
                done += 1
                m = ctx.cache.manifest(stage.kind, stage.key)
                # a round count is a property of the cell, not of a (shared) round stage
                devs.update(d for d in m.get("deviations", []) if "attack/train round" not in d)
                return m
            return None

        rounds = int(cell.hp.get("rounds", 3))
        if cell.train_attack and rounds < 3:
            devs.add(f"{rounds} attack/train round(s) instead of the paper's 3-5")
        if any(k.startswith("interpret:") for k in t) and int(cell.hp.get("lime_pairs", 1000)) < 1000:
            devs.add(f"LIME on at most {int(cell.hp['lime_pairs'])} seeded random pairs per cell instead of the "
                     "paper's 1,000")

        ev = manifest(t["evaluate"]) if "evaluate" in t else None
        tr = manifest(t["train"])
        clean = ev["metrics"]["test_acc"] * 100 if ev else None
        test_n = ev["metrics"].get("test_n") if ev else None
        common = {**base, "clean_acc": clean, "clean_n": test_n,
                  **clean_stats(ev["metrics"]["test_acc"] if ev else None, test_n),
                  "train_seconds": tr["seconds"] if tr else None}
        attacks = [k.split(":", 1)[1] for k in t if k.startswith("attack:")]
        if not attacks:
            rows.append(common)
        for a in attacks:
            row = {**common, "attack": a}
            am = manifest(t[f"attack:{a}"])
            if am:
                mm = am["metrics"]
                adir = ctx.cache.dir("attack", t[f"attack:{a}"].key)
                row.update(AA=mm["after_attack_acc"] * 100, attack_success=mm.get("success_rate"),
                           attacked_n=mm.get("n"), attack_seconds=am["seconds"], attack_dir=str(adir))
                recs = read_records(adir)
                if recs is not None:
                    row.update(aa_stats(recs))
                elif mm.get("n"):
                    robust = mm.get("failed", round(mm["after_attack_acc"] * mm["n"]))
                    row.update(aa_counts(int(robust), int(mm["n"])))
                row["AA"] = mm["after_attack_acc"] * 100
            im = manifest(t[f"interpret:{a}"]) if f"interpret:{a}" in t else None
            if im:
                row.update(_interpret_columns(im["metrics"], ctx.cache.dir("interpret", t[f"interpret:{a}"].key),
                                              n_boot))
            rows.append(row)
    df = _ensure_columns(pd.DataFrame(rows))
    df = add_paired_tests(df, _row_data(df), n_perm=n_perm)
    return df, sorted(devs), {"done": done, "total": total}


def _interpret_columns(mm: dict, d: Path, n_boot: int) -> dict:
    row = {"interpret_dir": str(d)}
    row.update({f"{m}_topk_{k}": mm.get(f"{m}_topk_{k}") for m in ("ig", "lime") for k in range(1, 11)})
    row.update(KT=mm.get("ig_kendall_tau"), TI=mm.get("ig_topk_5"),
               LIME_KT=mm.get("lime_kendall_tau"), LIME_TI=mm.get("lime_topk_5"))
    pairs = read_pairs(d)
    if pairs is not None:
        cs = consistency_stats(pairs, n_boot=n_boot)
        # the stage's own numbers are the headline; the pairs give CIs (and fill what is missing)
        for k, v in cs.items():
            if k in ("KT", "TI"):
                continue
            row[k] = v
    metric_of = {"KT_succ": "ig_kendall_tau_succeeded", "TI_succ": "ig_topk_5_succeeded",
                 "KT_degenerate": "ig_degenerate_kt", "TI_degenerate": "ig_degenerate_ti",
                 "KT_succ_degenerate": "ig_degenerate_kt_succeeded",
                 "TI_succ_degenerate": "ig_degenerate_ti_succeeded", "n_pairs": "n_pairs",
                 "n_pairs_succ": "n_pairs_succeeded", "n_removed_skipped": "n_removed_skipped",
                 "n_removed_unchanged": "n_removed_unchanged"}
    for col, key in metric_of.items():
        if mm.get(key) is not None:
            row[col] = mm[key]
    row.update(_magnitude(d))
    return row


def _magnitude(d) -> dict:
    """KT/TI with words ranked by |attribution| (secondary reading; see rescore_pairs)."""
    p = Path(d) / "pairs.jsonl"
    if not p.exists():
        return {}
    with open(p, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    ig, lime = rescore_pairs(rows, "ig"), rescore_pairs(rows, "lime")
    return {"KT_abs": ig["kendall_tau"], "TI_abs": ig["topk_5"],
            "LIME_KT_abs": lime["kendall_tau"], "LIME_TI_abs": lime["topk_5"]}


# ----------------------------------------------------------------------------------------------
# seeds


def _group_cols(df: pd.DataFrame) -> list[str]:
    return [c for c in GROUP if c in df.columns]


def _group_key(r: dict, cols) -> tuple:
    return tuple("" if _nan(r.get(c)) else r.get(c) for c in cols)


def seed_groups(df: pd.DataFrame) -> list[tuple[tuple, list]]:
    """[(group key, [row index, ...])] in order of first appearance; rows of one group differ only
    in their seed."""
    cols = _group_cols(df)
    out: dict = {}
    for i, r in df.to_dict("index").items():
        out.setdefault(_group_key(r, cols), []).append(i)
    return list(out.items())


def has_several_seeds(df: pd.DataFrame) -> bool:
    return any(len(ix) > 1 for _, ix in seed_groups(df))


def _pooled(rows: list[dict] | None, seed) -> list[dict]:
    return [{**r, "idx": int(seed) * IDX_STRIDE + int(r["idx"])} for r in rows or []]


def aggregate_seeds(df: pd.DataFrame, *, n_boot: int = N_BOOT, n_perm: int = N_PERM) -> pd.DataFrame:
    """One row per (model, dataset, method, train_attack, attack, variant) over its seeds.

    Numeric columns: the across-seed mean, and for SD_COLUMNS the sample sd (`<col>_sd`, ddof=1;
    NaN for one seed). Count columns (COUNT_COLUMNS): summed. CIs pooled over all seeds'
    examples: clean and AA by Clopper-Pearson on the pooled counts, KT/TI (and _succ) by the
    stratified bootstrap over the pooled pairs (pairs.jsonl via interpret_dir). Paired tests
    (P_COLUMNS) on the pooled records/pairs matched by (seed, idx). Also seeds ("13,42"),
    n_seeds, and seed = NaN. A frame whose groups all have one seed comes back as it is (plus
    seeds / n_seeds / NaN sds): pooling one seed changes nothing."""
    out_cols = list(df.columns)
    if df.empty:
        return df.copy()
    groups = seed_groups(df)
    recs = df.to_dict("index")
    single = all(len(ix) == 1 for _, ix in groups)
    rows, data = [], {}
    for n, (_, ix) in enumerate(groups):
        g = [recs[i] for i in ix]
        seeds = [r.get("seed") for r in g]
        row = dict(g[0])
        row["seeds"] = ",".join(str(int(s)) for s in seeds if not _nan(s))
        row["n_seeds"] = len(g)
        for c in SD_COLUMNS:
            if c in df.columns:
                row[f"{c}_sd"] = mean_sd([_num(r.get(c)) for r in g])[1]
        if single:
            rows.append(row)
            continue
        row["seed"] = float("nan")
        for c in ("attack_dir", "interpret_dir"):  # several; the per-seed rows keep them
            if c in row:
                row[c] = float("nan")
        if "cell" in df.columns:
            row["cell"] = re.sub(r"-s-?\d+(?=\[|$)", "", str(g[0].get("cell", "")))
        for c in df.columns:
            vals = [r.get(c) for r in g]
            if c in COUNT_COLUMNS:
                nums = [_num(v) for v in vals]
                row[c] = float(np.nansum(nums)) if any(math.isfinite(v) for v in nums) else float("nan")
            elif c in ("seed", "cell", "attack_dir", "interpret_dir") or c in GROUP or c in CI_COLUMNS or c in P_COLUMNS:
                continue
            elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) or _nan(v)
                     for v in vals):
                row[c] = mean_sd([_num(v) for v in vals])[0]
        # pooled CIs
        k = [round(_num(r.get("clean_acc")) / 100 * _num(r.get("clean_n"))) for r in g
             if math.isfinite(_num(r.get("clean_acc"))) and math.isfinite(_num(r.get("clean_n")))]
        nn = [_num(r.get("clean_n")) for r in g
              if math.isfinite(_num(r.get("clean_acc"))) and math.isfinite(_num(r.get("clean_n")))]
        row.update(clean_stats(sum(k) / sum(nn) if nn and sum(nn) else None, int(sum(nn)) if nn else None))
        ok = [r for r in g if math.isfinite(_num(r.get("AA_robust"))) and _num(r.get("attacked_n")) > 0]
        if ok:
            c = aa_counts(int(sum(_num(r["AA_robust"]) for r in ok)), int(sum(_num(r["attacked_n"]) for r in ok)))
            row["AA_lo"], row["AA_hi"] = c["AA_lo"], c["AA_hi"]
        else:
            row["AA_lo"] = row["AA_hi"] = float("nan")
        pooled_recs, pooled_pairs = [], []
        for r in g:
            rr = read_records(r.get("attack_dir")) if "attack_dir" in df.columns else None
            pp = read_pairs(r.get("interpret_dir")) if "interpret_dir" in df.columns else None
            pooled_recs += _pooled(rr, r.get("seed", 0))
            pooled_pairs += _pooled(pp, r.get("seed", 0))
        for c in CI_COLUMNS[4:]:
            row[c] = float("nan")
        if pooled_pairs:
            cs = consistency_stats(pooled_pairs, n_boot=n_boot)
            for c in CI_COLUMNS[4:]:
                row[c] = cs[c]
        data[n] = (pooled_recs or None, pooled_pairs or None)
        rows.append(row)
    agg = pd.DataFrame(rows)
    if single:
        return agg
    agg = add_paired_tests(agg, lambda i: data.get(i, (None, None)), keys=("model", "dataset", "attack"), n_perm=n_perm)
    extra = [c for c in agg.columns if c not in out_cols]
    return agg[out_cols + extra]


def with_aggregates(df: pd.DataFrame, agg: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-seed rows, each group followed by its aggregated row (from `aggregate_seeds`) when
    the group has several seeds; `df` itself when no group does."""
    if not has_several_seeds(df):
        return df
    agg = aggregate_seeds(df) if agg is None else agg
    out = []
    cols = _group_cols(df)
    agg_by = {_group_key(r, cols): r for r in agg.to_dict("records")}
    recs = df.to_dict("index")
    for key, ix in seed_groups(df):
        out += [recs[i] for i in ix]
        if len(ix) > 1 and key in agg_by:
            out.append(agg_by[key])
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------------------------
# orderings


COMPARISONS = (("FLAT>adv", "flat", "adv"), ("FLAT>base", "flat", "base"), ("adv>base", "adv", "base"))
PAPER_METHODS = ("base", "adv", "flat")


def comparisons(df: pd.DataFrame | None = None) -> tuple:
    """The paper's three comparisons, then "<method>>base" for every other method in ``df``."""
    extra = [] if df is None or df.empty or "method" not in df.columns else \
        [m for m in dict.fromkeys(df["method"].dropna()) if m not in PAPER_METHODS]
    return COMPARISONS + tuple((f"{m}>base", m, "base") for m in extra)


def orderings(df: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """For each model/dataset/attack (and train attack): does FLAT > adv, FLAT > base, adv > base
    hold in AA, KT and TI, and is the difference significant (paired test p < alpha)?

    Give it one row per method (e.g. `aggregate_seeds` output). Columns: model, dataset, attack,
    train_attack, comparison, metric, a, b (the two values), p, holds (a > b; NaN when a value is
    missing), significant (holds and p < alpha), reversed (a < b and p < alpha)."""
    cols = ["model", "dataset", "attack", "train_attack", "comparison", "metric", "a", "b", "p", "holds",
            "significant", "reversed"]
    if df.empty or "attack" not in df.columns:
        return pd.DataFrame(columns=cols)
    recs = [r for r in df.to_dict("records") if isinstance(r.get("attack"), str) and r["attack"]]

    def same_seed(a, b):  # per-seed rows compare within a seed, aggregated rows with aggregated
        return (_nan(a.get("seed")) and _nan(b.get("seed"))) or a.get("seed") == b.get("seed")

    out = []
    for name, hi, lo in comparisons(df):
        for r in recs:
            if r.get("method") != hi:
                continue
            ta = r.get("train_attack") or ""
            ref = next((o for o in recs if o.get("method") == lo and o["model"] == r["model"]
                        and o["dataset"] == r["dataset"] and o["attack"] == r["attack"]
                        and (lo == "base" or (o.get("train_attack") or "") == ta) and same_seed(o, r)), None)
            if ref is None:
                continue
            for m in METRICS:
                a, b, p = _num(r.get(m)), _num(ref.get(m)), _num(r.get(f"{m}_p_{lo}"))
                both = math.isfinite(a) and math.isfinite(b)
                sig = both and math.isfinite(p) and p < alpha
                out.append({"model": r["model"], "dataset": r["dataset"], "attack": r["attack"], "train_attack": ta,
                            "comparison": name, "metric": m, "a": a, "b": b, "p": p,
                            "holds": (a > b) if both else float("nan"),
                            "significant": bool(sig and a > b), "reversed": bool(sig and a < b)})
    return pd.DataFrame(out, columns=cols)


def ordering_counts(orders: pd.DataFrame) -> pd.DataFrame:
    """Per comparison and metric: n (comparable), holds, significant, reversed (significant the
    other way) counts."""
    rows = []
    present = [] if orders.empty else list(orders["comparison"])
    for name in dict.fromkeys([c[0] for c in COMPARISONS] + present):  # the paper's first, then the rest
        for m in METRICS:
            g = orders[(orders["comparison"] == name) & (orders["metric"] == m)] if not orders.empty else orders
            comp = g[g["holds"].notna()] if not g.empty else g
            rows.append({"comparison": name, "metric": m, "n": len(comp),
                         "holds": int((comp["holds"] == True).sum()) if len(comp) else 0,  # noqa: E712
                         "significant": int(comp["significant"].sum()) if len(comp) else 0,
                         "reversed": int(comp["reversed"].sum()) if len(comp) else 0})
    return pd.DataFrame(rows)


def csv_frame(df: pd.DataFrame, agg: pd.DataFrame | None = None) -> pd.DataFrame:
    """What `flatbench report --csv` writes: every per-seed row and, for groups with several seeds,
    their aggregated row (seed empty, seeds / n_seeds set); without the per-example paths and the
    top-k curves other than k = 5."""
    out = with_aggregates(df, agg)
    keep = [c for c in out.columns if c not in ("interpret_dir", "attack_dir")
            and ("_topk_" not in c or c.endswith("_topk_5"))]
    return out[keep]


__all__ = ["collect", "aggregate_seeds", "with_aggregates", "orderings", "ordering_counts", "aa_stats", "aa_counts",
           "clean_stats", "consistency_stats", "paired_p", "add_paired_tests", "read_records", "read_pairs",
           "record_values", "pair_values", "csv_frame", "has_several_seeds", "seed_groups"]
