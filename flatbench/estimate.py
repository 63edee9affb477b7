"""`--dry-run`: the stages a grid needs, whether each is cached, and a rough cost estimate."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.data.datasets import dataset_info
from flatbench.settings import cell_hp

# Order-of-magnitude costs. LSTM/CNN/MiniLM: measured on this project's 2-core CPU machine while
# other runs shared it (so upper bounds), one torch thread per process. BERT/DeBERTa: guesses for
# one GPU (never measured here).
# Word models re-measured 2026-12-02 (table3_cpu, 3 processes on 2 cores): 0.5-1.4e-3 s.
SEC_PER_EXAMPLE_EPOCH = {"lstm": 1e-3, "cnn": 1e-3, "minilm": 0.25, "bert": 4e-3, "deberta": 6e-3}
# a method's training step against base's (freelb: K = 5 ascent steps, measured 3.3e-3 s vs 0.5-0.7e-3)
METHOD_TRAIN_FACTOR = {"freelb": 4.0}
# per attacked example of SST2's length (19 words) against an LSTM/CNN, TextAttack 0.3.11 through
# our runner, scaled by (a dataset's average length / 19) ** ATTACK_LEN_EXP. Re-measured
# 2026-12-02 after the runner's fast paths, on the quiet 2-core machine, one process, trained
# table3_cpu models re-attacking their cached test stages (benchmarks/recheck_cached_attacks.py,
# records identical): TextFooler 0.030-0.033 s on SST2 (0.009-0.018 s for a later stage of the
# process on the same sentences), 0.017 s on TREC; PWWS 0.014-0.018 s on SST2; Gene 0.59 s (CNN),
# IGA 0.62-0.67 s (LSTM). pso/clare/bae cannot run offline and are guesses.
SEC_PER_ATTACK = {"pwws": 0.02, "textfooler": 0.03, "gene": 1.0, "iga": 0.7, "pso": 10.0, "clare": 10.0, "bae": 3.0}
# PWWS scores every word's every WordNet synonym: its cost grows faster than linearly with length
ATTACK_LEN_EXP = {"pwws": 2.5}
REFERENCE_LEN = 19
# how much dearer an attacked example is against a transformer victim than against an LSTM/CNN.
# MiniLM's factor was measured on 2026-12-01 against the LSTM/CNN cost of then (PWWS 12x,
# TextFooler 3x; 6x of 0.15 s used). The runner's 2026-12-02 fast paths cut the LSTM/CNN cost,
# not a transformer's forward pass, so these factors keep the transformer costs where they were
# (bert/deberta: on a GPU, a guess).
ATTACK_MODEL_FACTOR = {"minilm": 30.0, "bert": 5.0, "deberta": 6.5}
# per explained text pair: IG (50 steps) and LIME (per 1,000 samples)
IG_SEC_PER_PAIR = {"lstm": 0.1, "cnn": 0.05, "minilm": 5.0, "bert": 0.5, "deberta": 0.7}
LIME_SEC_PER_PAIR = {"lstm": 0.8, "cnn": 0.8, "minilm": 70.0, "bert": 5.0, "deberta": 7.0}
SUCCESS_SHARE = 0.75  # share of attacked examples that become explained pairs (paper pairs; ~0.5-0.8 here)
GPU_MODELS = {"bert", "deberta"}


def estimate_seconds(stage) -> float:
    kind = stage.kind
    cell = stage.owner()
    info = dataset_info(cell.dataset)
    hp = cell_hp(cell)
    n_train = hp["train_n"] or info.paper["train"]
    per = SEC_PER_EXAMPLE_EPOCH.get(cell.model, 1e-3)
    if kind == "train":
        ep = (hp.get("round_epochs") or hp["epochs"]) if stage.round else hp["epochs"]
        return n_train * ep * per * (1.1 if stage.round else 1) * METHOD_TRAIN_FACTOR.get(cell.method, 1.0)
    if kind == "attack":
        n = stage.n or (n_train if stage.split == "train" else info.paper["test"])
        r = info.paper.get("avg_len", REFERENCE_LEN) / REFERENCE_LEN
        # the exponent is measured between TREC's and SST2's lengths only; longer texts (IMDB,
        # AG) are extrapolated linearly, as before any measurement
        length = r ** ATTACK_LEN_EXP.get(stage.recipe, 1.3) if r < 1 else r
        return n * SEC_PER_ATTACK.get(stage.recipe, 5.0) * length * ATTACK_MODEL_FACTOR.get(cell.model, 1.0)
    if kind == "interpret":
        pairs = (stage.attack.n or info.paper["test"]) * SUCCESS_SHARE
        lime = min(pairs, float(hp["lime_pairs"])) * float(hp["lime_samples"]) / 1000
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
