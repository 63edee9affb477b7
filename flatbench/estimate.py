"""`--dry-run`'s cost estimate of a stage, and the predicted-vs-actual table after a run.

A stage is first reduced to its plan-time *features* (`stage_features`: kind, model, dataset,
method, round, examples and epochs, attacked examples, recipe and embedding bound, LIME pairs),
which a cached stage's manifest also gives (`manifest_features`), so the calibration script
(`benchmarks/calibrate_estimates.py`) prices every cached stage exactly as `--dry-run` priced it
and fits the rates below on what the stages took. `estimate_from(features)` is the one formula.

Rates: LSTM/CNN on SST2/TREC from `CPU_RATES` and `ATTACK_RATES` (measured on this project's
2-core machine, see the comment there); every other (model, dataset) from the model's registered
`ModelCost` (flatbench.registry: LSTM/CNN rates of an SST2-length example; BERT/DeBERTa measured on
one H200, `GPU_BASIS`), scaled by the dataset's length. A method's training step, evaluation,
attacked model and LIME cost `train_factor` / `evaluate_factor` / `attack_factor` / `lime_factor`
times base's (flatbench.registry.METHODS). Every computed stage's manifest carries the estimate
made before it ran (``estimate_seconds``) beside its ``seconds``; `actual_vs_predicted` tabulates
both after a run (flatbench.executors.common.finish)."""

from __future__ import annotations

from tabulate import tabulate

from flatbench.attacks.warm import attack_inputs, attacked, attacked_before
from flatbench.data.datasets import dataset_info
from flatbench.registry import ATTACKS, METHODS, MODELS

REFERENCE_LEN = 19  # registered rates are per example of SST2's average length (words)
ADV_SHARE = 0.1  # round k > 0 trains on D plus about this share of adversarial examples (measured 0.06-0.13)

