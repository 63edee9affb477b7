"""The attack stage: inputs = a trained model, a split, a recipe, an example selection and a
query budget; output = records.jsonl (one line per example) and summary metrics."""

from __future__ import annotations

import json
import os

from flatbench.data.datasets import load_dataset
from flatbench.errors import ConfigError, DataError
from flatbench.data.splits import data_for, subset_indices
from flatbench.settings import stage_threads


def attack_workers(n: int) -> int:
    env = os.environ.get("FLATBENCH_ATTACK_WORKERS")
    if env:
        if not env.strip().isdigit() or int(env) < 1:
            raise ConfigError(f"FLATBENCH_ATTACK_WORKERS = {env!r}: must be a positive integer")
        return int(env)
    # A spawned worker pays its own start-up (~1.3-1.9 s here: torch and the recipe's resources).
    # Whole process, 2 workers over 1 (SST2 CNN, 2 cores): 1.15 (PWWS) / 0.97 (TextFooler) at
    # 100 examples, 0.90 / 0.86 at 200, 0.69 / 0.73 at 400
    # (benchmarks/baselines/attack_workers_breakeven_2026-12-05.json).
    return 1 if n < 200 else max(1, os.cpu_count() or 1)


def run_attack_stage(stage, ctx, out, model_dir):
    from flatbench.attacks.runner import run_attack, summarize
    from flatbench.attacks.warm import attacked_before, note_attacked

    cell = stage.model.cell
    if stage.split == "train":
        _, split, _ = data_for(cell, ctx)
    else:
        split = getattr(load_dataset(cell.dataset, ctx.data_dir), stage.split)
    idx = subset_indices(len(split), stage.n, stage.seed)
    if not idx:
        raise DataError(f"{stage.label()}: the example selection is empty")
    items = [(i, split.texts[i], int(split.labels[i])) for i in idx]
    partial = ctx.cache.partial_dir(stage.kind, stage.key)
    warm = attacked_before(stage)  # the runner's memo holds these examples' look-ups (the estimate's feature)
    records, stats = run_attack(model_dir, stage.recipe, items, partial, workers=attack_workers(len(items)),
                                budget=stage.budget, options=stage.options(), seed=stage.seed,
                                threads=stage_threads(cell.hp))
    m = summarize(records)
    m.update(seconds_per_example=stats["seconds"] / max(1, len(items) - stats["resumed"]),
             forward_share=stats["forward_seconds"] / max(1e-9, stats["seconds"] * stats["workers"]),
             resumed=stats["resumed"], workers=stats["workers"], warm=warm, search=stats.get("search"))
    note_attacked(stage)
    devs = list(stats["deviations"]) + certify(model_dir, items, records, m)
    if stage.n is not None and stage.n < len(split):
        devs.append(f"{cell.dataset} {stage.split}: attacked a seeded random subset of {len(idx)} of {len(split)} examples")
    with open(out / "records.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return m, devs, {"memoised": stats["memoised"]}


def certify(model_dir, items, records, metrics) -> list[str]:
    """Where the attacked model's inference certifies its predictions (SAFER), the certificate of
    every attacked example: stored in its record ("certificate") and summarised beside the
    after-attack accuracy ("certified_acc": certified with every word swappable, as SAFER reports;
    "certified_radius_mean": mean number of words certified, -1 counted as 0). Nothing otherwise."""
    from pathlib import Path

    meta = json.loads((Path(model_dir) / "model.json").read_text(encoding="utf-8"))
    if not meta["config"].get("inference"):
        return []
    import torch

    from flatbench.models.bundle import ModelBundle

    bundle = ModelBundle.load(model_dir, "cuda" if torch.cuda.is_available() else "cpu")
    run = getattr(bundle.inference, "certify", None)
    if run is None:
        return []
    certs = run([t for _, t, _ in items], [y for _, _, y in items])
    for r, c in zip(records, certs):
        r["certificate"] = c
    n = max(1, len(certs))
    metrics["certified_acc"] = sum(c["certified"] for c in certs) / n
    metrics["certified_radius_mean"] = sum(max(c["radius"], 0) for c in certs) / n
    cfg = meta["config"]["inference"]
    return [f"{cfg['method']}: certified accuracy from {cfg.get('cert_samples')} seeded draws per example, "
            f"Monte Carlo error {cfg.get('mc_error')} (the method's own certificate, beside the attack)"]
