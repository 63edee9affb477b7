"""Honest attack-throughput benchmark (issue: attack throughput, measured honestly).

    python benchmarks/attack_throughput.py [--recipes pwws,textfooler] [--models cnn,lstm] [--n 50]
        [--repeats 3] [--workers 2] [--e2e-n 50,500] [--out benchmarks/baselines/throughput.json]

For each recipe and trained model (the same seeded SST2 test examples, the same Attack recipe):
  (a) per process: flatbench's runner with 1 worker vs stock `textattack.Attacker`, attack loop
      only (start-up excluded in both) and whole process (start-up included);
  (b) parallel scaling: ours with N workers vs ours with 1, whole process;
  (c) end to end with start-up: the whole process of stock vs ours with N workers, for each
      --e2e-n;
  (d) with --stages-n: one process running every (model, recipe) as a stage, as a grid run does
      (stock builds an Attack and runs an Attacker per stage; ours calls run_attack per stage and
      keeps its workers, resources and built attacks from stage to stage), stock vs ours-1 vs
      ours-N, whole process.
Every measurement is its own fresh process (benchmarks/attack_once.py), runs are interleaved
(stock, ours-1, ours-N, then the next repeat in the opposite order), medians and min-max are
reported, and the 1-minute load average is recorded before each run. Outcomes are compared
example by example (status and adversarial text), not only the success rate. A profile of one
ours-1 run per cell says where the remaining time goes, by component.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HP = {"embedding": "glove50", "vocab_extra": 20000, "max_len": 50, "batch_size": 64, "lr": 0.001,
      "epochs": 2, "freeze_emb": False}


# "tinybert": BERT's class at a tiny random-init config (2 layers, hidden 64, a WordPiece vocabulary
# trained on SST2's training texts; models/transformers.py, hp tiny=True), trained 1 epoch on 4,000
# training sentences: a transformer victim built offline (no hub download).
TINY_HP = {"tiny": True, "tiny_vocab": 2000, "max_len": 50, "batch_size": 32, "lr": 0.002, "epochs": 1}


def trained_model(model: str, root: Path, seed: int = 7, dataset: str = "sst2") -> Path:
    """A seeded model of `dataset` (2 epochs: attack cost, not accuracy, is measured), trained once."""
    d = root / f"{model}-{dataset}-s{seed}"
    if (d / "model.json").is_file():
        return d
    import torch

    import flatbench.methods.base as base
    from flatbench.data.datasets import load_dataset
    from flatbench.registry import MODELS
    from flatbench.training.loop import Example, train

    torch.set_num_threads(1)
    ds = load_dataset(dataset)
    name, hp, n = (("bert", TINY_HP, 4000) if model == "tinybert" else (model, HP, None))
    b = MODELS.get(name).build(ds, hp, seed=seed, mask=False)
    ex = [Example(t, int(y)) for t, y in zip(ds.train.texts, ds.train.labels)][:n]
    train(b, base, ex, ds.dev, hp, seed=seed)
    d.mkdir(parents=True, exist_ok=True)
    b.save(d)
    return d


def once(mode: str, recipe: str, model_dir: Path, n: int, workers: int = 1, profile: bool = False) -> dict:
    load = os.getloadavg()[0]
    cmd = [sys.executable, str(HERE / "attack_once.py"), "--mode", mode, "--recipe", recipe,
           "--model-dir", str(model_dir), "--n", str(n), "--workers", str(workers)] + (["--profile"] if profile else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{mode} {recipe} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(wall_s=wall, load1=load)
    return out


def agreement(a: list[dict], b: list[dict]) -> dict:
    same_status = sum(x["status"] == y["status"] for x, y in zip(a, b))
    same_text = sum(x["adversarial"] == y["adversarial"] for x, y in zip(a, b))
    return {"n": len(a), "same_status": same_status, "same_text": same_text,
            "differ_idx": [x["idx"] for x, y in zip(a, b) if (x["status"], x["adversarial"]) != (y["status"], y["adversarial"])]}


def med(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def ratio(num: list, den: list) -> list:
    """Per-repeat ratios (the runs are paired by repeat)."""
    return [a / b for a, b in zip(num, den)]


def interleaved(recipe: str, model_dirs, n: int, repeats: int, workers: int, label: str) -> dict:
    """{"stock"|"ours1"|"oursN": [run, ...]}: stock, ours-1, ours-N, then the next repeat in the
    opposite order, each a fresh process (once)."""
    runs = {"stock": [], "ours1": [], f"ours{workers}": []}
    order = [("stock", 1), ("ours", 1), ("ours", workers)]
    for rep in range(repeats):
        for mode, w in (order if rep % 2 == 0 else order[::-1]):
            key = "stock" if mode == "stock" else f"ours{w}"
            r = once(mode, recipe, model_dirs, n, w)
            runs[key].append(r)
            print(f"  {label} {key} rep{rep}: loop {r['loop_s']:.1f}s, process {r['wall_s']:.1f}s, "
                  f"load {r['load1']:.2f}", file=sys.stderr)
    return runs


def agreement_vs_stock(runs: dict) -> dict:
    """Every run's records against the first stock run's, and whether all are identical."""
    ref = runs["stock"][0]["records"]
    agree = {k: [agreement(ref, r["records"]) for r in v] for k, v in runs.items()}
    return {"agreement_vs_stock": agree,
            "identical": all(a["same_status"] == a["n"] == a["same_text"] for v in agree.values() for a in v),
            "load1": med([r["load1"] for v in runs.values() for r in v])}


def bench_cell(recipe: str, model: str, model_dir: Path, n: int, repeats: int, workers: int) -> dict:
    runs = interleaved(recipe, model_dir, n, repeats, workers, f"{recipe} {model}")
    prof = once("ours", recipe, model_dir, n, 1, profile=True)["profile"]
    prof_stock = once("stock", recipe, model_dir, n, 1, profile=True)["profile"]
    loop = {k: [r["loop_s"] for r in v] for k, v in runs.items()}
    wall = {k: [r["wall_s"] for r in v] for k, v in runs.items()}
    wn = f"ours{workers}"
    return {
        "recipe": recipe, "model": model, "n": n, "workers": workers, "repeats": repeats,
        "loop_s": {k: med(v) for k, v in loop.items()}, "process_s": {k: med(v) for k, v in wall.items()},
        "per_process_loop_speedup": med(ratio(loop["stock"], loop["ours1"])),
        "per_process_wall_speedup": med(ratio(wall["stock"], wall["ours1"])),
        "scaling_wall": med(ratio(wall["ours1"], wall[wn])),
        "e2e_speedup_workers": med(ratio(wall["stock"], wall[wn])),
        "forward_share_ours1": med([r["forward_share"] for r in runs["ours1"]]),
        # the start-up target (<= 3 s beyond importing torch) and whole process vs loop
        "startup_beyond_torch_s": {k: med([r["startup_beyond_torch_s"] for r in v]) for k, v in runs.items()},
        "torch_import_s": {k: med([r["torch_import_s"] for r in v]) for k, v in runs.items()},
        "process_over_loop_ours1": med([r["wall_s"] / r["loop_s"] for r in runs["ours1"]]),
        **agreement_vs_stock(runs),
        "profile_ours1": prof, "profile_stock": prof_stock,
    }


def bench_stages(recipes: str, model_dirs: str, n: int, repeats: int, workers: int) -> dict:
    """(d): all (model, recipe) stages in one process each, interleaved like bench_cell."""
    runs = interleaved(recipes, model_dirs, n, repeats, workers, "stages")
    wall = {k: [r["wall_s"] for r in v] for k, v in runs.items()}
    wn = f"ours{workers}"
    return {"recipes": recipes, "models": model_dirs, "n": n, "stages": len(runs["stock"][0]["records"]) // n,
            "workers": workers, "repeats": repeats, "process_s": {k: med(v) for k, v in wall.items()},
            "startup_s": {k: med([r["startup_s"] for r in v]) for k, v in runs.items()},
            "speedup_ours1": med(ratio(wall["stock"], wall["ours1"])),
            f"speedup_{wn}": med(ratio(wall["stock"], wall[wn])),
            **agreement_vs_stock(runs)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", default="pwws,textfooler")
    ap.add_argument("--models", default="cnn,lstm")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--e2e-n", default="", help="extra sizes for (c), e.g. 500 (one repeat each)")
    ap.add_argument("--stages-n", type=int, default=0,
                    help="(d): run every model x recipe as stages of one process on this many examples")
    ap.add_argument("--stages-repeats", type=int, default=2)
    ap.add_argument("--models-dir", default=str(HERE / ".models"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    report = {"machine": {"cpus": os.cpu_count(), "load1_start": os.getloadavg()[0]}, "cells": [], "e2e": []}
    for model in a.models.split(","):
        d = trained_model(model, Path(a.models_dir))
        for recipe in a.recipes.split(","):
            report["cells"].append(bench_cell(recipe, model, d, a.n, a.repeats, a.workers))
            for n in [int(x) for x in a.e2e_n.split(",") if x]:
                s, o = once("stock", recipe, d, n), once("ours", recipe, d, n, a.workers)
                report["e2e"].append({"recipe": recipe, "model": model, "n": n, "workers": a.workers,
                                      "stock_s": s["wall_s"], "ours_s": o["wall_s"], "speedup": s["wall_s"] / o["wall_s"],
                                      "agreement": agreement(s["records"], o["records"]),
                                      "load1": [s["load1"], o["load1"]]})
    if a.stages_n:
        dirs = ",".join(str(trained_model(m, Path(a.models_dir))) for m in a.models.split(","))
        report["stages"] = bench_stages(a.recipes, dirs, a.stages_n, a.stages_repeats, a.workers)
    report["machine"]["load1_end"] = os.getloadavg()[0]
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(report, indent=1))
    print(table(report))
    return report


def table(rep: dict) -> str:
    rows = ["| recipe | model | n | stock loop s | ours-1 loop s | per-process loop speed-up | per-process process speed-up "
            "| ours-N process s | scaling N vs 1 | end to end stock / ours-N | identical outcomes | forward share ours-1 | load |",
            "|" + "---|" * 13]
    f = lambda m: f"{m['median']:.2f} ({m['min']:.2f}–{m['max']:.2f})"  # noqa: E731
    for c in rep["cells"]:
        wn = f"ours{c['workers']}"
        rows.append(f"| {c['recipe']} | {c['model']} | {c['n']} | {f(c['loop_s']['stock'])} | {f(c['loop_s']['ours1'])} "
                    f"| {f(c['per_process_loop_speedup'])} | {f(c['per_process_wall_speedup'])} | {f(c['process_s'][wn])} "
                    f"| {f(c['scaling_wall'])} | {f(c['e2e_speedup_workers'])} | {'yes' if c['identical'] else 'NO'} "
                    f"| {c['forward_share_ours1']['median']:.0%} | {c['load1']['median']:.1f} |")
    rows.append("\n| recipe | model | start-up beyond torch, stock s | ours-1 s | torch import s | ours-1 whole process / loop |"
                "\n|---|---|---|---|---|---|")
    for c in rep["cells"]:
        if "startup_beyond_torch_s" in c:
            b = c["startup_beyond_torch_s"]
            rows.append(f"| {c['recipe']} | {c['model']} | {f(b['stock'])} | {f(b['ours1'])} "
                        f"| {f(c['torch_import_s']['ours1'])} | {f(c['process_over_loop_ours1'])} |")
    for e in rep["e2e"]:
        rows.append(f"\nend to end, n = {e['n']}, {e['recipe']} {e['model']}: stock {e['stock_s']:.0f} s, ours ({e['workers']} "
                    f"workers) {e['ours_s']:.0f} s, {e['speedup']:.2f}x; identical {e['agreement']['same_text']}/{e['agreement']['n']}")
    st = rep.get("stages")
    if st:
        wn = f"ours{st['workers']}"
        f2 = lambda m: f"{m['median']:.1f} ({m['min']:.1f}–{m['max']:.1f})"  # noqa: E731
        rows.append(f"\n{st['stages']} stages of {st['n']} examples in one process: stock {f2(st['process_s']['stock'])} s, "
                    f"ours-1 {f2(st['process_s']['ours1'])} s, {wn} {f2(st['process_s'][wn])} s; speed-up ours-1 "
                    f"{st['speedup_ours1']['median']:.2f}x, {wn} {st['speedup_' + wn]['median']:.2f}x; "
                    f"identical {'yes' if st['identical'] else 'NO'}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
