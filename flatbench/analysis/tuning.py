"""Seeded random search over LSTM/CNN training hyper-parameters, selected on DEV accuracy only.

One search = one (model, dataset). Every trial builds a fresh word model with the grid's base
hyper-parameters overlaid by a sampled configuration, trains it with the `base` method
(`flatbench.training.loop.train`, best-dev-epoch selection) on the training split, and records
(config, best dev accuracy, best epoch, per-epoch dev curve, seconds) to a JSON file. The test
split is never read by the search; `--final` (run after the search) trains the chosen config
and the current defaults once with the grid's seed and reports dev and test accuracy.

Reproducibility: trial i's configuration is the i-th draw of `random.Random(seed)` over the
space (so the first k trials are the same for any n_trials >= k); every trial trains with the
fixed `train_seed` (default 1, deliberately not the grid's 13, so the final seed-13 run is an
independent re-run rather than the selected run itself). Re-running with the same output file
resumes: finished trials whose configuration matches are kept.

Only keys the word models or the training loop read are searched (flatbench/models/word.py,
flatbench/training/loop.py): lr, dropout, batch_size, max_len, optimizer, weight_decay
(read by AdamW only), freeze_emb, hidden (LSTM), filters (CNN). `epochs` is fixed per search:
there is no learning-rate schedule, so with the same seed an E-epoch run is exactly the first
E epochs of a longer run, and the recorded per-epoch dev curve answers every smaller E.

    python -m flatbench.analysis.tuning --model lstm --dataset sst2 --trials 12 --seed 0 \
        --out reports/tuning/lstm_sst2.json
    python -m flatbench.analysis.tuning --final reports/tuning/lstm_sst2.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

from flatbench.hparams import model_hp

# The grid's base hyper-parameters for LSTM/CNN (flatbench/grids/table2.toml, table3_cpu.toml).
BASE_HP: dict = {
    "embedding": "glove50", "vocab_extra": 20000, "freeze_emb": False, "hidden": 150,
    "filters": 100, "widths": [3, 4, 5], "optimizer": "adam", "grad_clip": 5.0,
    "batch_size": 64, "lr": 0.001, "epochs": 10, "dropout": None, "max_len": 50,
}
GRID_SEED = 13
SEARCH_EPOCHS = 15


def defaults(model: str) -> dict:
    hp = dict(BASE_HP)
    hp["dropout"] = model_hp(model)["dropout"].default  # the model's declared default: the grids set none
    return hp


def space(model: str, dataset: str) -> list[tuple[str, str, tuple]]:
    """(key, kind, args): kind is 'loguniform' (lo, hi), 'uniform' (lo, hi), 'choice' (values)
    or 'weighted' ((value, weight), ...). Order matters for reproducibility."""
    s = [
        ("lr", "loguniform", (5e-4, 3e-3)),
        ("dropout", "uniform", (0.2, 0.6)),
        ("batch_size", "choice", (32, 50, 64)),
        ("optimizer", "choice", ("adam", "adamw")),
        ("weight_decay", "loguniform", (1e-4, 1e-1)),  # dropped from the config unless adamw
        ("freeze_emb", "weighted", ((False, 0.8), (True, 0.2))),
    ]
    if dataset == "sst2":  # 16 of 6,920 training texts exceed 50 tokens; none in TREC exceed 37
        s.append(("max_len", "choice", (50, 60)))
    if model == "lstm":
        s.append(("hidden", "choice", (100, 150, 200, 300)))
    elif model == "cnn":
        s.append(("filters", "choice", (100, 150, 200)))
    else:
        raise SystemExit(f"tuning covers the word models lstm and cnn, not {model!r}")
    return s


def _draw(rng: random.Random, kind: str, args: tuple):
    if kind == "loguniform":
        lo, hi = args
        return float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.3g}")
    if kind == "uniform":
        return round(rng.uniform(*args), 2)
    if kind == "choice":
        return rng.choice(list(args))
    if kind == "weighted":
        vals, weights = zip(*args)
        return rng.choices(vals, weights=weights)[0]
    raise ValueError(kind)


def sample_configs(model: str, dataset: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cfg = {}
        for key, kind, args in space(model, dataset):
            cfg[key] = _draw(rng, kind, args)  # always draw, so later keys do not shift
        if cfg["optimizer"] != "adamw":
            cfg.pop("weight_decay")
        out.append(cfg)
    return out


def run_trial(model: str, dataset: str, cfg: dict, seed: int, epochs: int, data_dir=None,
              eval_test: bool = False) -> dict:
    from flatbench.data.datasets import load_dataset
    from flatbench.methods import base as base_method
    from flatbench.registry import MODELS
    from flatbench.training.loop import Example, accuracy, train

    hp = {**defaults(model), **cfg, "epochs": epochs}
    ds = load_dataset(dataset, data_dir)
    examples = [Example(t, int(y)) for t, y in zip(ds.train.texts, ds.train.labels)]
    t0 = time.time()
    bundle = MODELS.get(model).build(ds, hp, seed, mask=False)
    hist = train(bundle, base_method, examples, ds.dev, hp, seed, progress=f"{model}/{dataset}")
    rec = {"config": cfg, "train_seed": seed, "epochs": epochs,
           "best_dev_acc": hist["best_dev_acc"], "best_epoch": hist["best_epoch"],
           "dev_curve": [round(a, 4) for a in hist["dev_acc"]],
           "loss_curve": [round(x, 4) for x in hist["epoch_loss"]],
           "seconds": round(time.time() - t0, 1)}
    if eval_test:  # only from --final, after the search
        rec["dev_acc"] = accuracy(bundle, ds.dev)
        rec["test_acc"] = accuracy(bundle, ds.test)
    return rec


def search(model: str, dataset: str, n_trials: int, seed: int, out: Path, train_seed: int = 1,
           epochs: int = SEARCH_EPOCHS, data_dir=None) -> dict:
    configs = sample_configs(model, dataset, n_trials, seed)
    state = {"model": model, "dataset": dataset, "seed": seed, "n_trials": n_trials,
             "train_seed": train_seed, "epochs": epochs, "base_hp": defaults(model),
             "space": [[k, kind, list(a)] for k, kind, a in space(model, dataset)], "trials": []}
    if out.is_file():  # resume
        old = json.loads(out.read_text())
        same = all(old.get(k) == state[k] for k in ("model", "dataset", "seed", "train_seed", "epochs"))
        if same:
            state["trials"] = [t for t, c in zip(old["trials"], configs) if t["config"] == c]
    t_start = time.time()
    for i, cfg in enumerate(configs):
        if i < len(state["trials"]):
            continue
        rec = run_trial(model, dataset, cfg, train_seed, epochs, data_dir)
        rec["trial"] = i
        state["trials"].append(rec)
        state["wall_seconds"] = round(sum(t["seconds"] for t in state["trials"]), 1)
        out.write_text(json.dumps(state, indent=1))
        print(f"[{model}/{dataset}] trial {i + 1}/{n_trials} dev {rec['best_dev_acc']:.4f} "
              f"(ep {rec['best_epoch']}) {rec['seconds']:.0f}s {cfg}", flush=True)
    best = max(state["trials"], key=lambda t: (t["best_dev_acc"], -t["trial"]))
    state["best"] = best
    state["wall_seconds"] = round(sum(t["seconds"] for t in state["trials"]), 1)
    state["session_seconds"] = round(time.time() - t_start, 1)
    out.write_text(json.dumps(state, indent=1))
    return state


def final(search_file: Path, out: Path | None = None, data_dir=None) -> dict:
    """Train the chosen config and the current defaults once with the grid's seed; dev and test."""
    st = json.loads(search_file.read_text())
    model, dataset = st["model"], st["dataset"]
    best = max(st["trials"], key=lambda t: (t["best_dev_acc"], -t["trial"]))
    chosen = {**best["config"], "epochs": st["epochs"]}
    res = {"model": model, "dataset": dataset, "chosen_trial": best["trial"], "chosen": chosen,
           "search_best_dev_acc": best["best_dev_acc"]}
    res["chosen_run"] = run_trial(model, dataset, best["config"], GRID_SEED, st["epochs"], data_dir,
                                  eval_test=True)
    d = defaults(model)
    res["defaults_run"] = run_trial(model, dataset, {}, GRID_SEED, int(d["epochs"]), data_dir, eval_test=True)
    out = out or search_file.with_name(search_file.stem + "_final.json")
    out.write_text(json.dumps(res, indent=1))
    for k in ("chosen_run", "defaults_run"):
        r = res[k]
        print(f"[{model}/{dataset}] {k}: dev {r['dev_acc']:.4f} test {r['test_acc']:.4f} "
              f"(best epoch {r['best_epoch']}, {r['seconds']:.0f}s)", flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("lstm", "cnn"))
    ap.add_argument("--dataset", choices=("sst2", "trec"))
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="seed of the configuration draws")
    ap.add_argument("--train-seed", type=int, default=1, help="seed every trial trains with")
    ap.add_argument("--epochs", type=int, default=SEARCH_EPOCHS)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--final", type=Path, metavar="SEARCH_JSON",
                    help="after a search: train its best config and the defaults with seed 13; dev+test")
    ap.add_argument("--data-dir")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    if a.final:
        final(a.final, a.out, a.data_dir)
        return 0
    if not (a.model and a.dataset and a.out):
        ap.error("--model, --dataset and --out are required for a search")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    search(a.model, a.dataset, a.trials, a.seed, a.out, a.train_seed, a.epochs, a.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
