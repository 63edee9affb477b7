"""`--dry-run`: the stages a grid needs, whether each is cached, and a rough cost estimate."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.data.datasets import dataset_info
from flatbench.registry import ATTACKS, METHODS, MODELS
from flatbench.settings import cell_hp

# Order-of-magnitude costs: each model's, method's and recipe's rates are in its registry spec
# (flatbench.registry: where and when they were measured); these two are the plan's own.
REFERENCE_LEN = 19  # recipes' costs are per example of SST2's average length
SUCCESS_SHARE = 0.75  # share of attacked examples that become explained pairs (paper pairs; ~0.5-0.8 here)


def estimate_seconds(stage) -> float:
    kind = stage.kind
    cell = stage.owner()
    info = dataset_info(cell.dataset)
    hp = cell_hp(cell)
    model = MODELS.spec(cell.model).cost
    n_train = hp.train_n or info.paper["train"]
    if kind == "train":
        ep = (hp.round_epochs or hp.epochs) if stage.round else hp.epochs
        return n_train * ep * model.train * (1.1 if stage.round else 1) * METHODS.spec(cell.method).train_factor
    if kind == "attack":
        recipe = ATTACKS.spec(stage.recipe)
        n = stage.n or (n_train if stage.split == "train" else info.paper["test"])
        r = info.paper.get("avg_len", REFERENCE_LEN) / REFERENCE_LEN
        # the exponent is measured between TREC's and SST2's lengths only; longer texts (IMDB,
        # AG) are extrapolated linearly, as before any measurement
        length = r ** recipe.len_exp if r < 1 else r
        return n * recipe.sec_per_example * length * model.attack
    if kind == "interpret":
        pairs = (stage.attack.n or info.paper["test"]) * SUCCESS_SHARE
        lime = min(pairs, hp.lime_pairs) * hp.lime_samples / 1000
        return pairs * model.ig + lime * model.lime
    if kind == "evaluate":  # dev + test forward passes, ~1/3 of a training step each
        return (info.paper["test"] + info.paper.get("dev", 0)) * model.train / 3 + 5.0
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