# ------------------------------------------------------------------------------- fitted rates
# Refitted 2026-12-04 (session 9) by `python benchmarks/calibrate_estimates.py runs --paper-procedure
# --since 2026-12-04T19:51 --until 2026-12-04T22:50` on this 2-core machine's cache: the 200 LSTM/CNN SST2/TREC stages of
# base/adv/FLAT cells at the paper's procedure (3 rounds, whole training and test sets, LIME on up to
# 1,000 pairs) that recorded the machine's load (finished 19:51-22:50: TREC TextFooler seeds 14/15, SST2 PWWS
# seeds 13/14; 2-3 grid processes, load 2-3, as the CPU half runs here). The earlier fit (407
# stages 14:13-17:43, mostly reduced grids at 2-8 processes) over-predicted these stages 2.1-2.5x:
# its rates carried that load and the subsets' per-process warm-up. A (recipe, dataset) without
# stages of its own in the window (PWWS TREC, TextFooler SST2) is another dataset's rate times the
# two datasets' ratio on the strength grids' paired dev attacks (same model, bound, sitting).
# Fitted numbers and errors: benchmarks/README.md, "Estimates"; the run:
# benchmarks/baselines/estimates_2026-12-04_paperprocedure.json.
# Seconds; "per unit" = one training row and epoch (train), one dev/test row (evaluate), one
# explained pair (IG: x and x'), one LIME pair at 1,000 samples (x and x'); IG/LIME from the
# stages' own timers, scaled to match their stages' seconds (per-pair work around the timers).
CPU_RATES = {  # (model, dataset): seconds per unit
    ("cnn", "sst2"): dict(train=0.000378, evaluate=6.26e-05, ig=0.00812, lime=0.0783),
    ("cnn", "trec"): dict(train=0.000236, evaluate=4.1e-05, ig=0.00829, lime=0.0653),
    ("lstm", "sst2"): dict(train=0.000651, evaluate=9.75e-05, ig=0.0364, lime=0.142),
    ("lstm", "trec"): dict(train=0.000387, evaluate=1e-05, ig=0.00696, lime=0.0293),
}
ATTACK_RATES = {  # (recipe, dataset): seconds per attacked example against an LSTM/CNN at cos 0.95
    ("pwws", "sst2"): 0.016,
    ("pwws", "trec"): 0.00976,  # SST2's x 0.61 (22 paired dev groups)
    ("textfooler", "sst2"): 0.0591,  # TREC's x 2.42 (22 paired dev groups)
    ("textfooler", "trec"): 0.0244,
}
# An attack of examples this process attacked before (the next round on the same training set, or
# another cell's): the attack runner's per-process memo (flatbench.attacks.runner) already holds
# their candidates' POS tags, most sentence-encoder windows and embedding distances, none of which
# depend on the model. The factor applies to the attack's time outside the model's forward
# (RecipeSpec.forward_share is the rest). TextFooler: `benchmarks/warm_attack.py` (two seeded SST2
# LSTMs, 500 training sentences, cos 0.75, fresh processes, 2 interleaved repeats, load ~3): the
# second model's attack took 21.9 s warm against 53.0 s cold, 0.38x outside the forward, with
# identical records (baselines/warm_attack_2026-12-05.json). PWWS: 1.0. That benchmark read 0.55x
# outside the forward (13.7 s -> 8.6 s, its forward shrinking too), but on the grid's own SST2
# models (adv rounds 1 and 3, 600 sentences) the second attack took 17.4 s against 17.0 s cold:
# its time is the forward, and its WordNet look-ups were memoised per word already.
WARM_FACTOR = {"textfooler": 0.38}
# The rates above were fitted on stages searched by stock's GreedyWordSwapWIR loop. Since
# 2026-12-05 the runner searches TextFooler and PWWS with flatbench.attacks.greedy (the same
# records, without stock's per-candidate bookkeeping, and without encoding windows of texts shorter
# than TextFooler's sentence-encoder window, which stock scores 1 whatever their encoding): its time
# outside the model's forward over stock's, (cold, warm), read by `benchmarks/warm_attack.py
# --searches stock,greedy` (two seeded LSTMs of the dataset, 500 of its training sentences at the
# grid's matched TextFooler bound, SST2 cos 0.75 / TREC cos 0.90; fresh processes, 2 interleaved
# repeats, load ~1; records identical across searches; baselines/warm_greedy_2026-12-05.json
# (SST2 TextFooler), warm_greedy_pwws_2026-12-05.json, warm_greedy_trec_2026-12-05.json). A
# dataset not measured keeps stock's rate (its texts are longer than SST2's, so fewer of them are
# under the window). Unless FLATBENCH_ATTACK_SEARCH=stock.
SEARCH_FACTOR = {
    ("textfooler", "sst2"): (0.82, 0.68), ("pwws", "sst2"): (0.69, 0.60),
    ("textfooler", "trec"): (0.62, 0.48), ("pwws", "trec"): (0.74, 0.61),
}
# What the factors above still missed on the grid's own stages with the greedy search: actual /
# estimated seconds of every attack stage of the four adversarial-training slices of the CPU half
# (session 14: `--methods adv --attacks textfooler|pwws`, LSTM and CNN on SST2 and TREC at the
# paper's procedure, two grid processes, load ~2; 32 attack stages), fitted by
# `benchmarks/fit_attack_residual.py fit benchmarks/baselines/slice_adv_*_2026-12-05_*.json` as a
# factor per (recipe, dataset, cold|warm) times one per victim model. Cold SST2 TextFooler ran at
# half its rate (the greedy search skips the encoder on short texts, which the 500-sentence reading
# under-sampled), while the CNN's warm rounds ran over it (adversarially trained CNNs need more
# queries per round than the one ROUND_FACTOR says); the LSTM's attacks ran at 0.77 of the CNN's
# share. Fitted on those slices only; the whole CPU half of session 15 is the check
# (benchmarks/README.md, "Whole-grid wall time").
GRID_RESIDUAL = {  # (recipe, dataset): (cold, warm)
    ("pwws", "sst2"): (0.95, 0.86), ("pwws", "trec"): (0.56, 0.54),
    ("textfooler", "sst2"): (0.65, 1.07), ("textfooler", "trec"): (0.92, 0.71),
}
MODEL_RESIDUAL = {"cnn": 1.0, "lstm": 0.77}
# TextFooler's POS tags from cached per-slot rows (session 16, attack_resources.tagger_cache),
# which the stages above were fitted without: a whole attack's seconds with it over without,
# (cold, warm), per (dataset, victim model), read by `benchmarks/ab_attack.py` (the checkouts
# before and after, 300 seeded training sentences at the grid's matched bound, SST2 cos 0.75 /
# TREC cos 0.90, fresh processes, 2 interleaved repeats, load ~1, records identical in every run;
# baselines/ab_tagger_2026-12-05_*.json). Fixed before the CPU half that checks it ran.
TAGGER_FACTOR = {  # (dataset, model): (cold, warm)
    ("sst2", "lstm"): (0.68, 0.80), ("sst2", "cnn"): (0.69, 0.87),
    ("trec", "lstm"): (0.54, 0.68), ("trec", "cnn"): (0.52, 0.77),
}

