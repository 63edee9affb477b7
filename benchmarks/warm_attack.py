"""Warm attacks: the same training sentences attacked again in one process, against another model.

At the paper's procedure every adversarial round attacks the whole training set again (and adv
and FLAT attack the same one). What the runner memoises per process (synonyms, POS contexts,
embedding distances, sentence-encoder windows) does not depend on the model, so a second attack of
the same sentences in the process should cost less. This measures how much, in fresh processes:

- cold: model B attacks the N sentences;
- warm: model A attacks them, then model B (B's attack is timed);

interleaved (cold, warm, then warm, cold, ...), with B's records compared between the two: the
memos must not change an outcome. Models: two seeded 2-epoch SST2 models of the same kind
(`attack_throughput.trained_model`, seeds 7 and 8). The share of the time outside the model's
forward that the warm attack keeps is `estimate.WARM_FACTOR`'s reading.

    python benchmarks/warm_attack.py --recipes textfooler,pwws --model lstm --n 500 --repeats 2 \\
        --out benchmarks/baselines/warm_attack.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _items(n: int, dataset: str = "sst2"):
    import random

    from flatbench.data.datasets import load_dataset

    tr = load_dataset(dataset).train
    idx = random.Random(0).sample(range(len(tr)), n)
    return [(i, tr.texts[i], int(tr.labels[i])) for i in idx]


def child(mode: str, recipe: str, a: str, b: str, n: int, bound: str, dataset: str = "sst2") -> dict:
    """One fresh process: (warm: attack with A first, then) attack with B; B's timing and records."""
    from flatbench.attacks.runner import run_attack

    items, tmp, opts = _items(n, dataset), Path(tempfile.mkdtemp()), {"attack_bounds": bound}
    t0 = time.perf_counter()
    # build the attack (resources, encoder) outside the timed loops, as a grid process has
    run_attack(a, recipe, [(10**7, "a fine , funny film .", 1)], tmp / "w", progress=False, options=opts, threads=1)
    startup = time.perf_counter() - t0
    first = None
    if mode == "warm":
        t = time.perf_counter()
        run_attack(a, recipe, items, tmp / "a", progress=False, options=opts, threads=1)
        first = time.perf_counter() - t
    t = time.perf_counter()
    recs, st = run_attack(b, recipe, items, tmp / "b", progress=False, options=opts, threads=1)
    loop = time.perf_counter() - t
    keep = ("idx", "status", "adversarial", "queries", "replaced")
    return {"startup_s": startup, "first_model_s": first, "loop_s": loop, "forward_s": st["forward_seconds"],
            "records": [{k: r.get(k) for k in keep} for r in recs]}


