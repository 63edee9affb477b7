"""Interpret-stage benchmark: batched LIME against LIME's reference, measured honestly.

    python benchmarks/interpret_throughput.py [--runs-dir runs] [--repeats 3] [--lime-pairs 50,1000]
        [--rpc-study] [--out benchmarks/baselines/interpret_DATE.json]

Inputs: table3_cpu's trained base models (CNN and LSTM on SST2 and TREC, from the stage cache) and
cached TextFooler records of the same dataset (TREC: a test-split attack, 500 records; SST2: the
first 500 records of a dev-split attack, as table3_cpu attacks 500 SST2 test sentences). They are
copied into a work directory first (the cache is live), and their keys and hashes recorded.

For each model and LIME-pair count (50: table3_cpu; 1000: the paper's, i.e. every pair here):
- the whole interpret stage body (`interpret_pairs`: IG on every pair, LIME, pairs.jsonl,
  summary.json, 3 figures) with LIME by the reference (one text at a time, LIME's own
  explain_instance: the code before this change) and batched (`lime_explain_many`);
- every measurement is a fresh process (benchmarks/interpret_once.py); runs are interleaved (ref,
  batched, then batched, ref, ...); medians and (min-max) are reported with the 1-minute load
  average before each run;
- the written files' sha256 are compared between every run (byte-identical outputs).
--rpc-study: LIME only, batched, with forward calls of 256 (one reference batch), 1024 and 4096
rows (batches of several texts stacked), on every model: what cross-text calls buy on CPU.
--ig-study: IG alone on every pair with (texts per call, rows per Captum pass) = the stage's (32,
2048) and larger or smaller chunks, interleaved; time and whether the attributions stay identical.
--profile: where LIME's time goes per text, reference and batched, one process per model
(interpret_once.py --what profile); with --only-profile nothing else runs and the profiles are
added to an existing --out file.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = {"eabc58d96b484f75": "trec", "afb8b2ff24aa3d2b": "sst2"}  # data fingerprints of the stage cache


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def discover(runs: Path, work: Path) -> list[dict]:
    """table3_cpu's base models (seed 13) and a cached TextFooler attack of their dataset, copied
    into `work` once (later runs reuse the copies and their record, work/cells.json)."""
    if (work / "cells.json").is_file():
        return json.loads((work / "cells.json").read_text())
    models = {}
    for d in sorted((runs / "train").iterdir()):
        try:
            spec = json.loads((d / "manifest.json").read_text())["spec"]
        except (OSError, KeyError, ValueError):
            continue
        if spec.get("round0_of") == "base" and spec.get("seed") == 13 and spec.get("model") in ("cnn", "lstm"):
            models.setdefault((spec["model"], spec["dataset"]), d)
    attacks = {}
    for d in sorted((runs / "attack").iterdir()):
        try:
            spec = json.loads((d / "manifest.json").read_text())["spec"]
        except (OSError, KeyError, ValueError):
            continue
        ds = DATA.get(spec.get("data"))
        if spec.get("recipe") != "textfooler" or ds is None:
            continue
        want = "test" if ds == "trec" else "dev"
        if spec.get("split") == want and (ds, want) not in attacks and (d / "records.jsonl").is_file():
            attacks[(ds, want)] = d
    cells = []
    for (model, ds), mdir in sorted(models.items()):
        adir = attacks.get((ds, "test" if ds == "trec" else "dev"))
        if adir is None:
            continue
        m_to, r_to = work / f"{model}-{ds}", work / f"{model}-{ds}.records.jsonl"
        if not m_to.exists():
            shutil.copytree(mdir, m_to)
        if not r_to.exists():
            shutil.copy(adir / "records.jsonl", r_to)
        cells.append({"model": model, "dataset": ds, "model_dir": str(m_to), "records": str(r_to),
                      "train_key": mdir.name, "attack_key": adir.name, "model_sha": _sha(m_to),
                      "records_sha": _sha(r_to), "max_records": 500})
    (work / "cells.json").write_text(json.dumps(cells, indent=1))
    return cells


def once(cell: dict, mode: str, what: str, lime_pairs: int, rpc: int | None = None) -> dict:
    cmd = [sys.executable, str(HERE / "interpret_once.py"), "--model-dir", cell["model_dir"], "--records",
           cell["records"], "--mode", mode, "--what", what, "--lime-pairs", str(lime_pairs),
           "--max-records", str(cell["max_records"])] + (["--rows-per-call", str(rpc)] if rpc else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cell['model']}-{cell['dataset']} {mode} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out.update(process_s=wall, load1=load)
    return out


def med(xs) -> dict:
    xs = [x for x in xs if x is not None]
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)} if xs else {}


def fmt(m: dict, nd: int = 2) -> str:
    return f"{m['median']:.{nd}f} ({m['min']:.{nd}f}–{m['max']:.{nd}f})" if m else "–"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"))
    ap.add_argument("--work", default="/tmp/flatbench_interpret_bench")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lime-pairs", default="50,1000")
    ap.add_argument("--cells", default=None, help="e.g. cnn-trec,lstm-sst2 (default: all found)")
    ap.add_argument("--rpc-study", action="store_true")
    ap.add_argument("--rpc-repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--ig-study", action="store_true")
    ap.add_argument("--ig-cells", default="cnn-trec,lstm-sst2")
    ap.add_argument("--only-profile", action="store_true")
    ap.add_argument("--out", default=str(HERE / "baselines" / f"interpret_{datetime.date.today()}.json"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    cells = discover(Path(a.runs_dir), work)
    if a.cells:
        keep = set(a.cells.split(","))
        cells = [c for c in cells if f"{c['model']}-{c['dataset']}" in keep]
    if not cells:
        raise SystemExit("no cached table3_cpu base model with a cached TextFooler attack of its dataset")
    if a.ig_study:  # added to an existing --out file
        result = json.loads(Path(a.out).read_text()) if Path(a.out).is_file() else {"cells": cells}
        result["ig_study"] = ig_study(cells, a)
        Path(a.out).write_text(json.dumps(result, indent=1))
        return
    if a.only_profile:
        result = json.loads(Path(a.out).read_text())
        result["profile"] = [run_profile(c) for c in cells]
        Path(a.out).write_text(json.dumps(result, indent=1))
        print_profile(result["profile"])
        return
    result = {"date": str(datetime.datetime.now()), "cpu_count": os.cpu_count(), "cells": cells, "runs": [],
              "rpc_runs": []}
    lime_pairs = [int(x) for x in a.lime_pairs.split(",")]
    for rep in range(a.repeats):
        for lp in lime_pairs:
            for cell in cells:
                order = ("ref", "batched") if rep % 2 == 0 else ("batched", "ref")
                for mode in order:
                    r = once(cell, mode, "stage", lp)
                    r.update(cell=f"{cell['model']}-{cell['dataset']}", repeat=rep)
                    result["runs"].append(r)
                    print(json.dumps({k: r[k] for k in ("cell", "mode", "lime_pairs", "stage_s", "ig_s", "lime_s",
                                                        "rest_s", "process_s", "load1")}), flush=True)
    if a.rpc_study:
        for rep in range(a.rpc_repeats):
            for cell in cells:
                rpcs = (256, 1024, 4096) if rep % 2 == 0 else (4096, 1024, 256)
                for rpc in rpcs:
                    r = once(cell, "batched", "lime", 50, rpc)
                    r.update(cell=f"{cell['model']}-{cell['dataset']}", repeat=rep)
                    result["rpc_runs"].append(r)
                    print(json.dumps({k: r.get(k) for k in ("cell", "rows_per_call", "lime_s", "load1")}), flush=True)
    # summaries
    summary = []
    for lp in lime_pairs:
        for cell in cells:
            name = f"{cell['model']}-{cell['dataset']}"
            rs = {m: [r for r in result["runs"] if r["cell"] == name and r["lime_pairs"] == lp and r["mode"] == m]
                  for m in ("ref", "batched")}
            if not rs["ref"]:
                continue
            hashes = {json.dumps(r["sha256"], sort_keys=True) for m in rs for r in rs[m]}
            by_rep = {m: sorted(rs[m], key=lambda r: r["repeat"]) for m in rs}
            pair = list(zip(by_rep["ref"], by_rep["batched"]))
            summary.append({
                "cell": name, "lime_pairs": lp, "n_pairs": rs["ref"][0]["n_pairs"], "n_lime": rs["ref"][0]["n_lime"],
                "stage_s": {m: med([r["stage_s"] for r in rs[m]]) for m in rs},
                "process_s": {m: med([r["process_s"] for r in rs[m]]) for m in rs},
                "ig_s": {m: med([r["ig_s"] for r in rs[m]]) for m in rs},
                "lime_s": {m: med([r["lime_s"] for r in rs[m]]) for m in rs},
                "rest_s": {m: med([r["rest_s"] for r in rs[m]]) for m in rs},
                "lime_pairs_per_s": {m: med([r["lime_pairs_per_s"] for r in rs[m]]) for m in rs},
                "speedup_stage": med([x["stage_s"] / y["stage_s"] for x, y in pair]),
                "speedup_lime": med([x["lime_s"] / y["lime_s"] for x, y in pair]),
                "speedup_process": med([x["process_s"] / y["process_s"] for x, y in pair]),
                "identical_outputs": len(hashes) == 1, "n_runs": len(rs["ref"]) + len(rs["batched"]),
                "load1": med([r["load1"] for m in rs for r in rs[m]])})
    result["summary"] = summary
    rpc_summary = []
    for cell in cells:
        name = f"{cell['model']}-{cell['dataset']}"
        rr = [r for r in result["rpc_runs"] if r["cell"] == name]
        if rr:
            rpc_summary.append({"cell": name, **{str(rpc): med([r["lime_s"] for r in rr if r["rows_per_call"] == rpc])
                                                 for rpc in (256, 1024, 4096)},
                                "identical": len({r["sha256"]["lime"] for r in rr}) == 1,
                                "load1": med([r["load1"] for r in rr])})
    result["rpc_summary"] = rpc_summary
    if a.profile:
        result["profile"] = [run_profile(c) for c in cells]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    print("| cell | LIME pairs | stage s, ref | stage s, batched | stage speed-up | LIME pairs/s, ref | "
          "LIME pairs/s, batched | LIME speed-up | IG s | identical | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        print(f"| {s['cell']} | {s['n_lime']} of {s['n_pairs']} | {fmt(s['stage_s']['ref'])} | "
              f"{fmt(s['stage_s']['batched'])} | {fmt(s['speedup_stage'])}× | {fmt(s['lime_pairs_per_s']['ref'], 1)} | "
              f"{fmt(s['lime_pairs_per_s']['batched'], 1)} | {fmt(s['speedup_lime'])}× | {fmt(s['ig_s']['batched'])} "
              f"| {'yes' if s['identical_outputs'] else 'NO'} ({s['n_runs']} runs) | {fmt(s['load1'], 1)} |")
    for s in rpc_summary:
        print(f"rows per call, LIME s (50 pairs) {s['cell']}: 256 {fmt(s['256'])}, 1024 {fmt(s['1024'])}, "
              f"4096 {fmt(s['4096'])}; identical {s['identical']}; load {fmt(s['load1'], 1)}")
    if a.profile:
        print_profile(result["profile"])


IG_CONFIGS = [(32, 2048), (16, 2048), (64, 2048), (128, 2048), (128, 8192), (256, 16384)]


def ig_study(cells: list[dict], a) -> dict:
    keep = set(a.ig_cells.split(","))
    runs = []
    for rep in range(a.repeats):
        for cell in cells:
            if f"{cell['model']}-{cell['dataset']}" not in keep:
                continue
            for bs, ibs in (IG_CONFIGS if rep % 2 == 0 else IG_CONFIGS[::-1]):
                r = once_ig(cell, bs, ibs)
                r.update(cell=f"{cell['model']}-{cell['dataset']}", repeat=rep)
                runs.append(r)
                print(json.dumps({k: r[k] for k in ("cell", "ig_batch", "ig_internal", "ig_s", "load1")}), flush=True)
    out = []
    for name in sorted({r["cell"] for r in runs}):
        of = {cfg: [r for r in runs if r["cell"] == name and (r["ig_batch"], r["ig_internal"]) == cfg]
              for cfg in IG_CONFIGS}
        ref = of[IG_CONFIGS[0]][0]["sha256"]["ig"]
        for (bs, ibs), rr in of.items():
            o = {"cell": name, "ig_batch": bs, "ig_internal": ibs, "n_pairs": rr[0]["n_pairs"],
                 "ig_s": med([r["ig_s"] for r in rr]), "identical_to_default": all(r["sha256"]["ig"] == ref for r in rr),
                 "load1": med([r["load1"] for r in rr])}
            out.append(o)
            print(f"IG {name} texts/call {bs} rows/pass {ibs}: {fmt(o['ig_s'])} s for {o['n_pairs']} pairs; "
                  f"identical {o['identical_to_default']}; load {fmt(o['load1'], 1)}")
    return {"runs": runs, "summary": out}


def once_ig(cell: dict, bs: int, ibs: int) -> dict:
    cmd = [sys.executable, str(HERE / "interpret_once.py"), "--model-dir", cell["model_dir"], "--records",
           cell["records"], "--mode", "batched", "--what", "ig", "--max-records", str(cell["max_records"]),
           "--ig-batch", str(bs), "--ig-internal", str(ibs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    load = os.getloadavg()[0]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["load1"] = load
    return out


def run_profile(cell: dict) -> dict:
    r = once(cell, "batched", "profile", 50)
    return {"cell": f"{cell['model']}-{cell['dataset']}", "load1": r["load1"], "n_texts": r["n_texts"],
            "ms_per_text": r["profile_ms_per_text"]}


def print_profile(profiles: list[dict]) -> None:
    for p in profiles:
        print(p["cell"], f"load {p['load1']:.1f}", json.dumps(p["ms_per_text"]))


if __name__ == "__main__":
    main()