BOUND_REF = 0.95  # ATTACK_RATES' bound; looser bounds admit more substitutes, so more queries
OVERHEAD = dict(train=1.0, evaluate=0.1, attack=5.0, interpret=2.0, phi_pairs=0.2, correlate=0.5)  # s per stage
PAIR_SHARE = {"sst2": 0.785, "trec": 0.644}  # explained pairs per attacked example (interp_pairs = "paper")
PAIR_SHARE_DEFAULT = 0.75
SPLIT_FACTOR = {"train": 1.48}  # an attack on the training split against one on test/dev, per example
ROUND_FACTOR = 1.11  # an attack on an adversarially trained model (round >= 1): its queries against round 0's

# Effective cosine of the bound options without a number (flatbench.attacks.recipes._common):
# the derived counter-fitted space's F1 bound and Youden point (its resource identity), the
# recipes' published 0.5.
NAMED_BOUNDS = {"f1": 0.95, "youden": 0.83, "original": 0.5}

# The GPU half rests on these readings (one H200; ModelCost of bert and deberta in the registry).
GPU_BASIS = ("H200 measurements 2026-12 (benchmarks/README.md, Estimates): random-init BERT-base / "
             "DeBERTa-base shapes, SST2, max_len 128: forward 3,100-3,400 texts/s (BERT), 2,100-2,800 "
             "(DeBERTa); IG at 50 steps 36-46 / 21-26 texts/s; one training epoch of 6,920 rows ~21 s "
             "(BERT, incl. ~12 s load; ~780 rows/s) / ~31 s (DeBERTa); PWWS 0.081 s/example (BERT), "
             "0.15-0.24 (DeBERTa); LIME 1,000 samples 0.86-1.06 s per pair (BERT); peak GPU memory "
             "18.8 GB. TextFooler and longer texts (IMDB, AG) are scaled from these, not measured")


def _bound_cos(opts: dict | None) -> float | None:
    """The embedding bound (cosine) an attack's options stand for; None when they name none."""
    if not opts:
        return None
    b = opts.get("attack_bounds")
    if b == "matched":
        return float(opts["matched_cos"]) if "matched_cos" in opts else NAMED_BOUNDS["f1"]
    if isinstance(b, str) and b.startswith("cos"):
        return float(b[3:])
    return NAMED_BOUNDS.get(b)


def _split_size(info, split: str, n_train: int) -> int:
    return n_train if split == "train" else info.paper.get(split, info.paper["test"])


def stage_features(stage) -> dict:
    """What the estimate of a stage reads, at plan time (before anything ran)."""
    from flatbench.settings import cell_hp

    cell = stage.owner()
    info, hp = dataset_info(cell.dataset), cell_hp(cell)
    f = {"kind": stage.kind, "model": cell.model, "dataset": cell.dataset, "method": cell.method}
    n_train = hp.train_n or info.paper["train"]
    if stage.kind == "train":
        r = stage.round
        first = getattr(METHODS.get(cell.method), "ROUND0", cell.method)
        f.update(round=r, method=cell.method if r else first,
                 examples=round(n_train * (1 + ADV_SHARE)) if r else n_train,
                 epochs=(hp.round_epochs or hp.epochs) if r else hp.epochs)
    elif stage.kind == "evaluate":
        f["n"] = info.paper["test"] + info.paper.get("dev", 0)
    elif stage.kind == "attack":
        f.update(recipe=stage.recipe, split=stage.split, round=stage.model.round,
                 n=stage.n or _split_size(info, stage.split, n_train), cos=_bound_cos(stage.options()))
    elif stage.kind == "interpret":
        a = stage.attack
        f.update(recipe=a.recipe, n=a.n or _split_size(info, a.split, n_train),
                 lime_pairs=int(stage.hp["lime_pairs"]), lime_samples=int(stage.hp["lime_samples"]))
    return f


