"""`--dry-run`: the stages a grid needs, whether each is cached, and a rough cost estimate."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.data.datasets import dataset_info

# Order-of-magnitude costs. LSTM/CNN/MiniLM: measured on this project's 2-core CPU machine while
# other runs shared it (so upper bounds), one torch thread per process. BERT/DeBERTa: guesses for
# one GPU (never measured here).
SEC_PER_EXAMPLE_EPOCH = {"lstm": 3e-3, "cnn": 3e-3, "minilm": 0.25, "bert": 4e-3, "deberta": 6e-3}
# per attacked example of SST2's length (19 words) against an LSTM/CNN, TextAttack 0.3.11 through
# our runner, scaled by a dataset's average length. Measured 2026-12-01 on the loaded 2-core
# machine (median over the table3_cpu stages): PWWS 0.08-0.35 s, TextFooler with the calibrated
# bound and USE-m3 0.18-0.67 s (TREC 0.04-0.13 s). gene/iga: 2026-11 measurements; pso/clare/bae
# cannot run offline and are guesses.
SEC_PER_ATTACK = {"pwws": 0.25, "textfooler": 0.3, "gene": 4.7, "iga": 1.9, "pso": 10.0, "clare": 10.0, "bae": 3.0}
REFERENCE_LEN = 19
# how much dearer a victim-model query is than an LSTM/CNN query (MiniLM measured: PWWS 12x,
# TextFooler 3x, whose cost is mostly its sentence encoder)
ATTACK_MODEL_FACTOR = {"minilm": 6.0, "bert": 1.0, "deberta": 1.3}  # bert/deberta: on a GPU (guess)
# per explained text pair: IG (50 steps) and LIME (per 1,000 samples)
IG_SEC_PER_PAIR = {"lstm": 0.1, "cnn": 0.05, "minilm": 5.0, "bert": 0.5, "deberta": 0.7}
LIME_SEC_PER_PAIR = {"lstm": 0.8, "cnn": 0.8, "minilm": 70.0, "bert": 5.0, "deberta": 7.0}
SUCCESS_SHARE = 0.75  # share of attacked examples that become explained pairs (paper pairs; ~0.5-0.8 here)
GPU_MODELS = {"bert", "deberta"}


def estimate_seconds(stage) -> float:
    kind = stage.kind
    cell = stage.owner()
    info = dataset_info(cell.dataset)
    n_train = cell.hp.get("train_n") or info.paper["train"]
    per = SEC_PER_EXAMPLE_EPOCH.get(cell.model, 1e-3)
    if kind == "train":
        ep = cell.hp.get("round_epochs", cell.hp.get("epochs", 10)) if stage.round else cell.hp.get("epochs", 10)
        return n_train * ep * per * (1.1 if stage.round else 1)  # + D' in rounds
    if kind == "attack":
        n = stage.n or (n_train if stage.split == "train" else info.paper["test"])
        length = info.paper.get("avg_len", REFERENCE_LEN) / REFERENCE_LEN
        return n * SEC_PER_ATTACK.get(stage.recipe, 5.0) * length * ATTACK_MODEL_FACTOR.get(cell.model, 1.0)
    if kind == "interpret":
        pairs = (stage.attack.n or info.paper["test"]) * SUCCESS_SHARE
        lime = min(pairs, float(cell.hp.get("lime_pairs", 1000))) * float(cell.hp.get("lime_samples", 1000)) / 1000
        return pairs * IG_SEC_PER_PAIR.get(cell.model, 1.0) + lime * LIME_SEC_PER_PAIR.get(cell.model, 10.0)
    if kind == "evaluate":  # dev + test forward passes, ~1/3 of a training step each
        return (info.paper["test"] + info.paper.get("dev", 0)) * per / 3 + 5.0
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
