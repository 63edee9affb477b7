"""Collect what a grid's stages produced (from the cache only: nothing is trained, attacked or
explained here; magnitude-ranked consistency is re-scored from the stored per-pair attributions)."""

from __future__ import annotations

import json

import pandas as pd

from flatbench.interpret.consistency import rescore_pairs
from flatbench.stages import Context, plan


def collect(grid, ctx: Context) -> tuple[pd.DataFrame, list[str], dict]:
    """One row per (cell, measured attack): clean acc and, where measured, AA/KT/TI.

    Returns (rows, deviations, progress counts)."""
    _, targets = plan(grid)
    rows, devs = [], set()
    done = total = 0
    for cell, t in targets.items():
        base = {"model": cell.model, "dataset": cell.dataset, "method": cell.method,
                "train_attack": cell.train_attack or "", "seed": cell.seed, "cell": cell.id,
                "beta": cell.hp.get("beta"), "gamma": cell.hp.get("gamma")}

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

        ev = manifest(t["evaluate"]) if "evaluate" in t else None
        tr = manifest(t["train"])
        clean = ev["metrics"]["test_acc"] * 100 if ev else None
        common = {**base, "clean_acc": clean,
                  "train_seconds": tr["seconds"] if tr else None}
        attacks = [k.split(":", 1)[1] for k in t if k.startswith("attack:")]
        if not attacks:
            rows.append(common)
        for a in attacks:
            row = {**common, "attack": a}
            am = manifest(t[f"attack:{a}"])
            if am:
                mm = am["metrics"]
                row.update(AA=mm["after_attack_acc"] * 100, attack_success=mm.get("success_rate"),
                           attacked_n=mm.get("n"), attack_seconds=am["seconds"])
            im = manifest(t[f"interpret:{a}"]) if f"interpret:{a}" in t else None
            if im:
                mm = im["metrics"]
                row["interpret_dir"] = str(ctx.cache.dir("interpret", t[f"interpret:{a}"].key))
                row.update({f"{m}_topk_{k}": mm.get(f"{m}_topk_{k}") for m in ("ig", "lime") for k in range(1, 11)})
                row.update(KT=mm.get("ig_kendall_tau"), TI=mm.get("ig_topk_5"),
                           LIME_KT=mm.get("lime_kendall_tau"), LIME_TI=mm.get("lime_topk_5"))
                row.update(_magnitude(ctx.cache.dir("interpret", t[f"interpret:{a}"].key)))
            rows.append(row)
    return pd.DataFrame(rows), sorted(devs), {"done": done, "total": total}


def _magnitude(d) -> dict:
    """KT/TI with words ranked by |attribution| (secondary reading; see rescore_pairs)."""
    p = d / "pairs.jsonl"
    if not p.exists():
        return {}
    with open(p, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    ig, lime = rescore_pairs(rows, "ig"), rescore_pairs(rows, "lime")
    return {"KT_abs": ig["kendall_tau"], "TI_abs": ig["topk_5"],
            "LIME_KT_abs": lime["kendall_tau"], "LIME_TI_abs": lime["topk_5"]}