def manifest_features(m: dict, dep_manifest=None) -> dict | None:
    """The features `stage_features` gave a cached stage, from its manifest (``dep_manifest``:
    key -> a dependency's manifest, for an interpret stage's attack). None when the manifest does
    not say enough (old versions)."""
    t, s = m.get("tags") or {}, m.get("spec") or {}
    kind = m.get("kind")
    if not t.get("model") or not t.get("dataset"):
        return None
    info = dataset_info(t["dataset"])
    f = {"kind": kind, "model": t["model"], "dataset": t["dataset"], "method": t.get("method")}
    if kind == "train":
        th, r = s.get("train_hp") or {}, int(s.get("round", 0))
        n_train = th.get("train_n") or info.paper["train"]
        epochs = (s.get("round_hp") or {}).get("round_epochs") or th.get("epochs") if r else th.get("epochs")
        f.update(round=r, method=s.get("method") if r else s.get("round0_of", t.get("method")),
                 examples=round(n_train * (1 + ADV_SHARE)) if r else n_train, epochs=epochs)
        if epochs is None:
            return None
    elif kind == "evaluate":
        f["n"] = info.paper["test"] + info.paper.get("dev", 0)
    elif kind == "attack":
        n_train = s.get("train_n") or info.paper["train"]
        f.update(recipe=s.get("recipe"), split=s.get("split"), round=int(t.get("round", 0)),
                 n=s.get("n") or _split_size(info, s.get("split"), n_train), cos=_bound_cos(s.get("options")),
                 warm=bool((m.get("metrics") or {}).get("warm")))
    elif kind == "interpret":
        deps = m.get("deps") or []
        a = dep_manifest(deps[1]) if dep_manifest and len(deps) > 1 else None
        if a is None or "lime_pairs" not in s:
            return None
        f.update(recipe=t.get("recipe"), n=a["spec"].get("n") or _split_size(info, a["spec"].get("split"),
                                                                              info.paper["train"]),
                 lime_pairs=int(s["lime_pairs"]), lime_samples=int(s["lime_samples"]))
    return f


def _length_ratio(dataset: str) -> float:
    return dataset_info(dataset).paper.get("avg_len", REFERENCE_LEN) / REFERENCE_LEN


def _gpu_scale(dataset: str) -> float:
    """A transformer's cost per text against SST2's: word pieces (padded to the batch's longest, so
    ~1.25 per word plus 2 special tokens, at most max_len), never below SST2's (short batches on a
    GPU cost about the same)."""
    pieces = lambda words, cap: min(words * 1.25 + 2, cap)  # noqa: E731
    cap = 512 if dataset == "imdb" else 128
    return max(1.0, pieces(dataset_info(dataset).paper.get("avg_len", REFERENCE_LEN), cap) / pieces(REFERENCE_LEN, 128))


def rates(model: str, dataset: str) -> tuple[dict, str]:
    """Per-unit rates of a (model, dataset) and where they come from ("measured" or "scaled")."""
    if (model, dataset) in CPU_RATES:
        return CPU_RATES[(model, dataset)], "measured"
    spec = MODELS.spec(model)
    if not spec.gpu and (model, "sst2") in CPU_RATES:  # a measured CPU model on a longer/shorter text
        return {k: v * _length_ratio(dataset) for k, v in CPU_RATES[(model, "sst2")].items()}, "scaled"
    c = spec.cost
    scale = _gpu_scale(dataset) if spec.gpu else _length_ratio(dataset)
    return dict(train=c.train * scale, evaluate=c.forward * scale, ig=c.ig * scale, lime=c.lime * scale,
                load=c.load), "scaled"


