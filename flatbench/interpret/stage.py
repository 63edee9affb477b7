"""The interpret stage: IG and LIME consistency on (original, adversarial) pairs of an attack.

Pairs (`interp_pairs`; the rules are applied in this order and each removal is counted):
- "paper" (default; paper: "For IG, we evaluate all test examples and their adversarial
  counterparts"): every attacked example with an adversarial counterpart, i.e. status
  "succeeded" or "failed", the record's `adversarial` being the attack's final perturbed text.
  Removed: skipped examples (already misclassified, not attacked, no counterpart:
  `n_removed_skipped`); records whose adversarial text is missing or equals the original (a
  failed attack that changed no word: `n_removed_unchanged`); any other status
  (`n_removed_status`).
- "succeeded": the same, then only attacks that flipped the prediction (the others count in
  `n_removed_status`).
- "attacked": skipped and unchanged removed as above, whatever the status otherwise.
IG runs on every pair (batched); LIME on `lime_pairs` pairs drawn at random with the cell seed
(paper: "we randomly pick up 1000 example pairs"), all when fewer.

Both texts of a pair are explained toward the pair's gold label; per pair we compute Kendall's
tau and top-k intersection (k = 1..10) between the word attributions of x and x' (definitions,
alignment, ranking and the dropping of words without a model position: `consistency`), and
report the class (macro) average over the pairs whose value is defined
(`consistency.class_averaged`) plus the number of degenerate pairs (`<m>_degenerate_kt`,
`<m>_degenerate_ti` for TI@5). The same attributions also give the "succeeded only" reading
(`<m>_kendall_tau_succeeded`, `<m>_topk_5_succeeded`, `n_pairs_succeeded`,
`lime_n_pairs_succeeded`). Written into the stage directory:
- pairs.jsonl: one line per pair (idx, label, status, words, words without a model position
  `no_position_x/_adv`, attributions to 7 significant digits, deltas, per-pair tau and top-k list
  at full precision, None where degenerate, predictions); the metrics are computed from exactly
  these stored attributions, so re-scoring (`consistency.rescore_pairs`), CIs and paired tests
  (`flatbench.analysis.stats`) need no re-run;
- figures/pair_<idx>.html|.png: a Fig. 3-style visual of the first few pairs;
- summary.json: metrics, settings, per-class breakdown and which pairs LIME explained.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from flatbench.hparams import defaults, resolve
from flatbench.interpret.hp import HP
from flatbench.interpret.hp import REL_DELTA_MAX, REL_DELTA_MEDIAN
from flatbench.errors import UnknownNameError
from flatbench.interpret.consistency import (
    KS,
    align_words,
    class_averaged,
    class_breakdown,
    n_degenerate,
    pair_consistency,
    unpositioned_words,
)

PAIR_MODES = ("paper", "succeeded", "attacked")
DEFAULTS = defaults(HP)  # declared in flatbench.interpret.hp
TIMING_METRICS = ("ig_seconds_per_pair", "lime_seconds_per_pair")
# A text's IG is flagged when |delta| > max(DELTA_ABS, DELTA_REL * |f(x)[t] - f(baseline)[t]|).
DELTA_ABS, DELTA_REL = 0.01, 0.05


def pair_selection(records: list[dict], mode: str = "paper") -> tuple[list[dict], dict]:
    """(pairs, removal counts) under the rules of the module docstring, records kept in order."""
    if mode not in PAIR_MODES:
        raise UnknownNameError("interp_pairs", mode, PAIR_MODES)
    allowed = {"paper": ("succeeded", "failed"), "succeeded": ("succeeded",), "attacked": None}[mode]
    counts = {"n_removed_skipped": 0, "n_removed_unchanged": 0, "n_removed_status": 0}
    pairs = []
    for r in records:
        if r.get("status") == "skipped":
            counts["n_removed_skipped"] += 1
        elif not r.get("adversarial") or r["adversarial"] == r.get("original"):
            counts["n_removed_unchanged"] += 1
        elif allowed is not None and r.get("status") not in allowed:
            counts["n_removed_status"] += 1
        else:
            pairs.append(r)
    return pairs, counts


def select_pairs(records: list[dict], mode: str = "paper") -> list[dict]:
    """The pairs of `pair_selection`, without the counts."""
    return pair_selection(records, mode)[0]


def _r(v, nd: int = 6):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_r(x, nd) for x in v]
    v = float(v)
    return round(v, nd) if np.isfinite(v) else None


def _sig(v, digits: int = 7) -> list:
    """Attributions as stored in pairs.jsonl: `digits` significant digits (float32 precision,
    relative, so tiny attributions keep their order), None for a non-finite value."""
    return [float(f"{x:.{digits}g}") if np.isfinite(x) else None for x in np.asarray(v, dtype=np.float64)]


def _vec(stored: list) -> np.ndarray:
    return np.asarray([np.nan if x is None else x for x in stored], dtype=np.float64)


def _full(v):
    """A metric value stored at full precision (None for NaN): pairs.jsonl re-aggregates exactly."""
    if isinstance(v, (list, tuple)):
        return [_full(x) for x in v]
    v = float(v)
    return v if np.isfinite(v) else None


def _consistency(stored_a: list, stored_b: list, alignment, drop_x, drop_adv) -> dict:
    # scored on the stored (rounded) attributions, so re-scoring pairs.jsonl reproduces it exactly
    return pair_consistency(_vec(stored_a), _vec(stored_b), alignment, drop_x=drop_x, drop_adv=drop_adv,
                            ks=KS)


def _flagged(res) -> bool:
    return abs(res.delta) > max(DELTA_ABS, DELTA_REL * abs(res.f_x - res.f_baseline))


def _micro(values) -> float:
    v = [float(x) for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _aggregate(prefix: str, rows: list[dict], labels: list[int], statuses: list) -> dict:
    """Macro averages over the defined values, degenerate counts, and the succeeded-only reading."""
    taus = [r["kendall_tau"] for r in rows]
    ti5 = [r["topk"][KS.index(5)] for r in rows]
    m = {f"{prefix}_kendall_tau": class_averaged(taus, labels)}
    for i, k in enumerate(KS):
        m[f"{prefix}_topk_{k}"] = class_averaged([r["topk"][i] for r in rows], labels)
    m[f"{prefix}_kendall_tau_micro"] = _micro(taus)
    m[f"{prefix}_topk_5_micro"] = _micro(ti5)
    m[f"{prefix}_degenerate_kt"] = n_degenerate(taus)
    m[f"{prefix}_degenerate_ti"] = n_degenerate(ti5)
    succ = [i for i, s in enumerate(statuses) if s == "succeeded"]
    m[f"{prefix}_kendall_tau_succeeded"] = class_averaged([taus[i] for i in succ], [labels[i] for i in succ])
    m[f"{prefix}_topk_5_succeeded"] = class_averaged([ti5[i] for i in succ], [labels[i] for i in succ])
    m[f"{prefix}_degenerate_kt_succeeded"] = n_degenerate([taus[i] for i in succ])
    m[f"{prefix}_degenerate_ti_succeeded"] = n_degenerate([ti5[i] for i in succ])
    return m


def interpret_pairs(bundle, records: list[dict], hp: dict, seed: int, out: Path | None = None,
                    class_names: list[str] | None = None, progress: str | None = None,
                    lime_batched: bool = True) -> tuple[dict, list[str], dict]:
    """Core of the stage (also usable without the cache): returns (metrics, deviations, extra)
    and, when `out` is given, writes pairs.jsonl and figures there. `lime_batched=False` runs
    LIME's reference implementation, one text at a time (the same numbers, slower; benchmarks)."""
    from tqdm.auto import tqdm

    from flatbench.interpret.ig import integrated_gradients
    from flatbench.interpret.lime import lime_explain, lime_explain_many

    cfg = resolve(hp, HP)  # the cell's view; a plain dict gets the declared defaults
    pairs, removed = pair_selection(records, cfg["interp_pairs"])
    n = len(pairs)
    tok = bundle.tokenizer
    labels = [int(p["label"]) for p in pairs]
    statuses = [p.get("status") for p in pairs]
    al_x = [tok.align(p["original"]) for p in pairs]
    al_a = [tok.align(p["adversarial"]) for p in pairs]
    words_x = [list(w) for w, _ in al_x]
    words_a = [list(w) for w, _ in al_a]
    # words no position of the model's row points to (cut off by max_len): dropped when scoring
    nopos_x = [unpositioned_words(p2w, len(w)) for w, p2w in al_x]
    nopos_a = [unpositioned_words(p2w, len(w)) for w, p2w in al_a]
    aligns = [align_words(wx, wa) for wx, wa in zip(words_x, words_a)]
    deviations: list[str] = []

    # IG on every pair, x and x' in one batched call.
    t0 = time.time()
    ig = integrated_gradients(bundle, [p["original"] for p in pairs] + [p["adversarial"] for p in pairs],
                              labels + labels, n_steps=int(cfg["ig_steps"]), baseline=cfg["ig_baseline"],
                              batch_size=int(cfg["ig_batch_size"]),
                              internal_batch_size=cfg["ig_internal_batch_size"]) if n else []
    ig_secs = time.time() - t0
    ig_x, ig_a = ig[:n], ig[n:]

    # LIME on a seeded random subset of pairs.
    n_lime = min(int(cfg["lime_pairs"]), n)
    lime_idx = sorted(random.Random(seed).sample(range(n), n_lime)) if n_lime else []
    lime_res: dict[int, tuple] = {}
    # per pair, x with seed base_seed and x' with base_seed + 1
    lime_jobs = [(i, side, text, (int(seed) * 1_000_003 + int(pairs[i]["idx"]) * 2) % (2**32) + side)
                 for i in lime_idx for side, text in ((0, pairs[i]["original"]), (1, pairs[i]["adversarial"]))]
    t0 = time.time()
    if lime_batched:  # many texts' samples per forward pass, the same numbers (interpret.lime)
        with tqdm(total=len(lime_idx), desc=f"{progress or 'interpret'} LIME", disable=not progress,
                  leave=False) as bar:
            res = lime_explain_many(bundle, [t for _, _, t, _ in lime_jobs], [labels[i] for i, _, _, _ in lime_jobs],
                                    [s for _, _, _, s in lime_jobs], num_samples=int(cfg["lime_samples"]),
                                    class_names=class_names, mask=cfg["lime_mask"],
                                    progress=lambda k: bar.update(k // 2 - bar.n))
    else:
        res = [lime_explain(bundle, t, labels[i], num_samples=int(cfg["lime_samples"]), seed=s,
                            class_names=class_names, mask=cfg["lime_mask"])
               for i, _, t, s in tqdm(lime_jobs, desc=f"{progress or 'interpret'} LIME", disable=not progress,
                                      leave=False)]
    for k, i in enumerate(lime_idx):
        lime_res[i] = (res[2 * k], res[2 * k + 1])
    lime_secs = time.time() - t0

    rows, ig_rows, lime_rows, lime_labels, lime_statuses = [], [], [], [], []
    for i, p in enumerate(pairs):
        al = aligns[i]
        gx, ga = ig_x[i], ig_a[i]
        sx, sa = _sig(gx.attributions), _sig(ga.attributions)
        c_ig = _consistency(sx, sa, al, nopos_x[i], nopos_a[i])
        ig_rows.append(c_ig)
        row = {"idx": p["idx"], "label": labels[i], "status": p.get("status"),
               "orig_pred": p.get("orig_pred"), "adv_pred": p.get("adv_pred"),
               "words_x": words_x[i], "words_adv": words_a[i], "replaced": p.get("replaced", []),
               "no_position_x": nopos_x[i], "no_position_adv": nopos_a[i],
               "aligned_by_position": al.identity,
               "changed": [list(c) for c in al.changed],
               "pred_x": int(np.argmax(gx.logits)), "pred_adv": int(np.argmax(ga.logits)),
               "prob_x": _r(_softmax(gx.logits)), "prob_adv": _r(_softmax(ga.logits)),
               "ig": {"x": sx, "adv": sa,
                      "delta_x": _r(gx.delta), "delta_adv": _r(ga.delta),
                      "rel_delta_x": _r(gx.rel_delta), "rel_delta_adv": _r(ga.rel_delta),
                      "f_x": _r(gx.f_x), "f_baseline_x": _r(gx.f_baseline),
                      "f_adv": _r(ga.f_x), "f_baseline_adv": _r(ga.f_baseline),
                      "flagged": _flagged(gx) or _flagged(ga),
                      "kendall_tau": _full(c_ig["kendall_tau"]), "topk": _full(c_ig["topk"])}}
        if not al.identity:
            row["alignment"] = [list(q) for q in al.pairs]
        if i in lime_res:
            lx, la = lime_res[i]
            lsx, lsa = _sig(lx.weights), _sig(la.weights)
            c_l = _consistency(lsx, lsa, al, nopos_x[i], nopos_a[i])
            lime_rows.append(c_l)
            lime_labels.append(labels[i])
            lime_statuses.append(statuses[i])
            row["lime"] = {"x": lsx, "adv": lsa, "score_x": _r(lx.score),
                           "score_adv": _r(la.score), "kendall_tau": _full(c_l["kendall_tau"]),
                           "topk": _full(c_l["topk"])}
        rows.append(row)

    deltas = [abs(r.delta) for r in ig]
    rel = np.array([r.rel_delta for r in ig], dtype=np.float64)
    n_mismatch = sum(1 for a in aligns if not a.identity)
    n_resplit_bad = sum(1 for v in lime_res.values() for r in v if not r.resplit_ok)
    metrics = {"n_pairs": n, "n_records": len(records), **removed,
               "n_pairs_succeeded": statuses.count("succeeded"), "n_pairs_failed": statuses.count("failed"),
               "lime_n_pairs_succeeded": lime_statuses.count("succeeded"),
               "n_pairs_truncated": sum(1 for i in range(n) if nopos_x[i] or nopos_a[i]),
               "n_length_mismatch": n_mismatch,
               "ig_seconds_per_pair": ig_secs / n if n else float("nan"),
               "ig_delta_mean": float(np.mean(deltas)) if deltas else float("nan"),
               "ig_delta_max": float(np.max(deltas)) if deltas else float("nan"),
               "ig_flagged": sum(1 for r in rows if r["ig"]["flagged"]),
               # completeness of the cell over every explained text (x and x'): IGResult.rel_delta,
               # checked against REL_DELTA_MEDIAN / REL_DELTA_MAX (a deviation line when exceeded)
               "ig_rel_delta_median": float(np.median(rel)) if n else float("nan"),
               "ig_rel_delta_p95": float(np.percentile(rel, 95)) if n else float("nan"),
               "ig_rel_delta_max": float(rel.max()) if n else float("nan"),
               "ig_rel_delta_exceeds": int(bool(n) and (float(np.median(rel)) >= REL_DELTA_MEDIAN
                                                        or float(rel.max()) >= REL_DELTA_MAX)),
               "lime_pairs_explained": n_lime,
               "lime_seconds_per_pair": lime_secs / n_lime if n_lime else float("nan")}
    metrics.update(_aggregate("ig", ig_rows, labels, statuses))
    metrics.update(_aggregate("lime", lime_rows, lime_labels, lime_statuses))
    metrics["n_classes_with_pairs"] = len(set(labels))

    if n_mismatch:
        deviations.append(f"interpret: {n_mismatch} of {n} pairs had different model-word counts for x and "
                          "x'; aligned with difflib (unmatched words excluded from Kendall's tau)")
    if n_resplit_bad:
        deviations.append(f"interpret: {n_resplit_bad} LIME texts re-tokenised differently after joining the "
                          "model words with spaces")
    if n == 0:
        deviations.append("interpret: no pairs to explain (no adversarial texts of the selected kind)")
    # A failed completeness check is a property of the cell's numbers, not a deviation from the
    # paper: it is in the metrics (ig_rel_delta_*), in summary.json, and said on stderr now.
    completeness_warning = None
    if metrics["ig_rel_delta_exceeds"]:
        completeness_warning = (
            f"IG completeness check failed: relative delta median {metrics['ig_rel_delta_median']:.4f} "
            f"(limit {REL_DELTA_MEDIAN}), p95 {metrics['ig_rel_delta_p95']:.4f}, max "
            f"{metrics['ig_rel_delta_max']:.4f} (limit {REL_DELTA_MAX}) over {2 * n} texts at "
            f"{int(cfg['ig_steps'])} steps: these attributions are not IG's to that precision")
        print(f"{progress or 'interpret'}: warning: {completeness_warning}", file=sys.stderr)

    post_ln = bool(getattr(bundle.model, "post_ln", False))
    extra = {"settings": {**cfg, "ig_layer": "model.ig_layer: the HF embedding layer's output" if post_ln
                          else "model.embedding", "ig_method": "gausslegendre", "ig_precision": "float32",
                          "ig_word_aggregation": "sum over embedding dims, then over a word's pieces",
                          "ranking": "signed attribution toward the gold label",
                          "kendall_tau": "scipy tau-b over aligned positioned words; NaN (degenerate) "
                                         "for < 2 words or a constant side",
                          "topk": "|top-k(x) & top-k(x')| / k; NaN (degenerate) unless >= k aligned "
                                  "positioned words",
                          "unpositioned_words": "words cut off by max_len dropped from both sides",
                          "class_average": "macro over gold labels of the pairs",
                          "delta_flag": f"|delta| > max({DELTA_ABS}, {DELTA_REL} * |f(x)-f(baseline)|)",
                          "rel_delta": "|delta| / max(|f(x)-f(baseline)|, sum |position attributions|); "
                                       f"check: median < {REL_DELTA_MEDIAN} and max < {REL_DELTA_MAX} over the "
                                       "cell's texts"},
             "per_class": {"ig_kendall_tau": _breakdown([r["kendall_tau"] for r in ig_rows], labels),
                           "ig_topk_5": _breakdown([r["topk"][4] for r in ig_rows], labels),
                           "lime_kendall_tau": _breakdown([r["kendall_tau"] for r in lime_rows], lime_labels),
                           "lime_topk_5": _breakdown([r["topk"][4] for r in lime_rows], lime_labels)},
             "lime_idx": [pairs[i]["idx"] for i in lime_idx],
             "ig_completeness_warning": completeness_warning}

    if out is not None:
        out = Path(out)
        # timings stay in the manifest's metrics: summary.json holds only what was computed, so
        # the same stage gives the same bytes on every executor and after any kill/resume
        stable = {k: v for k, v in metrics.items() if k not in TIMING_METRICS}
        (out / "summary.json").write_text(json.dumps({"metrics": stable, "deviations": deviations, **extra},
                                                     indent=1, default=str))
        with open(out / "pairs.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        n_fig = min(int(cfg["interp_figures"] or 0), n)
        if n_fig:
            from flatbench.report.plots import render_pair

            (out / "figures").mkdir(exist_ok=True)
            for row in rows[:n_fig]:
                render_pair(row, out / "figures" / f"pair_{row['idx']}", method="ig", label_names=class_names)
    return metrics, deviations, extra


def _breakdown(values, labels) -> dict:
    return {str(y): {"mean": _r(m), "n": c} for y, (m, c) in class_breakdown(values, labels).items()}


def _softmax(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def run_interpret_stage(stage, ctx, out: Path, inputs: list[Path]) -> tuple[dict, list[str], dict]:
    """InterpretStage.execute: inputs = [model_dir, attack_dir]."""
    from flatbench.models.bundle import ModelBundle
    from flatbench.analysis.records import raw_records

    model_dir, attack_dir = inputs
    cell = stage.attack.model.cell
    bundle = ModelBundle.load(model_dir, getattr(ctx, "device", "cpu") or "cpu")
    bundle.model.eval()
    records = raw_records(attack_dir)
    class_names = _class_names(cell.dataset, getattr(ctx, "data_dir", None), bundle.config.get("n_classes"))
    return interpret_pairs(bundle, records, stage.hp, int(cell.seed), out=out, class_names=class_names,
                           progress=stage.label() if hasattr(stage, "label") else None)


def _class_names(dataset: str, data_dir, n_classes) -> list[str] | None:
    try:
        from flatbench.data import load_dataset

        names = list(load_dataset(dataset, data_dir).label_names)
        return names if n_classes is None or len(names) == int(n_classes) else None
    except Exception:  # names only label figures; never fail the stage for them
        return None
