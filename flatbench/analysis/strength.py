"""Strength-matched offline attacks: the protocol, fixed before any matched attack ran.

Offline, the attacks' embedding bounds are a free parameter (the published ones were set for the
300-d paragramcf space; our derived space is 50-d). The F1 bound chosen on the counter-fitting
constraints makes TextFooler, Gene and IGA far weaker than the paper's, so orderings between
methods are mostly ties. This module matches the attack's *strength* instead, by a protocol that
never looks at an adv or FLAT model:

- one free parameter per (dataset, recipe): TextFooler's embedding cosine bound, Gene's and IGA's
  MSE bound (as the equivalent cosine, mse = 2 - 2 cos on the unit-length space); PWWS has none;
- chosen on the **base** LSTM and CNN of table3_cpu (its settings and seed 13) on the **dev**
  split (SST2's official 872 sentences; TREC's seeded 452-question hold-out). TextFooler attacks
  the whole dev split; Gene and IGA, ~20x slower, a seeded 200-sentence subset of SST2's dev;
- candidates: cos 0.50, 0.55, ..., 0.95 (`BOUND_GRID`). TextFooler evaluates every candidate;
  Gene and IGA bisect the grid (after-attack accuracy rises with the bound, so bisection finds
  the same bracketing pair as a full scan; where the values seen are not monotone, every
  candidate is evaluated);
- the target is the mean of the paper's two base after-attack accuracies (LSTM, CNN) for that
  dataset and recipe (Table 3 for TextFooler, Table 4 SST2 for Gene and IGA); the chosen value
  is the candidate whose mean base AA over the two models is closest to it (ties: the stricter,
  higher cosine). One value serves both models, so LSTM-vs-CNN differences stay real.

The choice is shipped as data (`flatbench/resources/strength_matched.json`, written by
`flatbench strength calibrate`, with the dev AA of every candidate and the stage keys) and read at
plan time: `attack_bounds = "matched"` resolves to the concrete cosine, which enters every key.
Torch-free.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from flatbench.attacks.recipes._common import BOUND_GRID

TABLE_FILE = "strength_matched.json"
CALIBRATION_GRID = "strength_calibration"
MODELS = ("lstm", "cnn")
# (dataset, recipe) -> the paper table its target comes from
PLAN = {("sst2", "textfooler"): "table3", ("trec", "textfooler"): "table3",
        ("sst2", "gene"): "table4", ("sst2", "iga"): "table4"}
SEARCH = {"textfooler": "scan", "gene": "bisect", "iga": "bisect"}
DEV_N = {"textfooler": None, "gene": 200, "iga": 200}  # None: the whole dev split

PROTOCOL = (
    "one bound per (dataset, recipe), chosen on the base LSTM and CNN (table3_cpu settings, seed 13) "
    "on the dev split from cos 0.50, 0.55, ..., 0.95 (MSE recipes: mse = 2 - 2 cos): the value whose "
    "mean base after-attack accuracy over the two models is closest to the mean of the paper's two "
    "base after-attack accuracies (Table 3; Gene/IGA: Table 4, SST2); TextFooler scans the whole "
    "grid on the whole dev split, Gene/IGA bisect it on a seeded 200-sentence dev subset; fixed "
    "before any adv or FLAT model was attacked at that strength")


def target(dataset: str, recipe: str) -> float:
    """The mean of the paper's base after-attack accuracies (LSTM, CNN), in %."""
    from flatbench.report import paper

    if PLAN[(dataset, recipe)] == "table3":
        t = paper.table3()
        rows = t[(t.attack == recipe) & (t.method == "base") & (t.dataset == dataset) & t.model.isin(MODELS)]
        vals = rows["AA"].astype(float).tolist()
    else:
        t = paper.table4()
        rows = t[(t.attack == recipe) & (t.method == "base") & t.model.isin(MODELS)]
        vals = rows["AA"].astype(float).tolist()
    if len(vals) != len(MODELS):
        raise ValueError(f"paper has {len(vals)} base AA values for {dataset}/{recipe}")
    return sum(vals) / len(vals)


def choose(mean_aa: dict[float, float], goal: float) -> float:
    """The candidate whose mean AA is closest to ``goal``; ties go to the higher (stricter) cos."""
    if not mean_aa:
        raise ValueError("no candidate evaluated")
    return min(mean_aa, key=lambda c: (round(abs(mean_aa[c] - goal), 9), -c))


