"""`--dry-run`: the stages a grid needs, whether each is cached, and a rough cost estimate."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.data.datasets import dataset_info

# Seconds per training example-epoch and per attacked example, measured on this project's
# 2-core CPU machine (LSTM/CNN) and scaled for transformers on one GPU (order of magnitude).
SEC_PER_EXAMPLE_EPOCH = {"lstm": 6e-4, "cnn": 4e-4, "minilm": 2e-2, "bert": 4e-3, "deberta": 6e-3}
SEC_PER_ATTACK = {"pwws": 0.05, "textfooler": 0.5, "gene": 2.0, "iga": 0.5, "pso": 3.0, "clare": 5.0, "bae": 1.0}
GPU_MODELS = {"bert", "deberta"}


def estimate_seconds(stage) -> float:
    kind = stage.kind
    cell = stage.owner()
    info = dataset_info(cell.dataset)
    n_train = cell.hp.get("train_n") or info.paper["train"]
    per = SEC_PER_EXAMPLE_EPOCH.get(cell.model, 1e-3)
    if kind == "train":
        ep = cell.hp.get("round_epochs", cell.hp.get("epochs", 10)) if stage.round else cell.hp.get("epochs", 10)
        return n_train * ep * per * (2 if stage.round else 1)
    if kind == "attack":
        n = stage.n or (n_train if stage.split == "train" else info.paper["test"])
        # transformer queries on one GPU cost ~4x an LSTM/CNN query on the CPU here (batched)
        return n * SEC_PER_ATTACK.get(stage.recipe, 1.0) * (4 if cell.model in GPU_MODELS else 1)
    if kind == "interpret":
        return (stage.attack.n or info.paper["test"]) * 0.3
    return 10.0


def describe_plan(grid, stages, ctx) -> str:
    rows, total = [], {"CPU": 0.0, "GPU": 0.0}
    for s in stages:
        done = ctx.cache.done(s.kind, s.key)
        est = 0.0 if done else estimate_seconds(s)
        where = "GPU" if s.needs["gpu"] else "CPU"
        total[where] += est
        rows.append([s.label(), s.key, "cached" if done else f"~{est / 60:.1f} min", where])
    out = tabulate(rows, headers=["stage", "key", "status / estimate", "needs"], tablefmt="github")
    cached = sum(ctx.cache.done(s.kind, s.key) for s in stages)
    return out + (f"\n\n{len(stages)} stages, {cached} cached; estimated work left: {total['CPU'] / 3600:.1f} h "
                  f"of CPU stages (2 cores), {total['GPU'] / 3600:.1f} h of GPU stages (one GPU). "
                  "Estimates are order-of-magnitude, from per-example costs measured here.")
