"""Seeds and orderings over `flatbench.results.collect`'s rows: `aggregate_seeds` (across-seed mean
and sd, CIs and paired tests pooled over all seeds' examples), `with_aggregates` (per-seed rows,
each group followed by its aggregate), `orderings` (does FLAT > adv > base hold, significantly?)
and `csv_frame` (what the CSV / leaderboards hold). Reads only per-example files of cached stages.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from flatbench.analysis.records import (  # noqa: F401 - constants re-exported for the report
    ALPHA,
    CI_COLUMNS,
    COUNT_COLUMNS,
    GROUP,
    METRICS,
    N_BOOT,
    N_PERM,
    P_COLUMNS,
    SD_COLUMNS,
    _nan,
    _num,
    aa_counts,
    add_paired_tests,
    clean_stats,
    consistency_stats,
    read_pairs,
    read_records,
    seed_idx,
)
from flatbench.analysis.stats import mean_sd

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


def aggregate_seeds(df: pd.DataFrame, *, n_boot: int = N_BOOT, n_perm: int = N_PERM) -> pd.DataFrame:
    """One row per (model, dataset, method, train_attack, attack, variant) over its seeds.

    Numeric columns: the across-seed mean, and for SD_COLUMNS the sample sd (`<col>_sd`, ddof=1;
    NaN for one seed). Count columns (COUNT_COLUMNS): summed. CIs pooled over all seeds'
    examples: clean and AA by Clopper-Pearson on the pooled counts, KT/TI (and _succ) by the
    stratified bootstrap over the pooled pairs (pairs.jsonl via interpret_dir). Paired tests
    (P_COLUMNS) on the pooled records/pairs matched by (seed, idx). Also seeds ("13,42") and
    n_seeds, of the seeds that measured something (clean, AA or KT), and seed = NaN. A frame
    whose groups all have one seed comes back as it is (plus seeds / n_seeds / NaN sds): pooling
    one seed changes nothing."""
    out_cols = list(df.columns)
    if df.empty:
        return df.copy()
    groups = seed_groups(df)
    recs = df.to_dict("index")
    single = all(len(ix) == 1 for _, ix in groups)
    rows, data = [], {}
    for n, (_, ix) in enumerate(groups):
        g = [recs[i] for i in ix]
        # the seeds that measured something: a grid part-way through its seeds has rows for seeds
        # not run yet, which a "mean of n" must not count
        measured = [r for r in g if any(math.isfinite(_num(r.get(c))) for c in ("clean_acc", "AA", "KT"))]
        row = dict(g[0])
        row["seeds"] = ",".join(str(int(r["seed"])) for r in measured if not _nan(r.get("seed")))
        row["n_seeds"] = len(measured)
        # base models are shared across attacks: their clean accuracy can cover more seeds than
        # one attack's AA (seeds 14, 15 trained for PWWS, not yet attacked with TextFooler)
        row["n_seeds_attacked"] = sum(math.isfinite(_num(r.get("AA"))) for r in g)
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
            pooled_recs += seed_idx(rr, r.get("seed", 0))
            pooled_pairs += seed_idx(pp, r.get("seed", 0))
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


__all__ = ["aggregate_seeds", "with_aggregates", "orderings", "ordering_counts", "comparisons", "csv_frame",
           "has_several_seeds", "seed_groups", "ALPHA", "N_BOOT", "N_PERM"]