def next_candidate(mean_aa: dict[float, float], goal: float, grid=BOUND_GRID, search: str = "bisect"):
    """The next grid value to evaluate, or None when the choice is decided.

    scan: every value, in grid order. bisect: AA rises with the cosine (a stricter bound leaves
    fewer substitutes), so the crossing of ``goal`` lies between the highest index whose AA is at
    or below it and the lowest index whose AA is above it (virtual ends -1 and n); evaluate the
    midpoint until those two are neighbours. Seen values that are not monotone fall back to a scan."""
    grid = list(grid)
    todo = [c for c in grid if c not in mean_aa]
    if search == "scan" or not _monotone(mean_aa):
        return todo[0] if todo else None
    lo, hi = -1, len(grid)
    for i, c in enumerate(grid):
        if c in mean_aa:
            if mean_aa[c] <= goal:
                lo = max(lo, i)
            else:
                hi = min(hi, i)
    if hi - lo <= 1:
        return None
    return grid[(lo + hi) // 2]


def _monotone(mean_aa: dict[float, float]) -> bool:
    vals = [mean_aa[c] for c in sorted(mean_aa)]
    return all(a <= b for a, b in zip(vals, vals[1:]))


def table_path() -> Path:
    return Path(str(resources.files("flatbench") / "resources" / TABLE_FILE))


def load_table() -> dict:
    p = table_path()
    if not p.exists():
        return {"bounds": {}}
    return json.loads(p.read_text(encoding="utf-8"))


def matched_entry(dataset: str, recipe: str) -> dict | None:
    """The shipped strength-matched bound of a dataset and recipe, or None (not calibrated)."""
    return load_table().get("bounds", {}).get(f"{dataset}/{recipe}")


def matched_cos(dataset: str, recipe: str) -> float | None:
    """The shipped strength-matched cosine for a dataset and recipe, or None (not calibrated)."""
    entry = matched_entry(dataset, recipe)
    return None if entry is None else float(entry["cos"])


def matched_note(entry: dict) -> str:
    """The deviation line's account of how a matched bound was chosen."""
    aa = entry["dev_aa"]
    return (f"mean dev AA {aa['mean']:.2f} (" + ", ".join(f"{m} {aa[m]:.2f}" for m in MODELS)
            + f"; n {aa['n']}) against the paper's mean base AA {entry['target']:.2f}, "
            f"grid cos 0.50-0.95, {entry['search']}")


def write_table(table: dict, path: Path | None = None) -> Path:
    """Write the table atomically (flatbench.io) into the package's resources."""
    from flatbench.io import write_text_atomic

    path = path or table_path()
    write_text_atomic(path, json.dumps(table, indent=1, sort_keys=True) + "\n")
    return path


def split_shift(table: dict, test_keys: dict, read) -> list[dict]:
    """Why a bound chosen on dev can give another AA on test: for each matched (dataset, recipe)
    and protocol model, the dev attack the protocol chose on (the table's keys) beside the same
    base model's test attack at that bound (``test_keys``: {(group, model): attack stage key}).
    ``read(key)``: that attack's records.jsonl rows, or None. Per split: texts, whitespace tokens
    per text, model queries per attacked text (its word-importance ranking plus every substitute
    that passed the constraints: fewer substitutes, fewer queries), the attack's success among
    the texts it attacked, and AA (%)."""
    rows = []
    for group, entry in sorted(table.get("bounds", {}).items()):
        for model in MODELS:
            pair = {"dev": (entry.get("dev_aa") or {}).get("keys", {}).get(model), "test": test_keys.get((group, model))}
            recs = {split: read(key) if key else None for split, key in pair.items()}
            if not all(recs.values()):
                continue
            for split, rs in recs.items():
                attacked = [r for r in rs if r["status"] != "skipped"]
                rows.append({"group": group, "cos": entry["cos"], "target": entry["target"], "model": model,
                             "split": split, "n": len(rs),
                             "tokens": sum(len(r["original"].split()) for r in rs) / len(rs),
                             "queries": sum(r["queries"] for r in attacked) / max(1, len(attacked)),
                             "success": 100 * sum(r["status"] == "succeeded" for r in attacked) / max(1, len(attacked)),
                             "AA": 100 * sum(r["status"] == "failed" for r in rs) / len(rs)})
    return rows
