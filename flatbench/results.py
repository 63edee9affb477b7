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
- certified_acc (%), certified_radius_mean: where the attacked model certifies (SAFER), its
  certificate over the same attacked examples (absent otherwise);
- attack_dir / interpret_dir: the stage directories the per-example data came from.

`aggregate_seeds` turns per-seed rows into one row per (model, dataset, method, train_attack,
attack, variant): across-seed mean and sd (ddof=1) plus CIs and paired tests pooled over the
per-example records of all seeds (pairs matched by (seed, idx)). `orderings` says, for every
model/dataset/attack, whether FLAT > adv, FLAT > base and adv > base hold in AA/KT/TI and whether
the difference is significant.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flatbench.analysis.records import *  # noqa: F401,F403 - the per-example statistics, re-exported
from flatbench.analysis.records import (  # noqa: F401 - constants re-exported
    ALPHA,
    BOOT_SEED,
    CI_COLUMNS,
    COUNT_COLUMNS,
    GROUP,
    IDX_STRIDE,
    LEVEL,
    METRICS,
    N_BOOT,
    N_PERM,
    P_COLUMNS,
    REFS,
    SD_COLUMNS,
    aa_counts,
    aa_stats,
    add_paired_tests,
    clean_stats,
    consistency_stats,
    ensure_columns,
    read_pairs,
    read_records,
    row_data,
)
from flatbench.analysis.seeds import *  # noqa: F401,F403 - seeds and orderings, re-exported
from flatbench.analysis.seeds import COMPARISONS, PAPER_METHODS  # noqa: F401
from flatbench.analysis.deviations import collapse_deviations
from flatbench.interpret.consistency import rescore_pairs
from flatbench.settings import cell_hp
from flatbench.stages import Context, plan

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

        hp = cell_hp(cell)
        if cell.train_attack and hp.rounds < 3:
            devs.add(f"{hp.rounds} attack/train round(s) instead of the paper's 3-5")
        if any(k.startswith("interpret:") for k in t) and hp.lime_pairs < 1000:
            devs.add(f"LIME on at most {hp.lime_pairs} seeded random pairs per cell instead of the "
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
                if "certified_acc" in mm:  # SAFER: its certificate over the same attacked examples
                    row.update(certified_acc=mm["certified_acc"] * 100,
                               certified_radius_mean=mm.get("certified_radius_mean"))
            im = manifest(t[f"interpret:{a}"]) if f"interpret:{a}" in t else None
            if im:
                row.update(_interpret_columns(im["metrics"], ctx.cache.dir("interpret", t[f"interpret:{a}"].key),
                                              n_boot))
            rows.append(row)
    df = ensure_columns(pd.DataFrame(rows))
    df = add_paired_tests(df, row_data(df), n_perm=n_perm)
    return df, collapse_deviations(devs), {"done": done, "total": total}


def _interpret_columns(mm: dict, d: Path, n_boot: int) -> dict:
    row = {"interpret_dir": str(d)}
    row.update({f"{m}_topk_{k}": mm.get(f"{m}_topk_{k}") for m in ("ig", "lime") for k in range(1, 11)})
    row.update(KT=mm.get("ig_kendall_tau"), TI=mm.get("ig_topk_5"),
               LIME_KT=mm.get("lime_kendall_tau"), LIME_TI=mm.get("lime_topk_5"))
    # IG completeness (|sum of attributions - (F(x) - F(baseline))| relative to |F(x) - F(baseline)|),
    # where the interpret stage recorded it
    row.update({k: mm[k] for k in ("ig_rel_delta_median", "ig_rel_delta_p95", "ig_rel_delta_max") if k in mm})
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


__all__ = ["collect", "aggregate_seeds", "with_aggregates", "orderings", "ordering_counts", "aa_stats", "aa_counts",
           "clean_stats", "consistency_stats", "paired_p", "add_paired_tests", "read_records", "read_pairs",
           "record_values", "pair_values", "csv_frame", "has_several_seeds", "seed_groups"]
