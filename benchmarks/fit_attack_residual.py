"""Fit what the estimate still misses on the grid's own attack stages, and check a fit on another run.

    python benchmarks/fit_attack_residual.py fit baselines/slice_adv_*_2026-12-05_*.json
    python benchmarks/fit_attack_residual.py check runs/estimates/*.json [--runs-dir runs] [--before-residual]

Input: the predicted-vs-actual JSONs every `flatbench run` writes (<runs-dir>/estimates/*.json, one
per process): each computed stage with the estimate its process made before it ran and the seconds
it took. The attack stages' estimates come from rates fitted on stock TextAttack's search loop,
scaled by SEARCH_FACTOR (benchmarks/warm_attack.py, 500 sentences of one model pair); this fits the
remaining ratio, actual / estimated, as a factor per (recipe, dataset, cold|warm) times a factor per
victim model (the CNN's is 1), by alternating ratio estimators (sum of seconds over sum of
estimates, so each group's total is matched on the data it is fitted on).

`fit` prints the factors as `flatbench.estimate.GRID_RESIDUAL` / `MODEL_RESIDUAL` take them.
`check` prices other runs' stages with the code as it is: each row's recorded estimate, times
today's residual when the run's code predates GRID_RESIDUAL (`--before-residual`; otherwise the
recorded estimate already is today's), then prints actual / predicted per process, stage kind and
attack group, beside the recorded estimate's ratio. A run
used by `fit` proves nothing in `check`: check on a later run.

Warm or cold: a row says so when its process recorded it; otherwise (the 2026-12-05 slices) an
attack is warm when an earlier attack of the same process had the same recipe, dataset and split,
which is the runner's memo rule (flatbench.attacks.warm) for the table3 grid, whose cells share
each dataset's bound and example selection. `--runs-dir` reads each stage's own record instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flatbench import estimate as E  # noqa: E402

ROUND = re.compile(r" r(\d+) (train|test|dev) ")


def load_rows(paths, runs_dir: Path | None = None) -> list[dict]:
    """Every computed stage of the given estimate JSONs, with process, round, split and warm."""
    rows = []
    for p in paths:
        data = json.loads(Path(p).read_text())
        seen = set()
        for r in sorted(data["stages"], key=lambda r: r.get("finished") or ""):
            r = dict(r, process=Path(p).stem)
            if r["kind"] == "attack":
                m = ROUND.search(r["label"])
                r["round"], r["split"] = (int(m.group(1)), m.group(2)) if m else (0, "test")
                same = (r["recipe"], r["dataset"], r["split"])
                if "warm" not in r:
                    r["warm"] = same in seen
                    if runs_dir is not None:
                        man = runs_dir / "attack" / r["key"] / "manifest.json"
                        if man.exists():
                            r["warm"] = bool((json.loads(man.read_text()).get("metrics") or {}).get("warm"))
                seen.add(same)
            rows.append(r)
    return rows


def group(r: dict) -> tuple:
    return (r["recipe"], r["dataset"], "warm" if r["warm"] else "cold")


def fit(rows: list[dict], iterations: int = 50) -> tuple[dict, dict]:
    attacks = [r for r in rows if r["kind"] == "attack" and r.get("estimate_seconds")]
    models = sorted({r["model"] for r in attacks})
    C = {group(r): 1.0 for r in attacks}
    M = dict.fromkeys(models, 1.0)
    for _ in range(iterations):
        for g in C:
            rs = [r for r in attacks if group(r) == g]
            C[g] = sum(r["seconds"] for r in rs) / sum(r["estimate_seconds"] * M[r["model"]] for r in rs)
        for m in models:
            rs = [r for r in attacks if r["model"] == m]
            M[m] = sum(r["seconds"] for r in rs) / sum(r["estimate_seconds"] * C[group(r)] for r in rs)
        ref = M.get("cnn", 1.0)  # the CNN carries the group factors
        M = {m: v / ref for m, v in M.items()}
    return C, M


def today(r: dict, before_residual: bool) -> float:
    """The estimate of the code as it is, from the one the row's process recorded (which applied
    no residual when ``before_residual``, and today's otherwise)."""
    if r["kind"] != "attack" or not before_residual:
        return r["estimate_seconds"]
    # such a run predates TAGGER_FACTOR's tagger too: its TextFooler stages tagged with spaCy whole
    return r["estimate_seconds"] * E.attack_residual(r["recipe"], r["dataset"], r["model"], r["warm"], tagger=False)


def summary(rows: list[dict], predict) -> list[list]:
    by = defaultdict(lambda: [0, 0.0, 0.0])
    for r in rows:
        if r.get("estimate_seconds") is None or r.get("seconds") is None:
            continue
        keys = [(r["process"], "all"), (r["process"], r["kind"])]
        if r["kind"] == "attack":
            keys.append((r["process"], f"attack {r['dataset']} {r['recipe']} {'warm' if r['warm'] else 'cold'}"))
        for k in keys:
            by[k][0] += 1
            by[k][1] += predict(r)
            by[k][2] += r["seconds"]
    return [[p, k, n, f"{e / 60:.1f}", f"{a / 60:.1f}", f"{a / e:.2f}"] for (p, k), (n, e, a) in sorted(by.items())]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("fit", "check"))
    ap.add_argument("files", nargs="+")
    ap.add_argument("--runs-dir", type=Path, help="read each attack stage's warm flag from its manifest")
    ap.add_argument("--before-residual", action="store_true",
                    help="the runs' code predates GRID_RESIDUAL: apply today's to their recorded estimates")
    ap.add_argument("--json", type=Path, help="write the table here too")
    a = ap.parse_args(argv)
    rows = load_rows(a.files, a.runs_dir)
    head = ["process", "stages", "n", "predicted min", "actual min", "actual / predicted"]
    if a.mode == "fit":
        C, M = fit(rows)
        print("GRID_RESIDUAL = {  # (recipe, dataset): (cold, warm)")
        for rd in sorted({g[:2] for g in C}):
            print(f"    {rd!r}: ({C.get(rd + ('cold',), 1.0):.2f}, {C.get(rd + ('warm',), 1.0):.2f}),")
        print("}")
        print("MODEL_RESIDUAL =", {m: round(v, 2) for m, v in M.items()})
        fitted = lambda r: r["estimate_seconds"] * (C[group(r)] * M[r["model"]] if r["kind"] == "attack" else 1)  # noqa: E731
        table = summary(rows, fitted)
        print("\nOn the stages it was fitted on (matched in aggregate per group by construction):")
    else:
        table = summary(rows, lambda r: today(r, a.before_residual))
        recorded = {tuple(t[:2]): t[-1] for t in summary(rows, lambda r: r["estimate_seconds"])}
        table = [t + [recorded[tuple(t[:2])]] for t in table]
        head = head + ["actual / recorded estimate"]
        print("Priced by the code as it is (flatbench.estimate), against what the stages took:")
    print(tabulate(table, head, tablefmt="github"))
    if a.json:
        a.json.write_text(json.dumps({"mode": a.mode, "files": a.files, "rows": [dict(zip(head, t)) for t in table]},
                                     indent=1))


if __name__ == "__main__":
    main()
