"""One measured attack run in its own process (the unit of benchmarks/attack_throughput.py).

    python benchmarks/attack_once.py --mode stock|ours --recipe pwws --model-dir DIR --n 50 [--workers 2]
        [--dataset sst2|trec | --items FILE.json] [--lockstep K]

`--recipe` and `--model-dir` may list several (comma-separated): the process then runs one stage
per (model, recipe), in that order, as a grid run does (stock: one Attack built and one
`Attacker` run per stage; ours: one `run_attack` per stage, sharing its standing workers).

Prints one JSON line: the records (status and adversarial text per example), the seconds spent
starting up (imports, model, attack build) and in the attack loop, and, for `--profile`, where
the loop's time goes by component. Every measurement runs in a fresh process, so no cache
(TextAttack's, or flatbench's memoised look-ups) carries over from one run to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()


def _items(n: int, seed: int, dataset: str = "sst2"):
    import numpy as np

    from flatbench.data.datasets import load_dataset

    ds = load_dataset(dataset)
    idx = sorted(np.random.default_rng(seed).choice(len(ds.test), n, replace=False).tolist())
    return [(i, ds.test.texts[i], int(ds.test.labels[i])) for i in idx]


def _stages(model_dirs: str, recipes: str):
    return [(m, r) for m in model_dirs.split(",") for r in recipes.split(",")]


def stock(model_dirs: str, recipes: str, items, profile: bool) -> dict:
    """textattack.Attacker with TextAttack's own PyTorchModelWrapper: what a user of the library runs
    (TextAttack imported as it is, every package __init__ run: no flatbench.lazy_packages)."""
    os.environ["FLATBENCH_LAZY_PACKAGES"] = "0"
    from flatbench.attack_resources.catalog import ensure_nltk_env

    ensure_nltk_env()
    import textattack
    import torch
    from textattack.models.wrappers import PyTorchModelWrapper

    from flatbench.attacks.recipes import build_attack
    from flatbench.attacks.runner import result_record
    from flatbench.models.bundle import ModelBundle

    torch.set_num_threads(1)
    startup, loop, recs, prof = None, 0.0, [], None
    for model_dir, recipe in _stages(model_dirs, recipes):
        bundle = ModelBundle.load(model_dir)
        bundle.model.eval()  # stock Attacker never sets eval; the comparison needs equal models
        wrapper = PyTorchModelWrapper(bundle.model, lambda texts, b=bundle: b.tokenizer.batch(texts).tolist())
        attack, _ = build_attack(recipe, wrapper)
        ds = textattack.datasets.Dataset([(t, y) for _, t, y in items])
        args = textattack.AttackArgs(num_examples=len(items), silent=True, disable_stdout=True, random_seed=0)
        if startup is None:
            startup = time.perf_counter() - T_START
            prof = _profiler(profile)
        t0 = time.perf_counter()
        results = textattack.Attacker(attack, ds, args).attack_dataset()
        loop += time.perf_counter() - t0
        recs += [result_record(r, i, y) for r, (i, _, y) in zip(results, items)]
    return {"records": recs, "startup_s": startup, "loop_s": loop, "profile": _components(prof, loop)}


def ours(model_dirs: str, recipes: str, items, workers: int, profile: bool, tmp: str) -> dict:
    import torch

    from flatbench.attacks.runner import run_attack

    torch.set_num_threads(1)
    prof = _profiler(profile and workers == 1)
    loop, fwd, recs, calls, texts, lock = 0.0, 0.0, [], 0, 0, {}
    for k, (model_dir, recipe) in enumerate(_stages(model_dirs, recipes)):
        r, stats = run_attack(model_dir, recipe, items, Path(tmp) / f"stage{k}", workers=workers, progress=False,
                              threads=1)
        # stats["seconds"]: the attack loop of the slowest shard (after its start-up and attack build)
        loop += stats["seconds"]
        fwd += stats["forward_seconds"] / max(stats["workers"], 1)
        calls, texts = calls + stats["model_calls"], texts + stats["model_texts"]
        for key, v in stats.get("lockstep", {}).items():
            lock[key] = lock.get(key, 0) + v
        recs += r
    total = time.perf_counter() - T_START
    return {"records": recs, "startup_s": total - loop, "loop_s": loop,
            "forward_share": fwd / max(loop, 1e-9), "forward_s": fwd, "model_calls": calls, "model_texts": texts,
            "texts_per_call": texts / max(calls, 1), "lockstep": lock, "profile": _components(prof, loop)}


def _profiler(on: bool):
    if not on:
        return None
    import cProfile

    p = cProfile.Profile()
    p.enable()
    return p


# Where a search's time goes: cumulative seconds of the functions that own each component.
COMPONENTS = {
    "model forward": [("flatbench/attacks/wrapper.py", "__call__"),
                      ("textattack/models/wrappers/pytorch_model_wrapper.py", "__call__")],
    "sentence encoder": [("constraints/semantics/sentence_encoders/sentence_encoder.py", "_check_constraint_many"),
                         ("constraints/semantics/sentence_encoders/sentence_encoder.py", "_check_constraint")],
    "candidate generation (transformation)": [("textattack/transformations/transformation.py", "__call__")],
    "constraints (all, incl. encoder)": [("textattack/constraints/constraint.py", "call_many")],
    "AttackedText.generate_new_attacked_text (incl. its __init__)": [
        ("textattack/shared/attacked_text.py", "generate_new_attacked_text")],
    "AttackedText.__init__ (all)": [("textattack/shared/attacked_text.py", "__init__")],
    "POS tagging (spaCy)": [("flatbench/attack_resources/constraints.py", "spacy_universal_tags"),
                            ("flatbench/attack_resources/tagger_cache.py", "tags_at")],
    "word-embedding distance": [("constraints/semantics/word_embedding_distance.py", "_check_constraint")],
    "goal function (incl. model forward)": [("textattack/goal_functions/goal_function.py", "get_results")],
}


def _components(prof, loop_s: float) -> dict | None:
    if prof is None:
        return None
    import pstats

    prof.disable()
    st = pstats.Stats(prof)
    out = {}
    for comp, fns in COMPONENTS.items():
        tot = 0.0
        for (file, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
            if name in {f for _, f in fns} and any(file.endswith(p) for p, f in fns if f == name):
                tot += ct  # cumulative time of that function (none of these recurse)
        out[comp] = round(tot, 3)
    out["loop_s (profiled)"] = round(loop_s, 3)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("stock", "ours"), required=True)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--dataset", default="sst2", help="whose seeded test examples are attacked")
    ap.add_argument("--items", default=None, help="a JSON file of [idx, text, label] (instead of --dataset/--n)")
    ap.add_argument("--lockstep", default=None,
                    help="ours: examples in flight per worker (FLATBENCH_ATTACK_LOCKSTEP; 0: one at a time)")
    ap.add_argument("--lockstep-tol", default=None, help="ours: the lockstep guard's tolerance (0: unguarded)")
    a = ap.parse_args(argv)
    # torch first, timed: the start-up target is "3 s beyond importing torch" (both modes import it)
    t = time.perf_counter()
    import torch  # noqa: F401

    torch_s = time.perf_counter() - t
    if a.lockstep_tol is not None:
        os.environ["FLATBENCH_ATTACK_LOCKSTEP_TOL"] = str(a.lockstep_tol)
    if a.lockstep is not None:
        os.environ["FLATBENCH_ATTACK_LOCKSTEP"] = str(a.lockstep)
    if a.items:
        items = [tuple(x) for x in json.loads(Path(a.items).read_text(encoding="utf-8"))]
        a.n = len(items)
    else:
        items = _items(a.n, a.seed, a.dataset)
    if a.mode == "stock":
        out = stock(a.model_dir, a.recipe, items, a.profile)
    else:
        import tempfile

        tmp = a.tmp or tempfile.mkdtemp(prefix="flatbench-bench-")
        out = ours(a.model_dir, a.recipe, items, a.workers, a.profile, tmp)
    out.update(mode=a.mode, recipe=a.recipe, n=a.n, workers=a.workers if a.mode == "ours" else 1,
               pid=os.getpid(), total_s=time.perf_counter() - T_START, torch_import_s=torch_s,
               startup_beyond_torch_s=out["startup_s"] - torch_s)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
