"""A/B of two checkouts on one attack: the speed of a change to the attack runner, with its outcomes.

Runs `warm_attack.py`'s child (fresh process: build the attack, then time model B's attack of N
seeded training sentences of `--dataset` (SST2); `--mode warm` attacks them with model A first, as a grid's later
rounds do) once with each checkout first on PYTHONPATH, interleaved (base, head, head, base, ...),
and compares every run's records (status, adversarial text, queries, replaced words): a speed-up
that changes one outcome is a defect.

    git worktree add /tmp/base HEAD~1
    python benchmarks/ab_attack.py --base /tmp/base --recipes textfooler --n 300 --repeats 3 \\
        --out benchmarks/baselines/ab_<what>_<date>.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the checkout before the change")
    ap.add_argument("--head", type=Path, default=HERE.parent, help="the checkout with it (default: this one)")
    ap.add_argument("--recipes", default="textfooler")
    ap.add_argument("--model", default="lstm")
    ap.add_argument("--mode", choices=("cold", "warm"), default="cold")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bound", default="cos0.75", help="attack_bounds option (SST2's matched TextFooler bound)")
    ap.add_argument("--dataset", default="sst2", help="whose training sentences are attacked, by models trained on it")
    ap.add_argument("--root", default=str(HERE / ".models"))
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    from attack_throughput import trained_model
    from warm_attack import once

    a, b = (str(trained_model(args.model, Path(args.root), s, args.dataset)) for s in (7, 8))
    sides = {"base": args.base.resolve(), "head": args.head.resolve()}
    runs = []
    for recipe in args.recipes.split(","):
        for rep in range(args.repeats):
            for side in (("base", "head", "head", "base") if rep % 2 == 0 else ("head", "base", "base", "head")):
                r = once(args.mode, recipe, a, b, args.n, args.bound, checkout=sides[side], dataset=args.dataset)
                r.update(side=side, rep=rep)
                runs.append(r)
                print(f"{recipe} {side} rep {rep}: {r['loop_s']:.1f} s (forward {r['forward_s']:.1f}), "
                      f"load {r['load1']:.1f}", file=sys.stderr, flush=True)
    summary = {}
    for recipe in args.recipes.split(","):
        rs = [r for r in runs if r["recipe"] == recipe]
        med = {s: {k: statistics.median(r[k] for r in rs if r["side"] == s) for k in ("loop_s", "forward_s")}
               for s in sides}
        rng = {s: [min(r["loop_s"] for r in rs if r["side"] == s), max(r["loop_s"] for r in rs if r["side"] == s)]
               for s in sides}
        rest = ((med["head"]["loop_s"] - med["head"]["forward_s"])
                / max(1e-9, med["base"]["loop_s"] - med["base"]["forward_s"]))
        same = all(r["records"] == rs[0]["records"] for r in rs)
        summary[recipe] = {**{s: {**med[s], "loop_range_s": rng[s]} for s in sides},
                           "head_over_base": round(med["head"]["loop_s"] / med["base"]["loop_s"], 3),
                           "rest_head_over_base": round(rest, 3), "identical_records": same,
                           "runs_per_side": sum(r["side"] == "base" for r in rs),
                           "loads": [round(r["load1"], 2) for r in rs]}
        print(f"{recipe} ({args.mode}): base {med['base']['loop_s']:.1f} s, head {med['head']['loop_s']:.1f} s "
              f"({summary[recipe]['head_over_base']:.2f}x; outside the forward {rest:.2f}x); "
              f"records identical in all {len(rs)} runs: {same}", file=sys.stderr)
    out = {"model": args.model, "dataset": args.dataset, "mode": args.mode, "n": args.n, "bound": args.bound, "repeats": args.repeats,
           "base": str(sides["base"]), "head": str(sides["head"]), "summary": summary,
           "runs": [{k: v for k, v in r.items() if k != "records"} for r in runs]}
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
