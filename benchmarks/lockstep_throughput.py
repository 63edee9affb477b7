"""Lockstep search across examples (flatbench/attacks/lockstep.py), measured against stock.

    python benchmarks/lockstep_throughput.py [--recipes pwws,textfooler] [--models cnn,lstm,tinybert]
        [--n 100] [--inflight 128] [--repeats 1] [--out benchmarks/baselines/throughput_lockstep_DATE_loaded.json]

For each recipe and seeded SST2 model (attack_throughput.trained_model; "tinybert" is BERT's class
at a tiny random-init config trained briefly, built offline), on the same seeded SST2 test
sentences, each in its own fresh process (attack_once.py), interleaved per repeat:
  stock      textattack.Attacker, TextAttack's PyTorchModelWrapper (the oracle);
  seq        flatbench's runner, one example at a time (FLATBENCH_ATTACK_LOCKSTEP=0);
  lockstep   the runner with --inflight examples in lockstep and its near-tie guard (the mode
             offered for use: identical outcomes by design);
  unguarded  the same with the guard off (tolerance 0): every row from the large batch; shows
             what the guard protects against.
Per run: attack-loop seconds and examples/s, model calls and texts per call (all calls; and the
gathered lockstep calls alone), forward share of the loop, examples redone exactly, and outcomes
compared with stock's example by example (status, adversarial text, query count).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import attack_throughput as bench  # noqa: E402

MODES = {"stock": ("stock", []), "seq": ("ours", ["--lockstep", "0"]),
         "lockstep": ("ours", ["--lockstep", "{k}"]),
         "unguarded": ("ours", ["--lockstep", "{k}", "--lockstep-tol", "0"])}


def run(mode: str, recipe: str, model_dir: Path, n: int, k: int) -> dict:
    import subprocess
    import time

    kind, extra = MODES[mode]
    load = os.getloadavg()[0]
    cmd = [sys.executable, str(HERE / "attack_once.py"), "--mode", kind, "--recipe", recipe,
           "--model-dir", str(model_dir), "--n", str(n)] + [x.format(k=k) for x in extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{mode} {recipe} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(wall_s=time.perf_counter() - t0, load1=load)
    return out


def same(a: dict, b: dict) -> bool:
    return (a["status"], a["adversarial"], a["queries"]) == (b["status"], b["adversarial"], b["queries"])


def summary(mode: str, r: dict, ref: list[dict]) -> dict:
    n = len(r["records"])
    lock = r.get("lockstep") or {}
    s = {"loop_s": r["loop_s"], "process_s": r["wall_s"], "examples_per_s": n / r["loop_s"], "load1": r["load1"],
         "identical_vs_stock": sum(same(a, b) for a, b in zip(ref, r["records"])), "n": n,
         "differ_idx": [a["idx"] for a, b in zip(ref, r["records"]) if not same(a, b)]}
    if mode != "stock":
        s.update(forward_share=r["forward_share"], forward_s=r["forward_s"], model_calls=r["model_calls"],
                 model_texts=r["model_texts"], texts_per_call=r["texts_per_call"])
    if lock:
        g = lock.get("gathered_calls", 0)
        s.update(gathered_calls=g, texts_per_gathered_call=lock.get("unique_texts", 0) / max(g, 1),
                 asked_per_gathered_call=lock.get("asked_texts", 0) / max(g, 1),
                 redone_exact=lock.get("redone_exact", 0), exact_calls=lock.get("exact_calls", 0),
                 exact_texts=lock.get("exact_texts", 0), max_inflight=lock.get("max_inflight", 0))
    return s


def cell(recipe: str, model: str, n: int, k: int, repeats: int) -> dict:
    d = bench.trained_model(model, HERE / ".models")
    runs: dict[str, list] = {m: [] for m in MODES}
    order = list(MODES)
    for rep in range(repeats):
        for mode in (order if rep % 2 == 0 else order[::-1]):
            runs[mode].append(run(mode, recipe, d, n, k))
            print(f"  {recipe} {model} {mode} rep{rep}: loop {runs[mode][-1]['loop_s']:.2f}s "
                  f"load {runs[mode][-1]['load1']:.2f}", file=sys.stderr, flush=True)
    ref = runs["stock"][0]["records"]
    out = {"recipe": recipe, "model": model, "n": n, "inflight": k, "repeats": repeats,
           "runs": {m: [summary(m, r, ref) for r in rs] for m, rs in runs.items()},
           "statuses": {s: sum(r["status"] == s for r in ref) for s in ("succeeded", "failed", "skipped")}}
    med = lambda m, key: statistics.median(x[key] for x in out["runs"][m])  # noqa: E731
    out["speedup_loop_vs_stock"] = {m: med("stock", "loop_s") / med(m, "loop_s") for m in MODES if m != "stock"}
    out["speedup_loop_vs_seq"] = {m: med("seq", "loop_s") / med(m, "loop_s") for m in ("lockstep", "unguarded")}
    return out


def table(rep: dict) -> str:
    """Medians over the repeats; identical counts are the smallest of any repeat."""
    rows = ["| recipe | model | n | examples/s stock / seq / lockstep / unguarded | lockstep vs seq | unguarded vs seq "
            "| texts per gathered call lockstep / unguarded | texts per call, all calls: seq / lockstep / unguarded "
            "| redone exactly | forward share seq / lockstep / unguarded | identical vs stock: seq / lockstep / unguarded "
            "| load |", "|" + "---|" * 12]
    for c in rep["cells"]:
        rs = c["runs"]
        m = lambda mode, key: statistics.median(x[key] for x in rs[mode])  # noqa: E731
        low = lambda mode: min(x["identical_vs_stock"] for x in rs[mode])  # noqa: E731
        rows.append(
            f"| {c['recipe']} | {c['model']} | {c['n']} | {m('stock', 'examples_per_s'):.1f} / {m('seq', 'examples_per_s'):.1f}"
            f" / {m('lockstep', 'examples_per_s'):.1f} / {m('unguarded', 'examples_per_s'):.1f}"
            f" | {m('seq', 'loop_s') / m('lockstep', 'loop_s'):.2f}x | {m('seq', 'loop_s') / m('unguarded', 'loop_s'):.2f}x"
            f" | {m('lockstep', 'texts_per_gathered_call'):.0f} / {m('unguarded', 'texts_per_gathered_call'):.0f}"
            f" | {m('seq', 'texts_per_call'):.1f} / {m('lockstep', 'texts_per_call'):.1f} / {m('unguarded', 'texts_per_call'):.1f}"
            f" | {m('lockstep', 'redone_exact'):.0f}"
            f" | {m('seq', 'forward_share'):.0%} / {m('lockstep', 'forward_share'):.0%} / {m('unguarded', 'forward_share'):.0%}"
            f" | {low('seq')} / {low('lockstep')} / {low('unguarded')} of {c['n']} (x{c['repeats']})"
            f" | {statistics.median(x['load1'] for mode in MODES for x in rs[mode]):.1f} |")
    return "\n".join(rows)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", default="pwws,textfooler")
    ap.add_argument("--models", default="cnn,lstm,tinybert")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--inflight", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--table", default=None, help="print the table of a saved JSON and exit")
    a = ap.parse_args(argv)
    if a.table:
        print(table(json.loads(Path(a.table).read_text())))
        return {}
    import torch

    rep = {"date": datetime.date.today().isoformat(),
           "machine": {"cpus": os.cpu_count(), "load1_start": os.getloadavg()[0], "gpu": torch.cuda.is_available(),
                       "note": "CPU only: no GPU in this session"},
           "cells": []}
    for model in a.models.split(","):
        for recipe in a.recipes.split(","):
            rep["cells"].append(cell(recipe, model, a.n, a.inflight, a.repeats))
            if a.out:  # written after every cell: a long run keeps what it measured
                Path(a.out).write_text(json.dumps(rep, indent=1))
    rep["machine"]["load1_end"] = os.getloadavg()[0]
    if a.out:
        Path(a.out).write_text(json.dumps(rep, indent=1))
    print(table(rep))
    return rep


if __name__ == "__main__":
    main()