def attack_rate(recipe: str, dataset: str, model: str, warm: bool = False) -> float:
    """Seconds per attacked example at BOUND_REF against ``model``: the LSTM/CNN rate, its forward
    share scaled by the model's attack factor (the rest, candidates and constraints, does not
    depend on the victim; ``warm``: the rest is the memo's WARM_FACTOR of it)."""
    spec = ATTACKS.spec(recipe)
    base = ATTACK_RATES.get((recipe, dataset))
    if base is None:
        r = _length_ratio(dataset)
        # the exponent is measured between TREC's and SST2's lengths only; longer texts (IMDB,
        # AG) are extrapolated linearly, as before any measurement
        base = spec.sec_per_example * (r ** spec.len_exp if r < 1 else r)
    fs = spec.forward_share
    rest = (1 - fs) * (WARM_FACTOR.get(recipe, 1.0) if warm else 1.0)
    if _greedy_search() and (recipe, dataset) in SEARCH_FACTOR:
        rest *= SEARCH_FACTOR[(recipe, dataset)][1 if warm else 0]
    return base * (fs * MODELS.spec(model).cost.attack + rest)


def attack_residual(recipe: str, dataset: str, model: str, warm: bool = False, tagger: bool = True) -> float:
    """GRID_RESIDUAL x MODEL_RESIDUAL of an attack stage, x TAGGER_FACTOR for TextFooler unless
    ``tagger`` is False (1 where nothing was fitted, or with the stock search, whose stages the
    rates were fitted on)."""
    if not _greedy_search() or (recipe, dataset) not in GRID_RESIDUAL:
        return 1.0
    w = 1 if warm else 0
    tagging = TAGGER_FACTOR.get((dataset, model), (1.0, 1.0))[w] if tagger and recipe == "textfooler" else 1.0
    return GRID_RESIDUAL[(recipe, dataset)][w] * MODEL_RESIDUAL.get(model, 1.0) * tagging


def _greedy_search() -> bool:
    """Whether attack stages run flatbench.attacks.greedy (FLATBENCH_ATTACK_SEARCH, as the runner reads it)."""
    from flatbench.attacks.greedy import enabled

    return enabled()


def _method(f: dict, factor: str) -> float:
    """The stage's method's cost factor (1 for a method the registry does not know)."""
    return getattr(METHODS.spec(f["method"]), factor) if f.get("method") in METHODS.names() else 1.0


def estimate_from(f: dict) -> float:
    """Seconds a stage with features ``f`` takes (see the module's docstring)."""
    kind = f["kind"]
    if kind not in ("train", "evaluate", "attack", "interpret"):
        return OVERHEAD.get(kind, 1.0)
    r, _ = rates(f["model"], f["dataset"])
    fixed = OVERHEAD[kind] + r.get("load", 0.0)
    if kind == "train":
        return fixed + f["examples"] * f["epochs"] * r["train"] * _method(f, "train_factor")
    if kind == "evaluate":
        return fixed + f["n"] * r["evaluate"] * _method(f, "evaluate_factor")
    if kind == "attack":
        spec = ATTACKS.spec(f["recipe"])
        cos = f.get("cos")
        bound = 1 + spec.bound_slope * (BOUND_REF - cos) if cos is not None and spec.bound_slope else 1.0
        robust = ROUND_FACTOR if f.get("round", 0) >= 1 else 1.0
        warm = bool(f.get("warm"))
        rate = attack_rate(f["recipe"], f["dataset"], f["model"], warm=warm)
        stage = fixed + f["n"] * rate * bound * robust * SPLIT_FACTOR.get(f["split"], 1.0) * _method(f, "attack_factor")
        return stage * attack_residual(f["recipe"], f["dataset"], f["model"], warm)
    pairs = f["n"] * PAIR_SHARE.get(f["dataset"], PAIR_SHARE_DEFAULT)
    lime = min(pairs, f["lime_pairs"]) * f["lime_samples"] / 1000 * _method(f, "lime_factor")
    return fixed + pairs * r["ig"] + lime * r["lime"]


def estimate_seconds(stage, warm: bool | None = None) -> float:
    """``warm``: priced as attacked before in this process (None: as this process's record says)."""
    f = stage_features(stage)
    if stage.kind == "attack":
        f["warm"] = attacked_before(stage) if warm is None else warm
    return estimate_from(f)