def once(mode, recipe, a, b, n, bound, checkout=None, search=None, dataset="sst2") -> dict:
    """One fresh child process; ``checkout``: run that checkout's flatbench (first on PYTHONPATH,
    one attack worker; `ab_attack.py`), else this environment's."""
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", mode, "--recipes", recipe, "--a", str(a), "--b", str(b),
           "--n", str(n), "--bound", bound, "--dataset", dataset]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if checkout is not None:
        env.update(PYTHONPATH=str(checkout), FLATBENCH_ATTACK_WORKERS="1")
    if search is not None:  # flatbench.attacks.greedy on ("greedy") or off ("stock")
        env["FLATBENCH_ATTACK_SEARCH"] = "stock" if search == "stock" else "on"
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=None if checkout is None else str(checkout))
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(mode=mode, recipe=recipe, load1=load, search=search or "default")
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", default="textfooler,pwws")
    ap.add_argument("--model", default="lstm")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bound", default="cos0.75", help="attack_bounds option (SST2's matched TextFooler bound)")
    ap.add_argument("--root", default=str(HERE / ".models"))
    ap.add_argument("--dataset", default="sst2", help="whose training sentences are attacked, by models trained on it")
    ap.add_argument("--out")
    ap.add_argument("--searches", default=None,
                    help="comma list of stock,greedy: interleave runner searches (FLATBENCH_ATTACK_SEARCH) "
                         "and report each one's times and greedy's over stock's")
    ap.add_argument("--child", choices=("cold", "warm"))
    ap.add_argument("--a")
    ap.add_argument("--b")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.recipes, args.a, args.b, args.n, args.bound, args.dataset)))
        return {}

    from attack_throughput import trained_model

    a = trained_model(args.model, Path(args.root), 7, args.dataset)
    b = trained_model(args.model, Path(args.root), 8, args.dataset)
    runs = []
    searches = args.searches.split(",") if args.searches else [None]
    for recipe in args.recipes.split(","):
        for rep in range(args.repeats):
            order = [(m, s) for m in ("cold", "warm") for s in searches]
            for mode, search in (order if rep % 2 == 0 else order[::-1]):
                runs.append(once(mode, recipe, a, b, args.n, args.bound, search=search, dataset=args.dataset))
                print(f"{recipe} {mode} {search or ''} rep {rep}: B {runs[-1]['loop_s']:.1f} s "
                      f"(forward {runs[-1]['forward_s']:.1f}), load {runs[-1]['load1']:.1f}", file=sys.stderr, flush=True)
    summary = {}
    for recipe, search in [(r, s) for r in args.recipes.split(",") for s in searches]:
        if search is not None:
            mine = [r for r in runs if r["recipe"] == recipe]
            same_all = all(r["records"] == mine[0]["records"] for r in mine)
        cold = [r for r in runs if r["recipe"] == recipe and r["mode"] == "cold" and r["search"] == (search or "default")]
        warm = [r for r in runs if r["recipe"] == recipe and r["mode"] == "warm" and r["search"] == (search or "default")]
        med = {m: {k: statistics.median(r[k] for r in rs) for k in ("loop_s", "forward_s")}
               for m, rs in (("cold", cold), ("warm", warm))}
        rest = ((med["warm"]["loop_s"] - med["warm"]["forward_s"])
                / max(1e-9, med["cold"]["loop_s"] - med["cold"]["forward_s"]))
        same = all(r["records"] == cold[0]["records"] for r in cold + warm)
        key = recipe if search is None else f"{recipe}/{search}"
        summary[key] = {"cold": med["cold"], "warm": med["warm"],
                        "warm_over_cold": round(med["warm"]["loop_s"] / med["cold"]["loop_s"], 3),
                        "rest_warm_over_cold": round(rest, 3), "identical_records": same,
                        "loads": [round(r["load1"], 2) for r in cold + warm]}
        if search is not None:
            summary[key]["identical_records_all_searches"] = same_all
        print(f"{key}: B cold {med['cold']['loop_s']:.1f} s, warm {med['warm']['loop_s']:.1f} s "
              f"({summary[key]['warm_over_cold']:.2f}x; outside the forward {rest:.2f}x); "
              f"records identical: {same}", file=sys.stderr)
    if {"stock", "greedy"} <= set(searches):  # greedy's time outside the forward over stock's
        for recipe in args.recipes.split(","):
            g, st = summary[f"{recipe}/greedy"], summary[f"{recipe}/stock"]
            summary[f"{recipe}/greedy_over_stock"] = {
                m: {"loop": round(g[m]["loop_s"] / st[m]["loop_s"], 3),
                    "rest": round((g[m]["loop_s"] - g[m]["forward_s"]) / max(1e-9, st[m]["loop_s"] - st[m]["forward_s"]), 3)}
                for m in ("cold", "warm")}
            print(f"{recipe} greedy/stock: {summary[f'{recipe}/greedy_over_stock']}", file=sys.stderr)
    out = {"model": args.model, "dataset": args.dataset, "n": args.n, "bound": args.bound, "repeats": args.repeats,
           "summary": summary, "runs": [{k: v for k, v in r.items() if k != "records"} for r in runs]}
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
