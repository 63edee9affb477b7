"""One interpret measurement in a fresh process (driven by interpret_throughput.py).

    python benchmarks/interpret_once.py --model-dir DIR --records FILE --mode ref|batched
        [--what stage|lime] [--lime-pairs 50] [--max-records 500] [--rows-per-call N] [--seed 13]

--what stage: `interpret_pairs` as the interpret stage runs it (IG on every pair, LIME on
`lime_pairs` seeded pairs, pairs.jsonl, summary.json and figures written to a temporary
directory), LIME by the reference (`--mode ref`: one text at a time, LIME's own explain_instance)
or batched (`lime_explain_many`); IG is the same code in both.
--what lime: only LIME on the stage's LIME texts and seeds (reference or batched).
--what ig: only IG on every pair's two texts with --ig-batch texts per call and --ig-internal
rows per Captum pass (the stage's defaults: 32 and 2048); sha256 of the attributions and deltas.
--what profile: where LIME's time goes, per text, for both implementations in this process (the
reference, the batched, the reference again; wall-clock timers around the model's forward, the
tokenizer, LIME's sampling, distance and ridge fit).
Prints one JSON line: seconds by part, sha256 of the written files (stage) or of the LIME
weights (lime), the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--mode", choices=("ref", "batched"), required=True)
    ap.add_argument("--what", choices=("stage", "lime", "profile", "ig"), default="stage")
    ap.add_argument("--ig-batch", type=int, default=32)
    ap.add_argument("--ig-internal", type=int, default=2048)
    ap.add_argument("--lime-pairs", type=int, default=50)
    ap.add_argument("--max-records", type=int, default=None)
    ap.add_argument("--rows-per-call", type=int, default=None)
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    load0 = os.getloadavg()[0]

    import torch

    torch.set_num_threads(1)
    from flatbench.interpret.stage import interpret_pairs, select_pairs
    from flatbench.models.bundle import ModelBundle

    t_imp = time.perf_counter()
    bundle = ModelBundle.load(Path(a.model_dir), "cpu")
    bundle.model.eval()
    with open(a.records, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()][: a.max_records]
    t_load = time.perf_counter()
    hp = {"lime_pairs": a.lime_pairs}  # table3_cpu's interpret settings: the declared defaults but LIME pairs
    out: dict = {"mode": a.mode, "what": a.what, "lime_pairs": a.lime_pairs, "rows_per_call": a.rows_per_call,
                 "import_s": t_imp - T0, "load_s": t_load - t_imp, "load1_before": load0}
    if a.what == "stage":
        if a.rows_per_call:
            import flatbench.interpret.lime as lime_mod

            many = lime_mod.lime_explain_many
            lime_mod.lime_explain_many = lambda *x, **k: many(*x, **{**k, "rows_per_call": a.rows_per_call})
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            metrics, _, _ = interpret_pairs(bundle, records, hp, a.seed, out=Path(d), lime_batched=a.mode == "batched")
            out["stage_s"] = time.perf_counter() - t
            out["sha256"] = {f: hashlib.sha256((Path(d) / f).read_bytes()).hexdigest()
                             for f in ("pairs.jsonl", "summary.json")}
            out["sha256"]["figures"] = hashlib.sha256(b"".join(
                p.read_bytes() for p in sorted((Path(d) / "figures").glob("*.html")))).hexdigest()
        n, n_lime = metrics["n_pairs"], metrics["lime_pairs_explained"]
        out.update(n_pairs=n, n_lime=n_lime, ig_s=metrics["ig_seconds_per_pair"] * n,
                   lime_s=metrics["lime_seconds_per_pair"] * n_lime)
        out["rest_s"] = out["stage_s"] - out["ig_s"] - out["lime_s"]
    elif a.what == "ig":
        from flatbench.interpret.ig import integrated_gradients

        pairs = select_pairs(records)
        texts = [p["original"] for p in pairs] + [p["adversarial"] for p in pairs]
        labels = [int(p["label"]) for p in pairs] * 2
        t = time.perf_counter()
        res = integrated_gradients(bundle, texts, labels, batch_size=a.ig_batch, internal_batch_size=a.ig_internal)
        out.update(ig_s=time.perf_counter() - t, n_pairs=len(pairs), n_lime=0, ig_batch=a.ig_batch,
                   ig_internal=a.ig_internal)
        out["sha256"] = {"ig": hashlib.sha256(b"".join(r.attributions.tobytes() + repr(r.delta).encode()
                                                       for r in res)).hexdigest()}
    elif a.what == "profile":
        out.update(profile(bundle, records, a))
        out["n_lime"] = 0
    else:
        from flatbench.interpret.lime import lime_explain, lime_explain_many

        pairs = select_pairs(records)
        n_lime = min(a.lime_pairs, len(pairs))
        idx = sorted(random.Random(a.seed).sample(range(len(pairs)), n_lime))
        jobs = [(t, int(pairs[i]["label"]), (a.seed * 1_000_003 + int(pairs[i]["idx"]) * 2) % 2**32 + side)
                for i in idx for side, t in ((0, pairs[i]["original"]), (1, pairs[i]["adversarial"]))]
        t = time.perf_counter()
        if a.mode == "ref":
            res = [lime_explain(bundle, x, y, 1000, s) for x, y, s in jobs]
        else:
            res = lime_explain_many(bundle, [j[0] for j in jobs], [j[1] for j in jobs], [j[2] for j in jobs], 1000,
                                    rows_per_call=a.rows_per_call)
        out["lime_s"] = time.perf_counter() - t
        out["n_lime"] = n_lime
        out["sha256"] = {"lime": hashlib.sha256(b"".join(r.weights.tobytes() + repr((r.intercept, r.score)).encode()
                                                         for r in res)).hexdigest()}
    out["lime_pairs_per_s"] = out["n_lime"] / out["lime_s"] if out.get("lime_s") and out["n_lime"] else None
    out["load1_after"] = os.getloadavg()[0]
    print(json.dumps(out))


def profile(bundle, records, a) -> dict:
    """Milliseconds per text by component, reference and batched LIME (module docstring)."""
    import lime.lime_base as lime_base
    import lime.lime_text as lime_text

    import flatbench.interpret.lime as L
    from flatbench.interpret.stage import select_pairs

    pairs = select_pairs(records)
    idx = sorted(random.Random(a.seed).sample(range(len(pairs)), min(a.lime_pairs, len(pairs))))
    jobs = [(t, int(pairs[i]["label"]), (a.seed * 1_000_003 + int(pairs[i]["idx"]) * 2) % 2**32 + side)
            for i in idx for side, t in ((0, pairs[i]["original"]), (1, pairs[i]["adversarial"]))]
    timers: dict = {}

    def timed(name, f):
        def g(*x, **k):
            t = time.perf_counter()
            try:
                return f(*x, **k)
            finally:
                timers[name] = timers.get(name, 0.0) + time.perf_counter() - t
        return g

    bundle.model.forward = timed("model forward", bundle.model.forward)
    bundle.tokenizer.batch = timed("tokenizer", bundle.tokenizer.batch)
    ex = lime_text.LimeTextExplainer
    ex._LimeTextExplainer__data_labels_distances = timed(
        "sampling+classifier_fn+distance", ex._LimeTextExplainer__data_labels_distances)
    lime_base.LimeBase.explain_instance_with_data = timed("ridge fit", lime_base.LimeBase.explain_instance_with_data)
    for name in ("_sample", "_distances", "_word_ids", "_forward"):
        setattr(L, name, timed(name, getattr(L, name)))
    L.lime_explain_many(bundle, [jobs[0][0]], [jobs[0][1]], [jobs[0][2]])  # warm-up
    res: dict = {}
    for mode in ("ref", "batched", "ref2"):
        timers.clear()
        t = time.perf_counter()
        if mode.startswith("ref"):
            for x, y, sd in jobs:
                L.lime_explain(bundle, x, y, 1000, sd)
        else:
            L.lime_explain_many(bundle, [j[0] for j in jobs], [j[1] for j in jobs], [j[2] for j in jobs], 1000)
        total = time.perf_counter() - t
        ms = {k: 1000 * v / len(jobs) for k, v in timers.items()}
        ms["total"] = 1000 * total / len(jobs)
        if mode.startswith("ref"):
            inner = ms.get("sampling+classifier_fn+distance", 0.0)
            ms["sampling+distance (inner minus forward and tokenizer)"] = (
                inner - ms.get("model forward", 0.0) - ms.get("tokenizer", 0.0))
        ms["forward share"] = ms.get("model forward", 0.0) / ms["total"]
        res[mode] = {k: round(v, 3) for k, v in ms.items()}
    return {"profile_ms_per_text": res, "n_texts": len(jobs)}


if __name__ == "__main__":
    main()