def plan_estimates(stages, done=lambda s: False) -> tuple[dict, int]:
    """({stage key: estimated seconds (0 when done)}, attack stages priced warm), running the plan
    in order in one process: an attack stage is warm when an earlier one (run by this process so
    far, or earlier in the plan) attacked the same examples."""
    out, seen, warm_n = {}, attacked(), 0
    for s in stages:
        if done(s):
            out[s.key] = 0.0
            continue
        warm = None
        if s.kind == "attack":
            k = attack_inputs(s)
            warm = k in seen
            seen.add(k)
            warm_n += bool(warm and s.recipe in WARM_FACTOR)
        out[s.key] = estimate_seconds(s, warm=warm)
    return out, warm_n


def describe_plan(grid, stages, ctx) -> str:
    rows, total, by_kind = [], {"CPU": 0.0, "GPU": 0.0}, {"CPU": {}, "GPU": {}}
    one_process = 0.0  # CPU wall time as one grid process whose attack stages use their workers
    cached_keys = {s.key for s in stages if ctx.cache.done(s.kind, s.key)}
    ests, warm_n = plan_estimates(stages, lambda s: s.key in cached_keys)
    for s in stages:
        done = s.key in cached_keys
        est = ests[s.key]
        where = "GPU" if s.needs["gpu"] else "CPU"
        total[where] += est
        if where == "CPU":
            one_process += est / (_cpu_workers(s) if s.kind == "attack" else 1)
        by_kind[where][s.kind] = by_kind[where].get(s.kind, 0.0) + est
        rows.append([s.label(), s.key, "cached" if done else f"~{est / 60:.1f} min", where])
    out = tabulate(rows, headers=["stage", "key", "status / estimate", "needs"], tablefmt="github")
    cached = sum(s.key in cached_keys for s in stages)
    out += (f"\n\n{len(stages)} stages, {cached} cached; estimated work left: {total['CPU'] / 3600:.1f} h "
            f"of CPU stages (2 cores), {total['GPU'] / 3600:.1f} h of GPU stages (one GPU).")
    if warm_n:
        out += (f"\n{warm_n} attack stages are priced warm (their time outside the model's forward x"
                f"{', x'.join(f'{v:g} {k}' for k, v in WARM_FACTOR.items())}): an earlier stage of the same process "
                "attacks the same examples, so the runner's memo holds their candidates' constraint results; a run "
                "split over processes (e.g. per --models) warms each separately.")
    if total["CPU"]:
        # the CPU rates were fitted on stages that ran while two grid processes shared the 2 cores
        split = two_processes([s for s in stages if not s.needs["gpu"]], lambda s: s.key in cached_keys)
        out += "\nCPU stage time is priced at two grid processes sharing the 2 cores: "
        if split:
            (a, ta), (b, tb) = split
            out += (f"run as two processes ({a} | {b}, FLATBENCH_ATTACK_WORKERS=1), about "
                    f"{max(ta, tb) / 3600:.1f} h of wall time (the longer one; {ta / 3600:.1f} h and "
                    f"{tb / 3600:.1f} h, each warming its own attacks); ")
        out += (f"as one process, whose attack stages split over their attack workers (FLATBENCH_ATTACK_"
                f"WORKERS, default: the cores for 200+ examples) and the rest runs on one core, about "
                f"{one_process / 3600:.1f} h.")
    for where in ("CPU", "GPU"):
        if total[where]:
            out += f"\n{where} hours by stage kind: " + ", ".join(
                f"{k} {v / 3600:.1f}" for k, v in sorted(by_kind[where].items(), key=lambda kv: -kv[1]) if v)
    out += ("\nCPU basis: LSTM/CNN rates refitted 2026-12-04 on this 2-core machine's stages at the paper's "
            "procedure (benchmarks/calibrate_estimates.py --paper-procedure; load 2-3; IMDB/AG scaled by length; "
            "a busier machine takes longer).")
    if _greedy_search():
        out += (" Attack time outside the model's forward x" + ", x".join(
            f"{c:g}/{w:g} {r} {d}" for (r, d), (c, w) in SEARCH_FACTOR.items())
            + " (cold/warm): the runner's greedy search against the stock loop the rates were fitted on "
            "(benchmarks/warm_attack.py --searches stock,greedy); then whole attack stages x" + ", x".join(
            f"{c:g}/{w:g} {r} {d}" for (r, d), (c, w) in GRID_RESIDUAL.items())
            + " (cold/warm), x" + ", x".join(f"{v:g} {m}" for m, v in MODEL_RESIDUAL.items())
            + ": what those still missed on the grid's own stages (session 14's adversarial slices of the CPU "
            "half; benchmarks/fit_attack_residual.py); TextFooler's stages x" + ", x".join(
            f"{c:g}/{w:g} {m} {d}" for (d, m), (c, w) in TAGGER_FACTOR.items())
            + " (cold/warm) for its POS tags from cached rows (benchmarks/ab_attack.py).")
    if any(s.needs["gpu"] for s in stages):
        out += f"\nGPU basis: {GPU_BASIS}."
    return out


def two_processes(stages, done=lambda s: False) -> list[tuple[str, float]] | None:
    """The plan as two grid processes, as a user splits it: per --models when it has several models,
    else per --datasets (cells of one model and dataset share stages, so they stay together); the
    parts packed longest first onto the lighter process. Returns [(the process's filter, its stage
    seconds)] x 2, each process priced as a plan of its own (its attacks warm only from its own
    stages), or None when the plan has one model and one dataset."""
    for flag, attr in (("--models", "model"), ("--datasets", "dataset")):
        parts: dict[str, list] = {}
        for s in stages:
            parts.setdefault(getattr(s.owner(), attr), []).append(s)
        if len(parts) >= 2:
            break
    else:
        return None
    alone = {name: sum(plan_estimates(p, done)[0].values()) for name, p in parts.items()}
    procs: list[list[str]] = [[], []]
    loads = [0.0, 0.0]
    for name in sorted(alone, key=lambda n: (-alone[n], n)):
        i = int(loads[1] < loads[0])
        procs[i].append(name)
        loads[i] += alone[name]
    return [(f"{flag} {','.join(names)}", sum(plan_estimates([s for n in names for s in parts[n]], done)[0].values()))
            for names in procs]


def _cpu_workers(stage) -> int:
    """The cores an attack stage of one grid process uses on this 2-core machine: its attack
    workers (flatbench.attacks.stage.attack_workers; a whole split counts as 200+ examples)."""
    from flatbench.attacks.stage import attack_workers

    return max(1, min(2, attack_workers(stage.n if stage.n is not None else 10**6)))


# ------------------------------------------------------------------- predicted vs actual, after a run
def actual_vs_predicted(rows: list[dict]) -> tuple[str, dict]:
    """``rows``: one per computed stage (kind, model, dataset, label, estimate_seconds, seconds).
    Returns the printed table (per stage kind, and per model/dataset within it) and its JSON."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        for key in ((r["kind"], "all", ""), (r["kind"], r.get("model") or "-", r.get("dataset") or "-")):
            g = groups.setdefault(key, {"stages": 0, "predicted_s": 0.0, "actual_s": 0.0})
            g["stages"] += 1
            g["predicted_s"] += float(r.get("estimate_seconds") or 0.0)
            g["actual_s"] += float(r.get("seconds") or 0.0)
    table = []
    for (kind, model, dataset), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0])):
        g["ratio"] = round(g["actual_s"] / g["predicted_s"], 3) if g["predicted_s"] else None
        g["predicted_s"], g["actual_s"] = round(g["predicted_s"], 1), round(g["actual_s"], 1)
        if model == "all" and sum(k[0] == kind for k in groups) == 2:
            continue  # one model/dataset only: its row says it all
        table.append([kind, model, dataset, g["stages"], g["predicted_s"], g["actual_s"],
                      "–" if g["ratio"] is None else f"{g['ratio']:.2f}"])
    p, a = sum(float(r.get("estimate_seconds") or 0) for r in rows), sum(float(r.get("seconds") or 0) for r in rows)
    table.append(["total", "", "", len(rows), round(p, 1), round(a, 1), f"{a / p:.2f}" if p else "–"])
    text = tabulate(table, headers=["stage kind", "model", "dataset", "stages", "predicted s", "actual s",
                                    "actual / predicted"], tablefmt="github")
    data = {"groups": [{"kind": k, "model": m, "dataset": d, **g} for (k, m, d), g in groups.items()],
            "total": {"stages": len(rows), "predicted_s": round(p, 1), "actual_s": round(a, 1),
                      "ratio": round(a / p, 3) if p else None},
            "stages": rows}
    return text, data
