"""Does L_imp do its job? The quantity FLAT's gamma * L_imp pulls down, measured.

For an adversarial round k of a masked (FLAT) model: the replaced/substitute word pairs (w, w')
of the training set's adversarial examples D'_k (the succeeded attacks on round k-1's model,
which round k trains on), and |phi(w) - phi(w')| under round k-1's model ("before") and round k's
("after"). phi is global (a function of the word alone, flatbench.models.masks), so each distinct
(w, w') pair is one value; pairs are counted once per occurrence in D'_k, as L_imp sums them.
Reported: the mean gap before and after with a seeded bootstrap CI of the change, the share of
pairs whose gap shrank (and grew), and the same over distinct pairs. A FLAT model with gamma > 0
should move the pairs closer than the same model with gamma = 0 (Table 5's (0.1, 0) variant);
adv models have no masks, so the quantity is not defined for them.

Words outside the model's vocabulary map to <unk> (the model sees them so); such pairs are
counted and kept, as they are what the model trained on.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from flatbench.analysis.records import raw_records

N_BOOT, SEED = 2000, 0


def pairs_of(records: list[dict]) -> list[tuple[str, str]]:
    """(replaced word, substitute) of every replaced position of the succeeded attacks."""
    out = []
    for r in records:
        if r.get("status") != "succeeded":
            continue
        for _, o, s in r.get("replaced") or []:
            out.append((o, s))
    return out


def phi_of(bundle, words: list[str]) -> np.ndarray:
    import torch

    tok = bundle.tokenizer
    stoi = tok.vocab.stoi
    unk = stoi.get("<unk>", 1)
    if not words:
        return np.zeros(0)
    ids = torch.tensor([stoi.get(w.lower(), unk) for w in words], dtype=torch.long, device=bundle.device)
    with torch.inference_mode():
        return bundle.model.word_phi(ids).float().cpu().numpy().astype(np.float64)


def gap_summary(before: np.ndarray, after: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Mean |phi gap| before / after, the change with a bootstrap CI, and the shares that moved."""
    if before.size == 0:
        return {"n_pairs": 0}
    d = after - before
    rng = np.random.default_rng(seed)
    reps = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(1) if d.size else np.zeros(1)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    return {"n_pairs": int(before.size), "gap_before": float(before.mean()), "gap_after": float(after.mean()),
            "change": float(d.mean()), "change_lo": float(lo), "change_hi": float(hi),
            "share_closer": float(np.mean(after < before - 1e-9)),
            "share_further": float(np.mean(after > before + 1e-9))}


def run_phi_pairs_stage(stage, ctx, out: Path, inputs: list[Path]) -> tuple[dict, list[str], dict]:
    """inputs: [round k-1 model, attack(train) of round k-1, round k model]."""
    from flatbench.models.bundle import ModelBundle

    before_dir, attack_dir, after_dir = inputs
    pairs = pairs_of(raw_records(attack_dir))
    b0, b1 = ModelBundle.load(before_dir, ctx.device), ModelBundle.load(after_dir, ctx.device)
    if b0.model.mask is None or b1.model.mask is None or not hasattr(b0.tokenizer, "vocab"):
        # adv/base have no masks; subword models' phi is per piece (not covered here)
        metrics = {"n_pairs": len(pairs), "defined": False}
        (out / "pairs.jsonl").write_text("", encoding="utf-8")
        return metrics, [], {}
    distinct = sorted(set(pairs))
    words = sorted({w for p in distinct for w in p})
    idx = {w: i for i, w in enumerate(words)}
    p0, p1 = phi_of(b0, words), phi_of(b1, words)
    g0 = {p: abs(p0[idx[p[0]]] - p0[idx[p[1]]]) for p in distinct}
    g1 = {p: abs(p1[idx[p[0]]] - p1[idx[p[1]]]) for p in distinct}
    before = np.array([g0[p] for p in pairs])
    after = np.array([g1[p] for p in pairs])
    m = {"defined": True, **gap_summary(before, after),
         **{f"distinct_{k}": v for k, v in gap_summary(np.array([g0[p] for p in distinct]),
                                                         np.array([g1[p] for p in distinct])).items()}}
    counts = Counter(pairs)
    with open(out / "pairs.jsonl", "w", encoding="utf-8") as f:
        for p in distinct:
            f.write(json.dumps({"w": p[0], "sub": p[1], "count": counts[p],
                                "phi_before": [round(float(p0[idx[p[0]]]), 6), round(float(p0[idx[p[1]]]), 6)],
                                "phi_after": [round(float(p1[idx[p[0]]]), 6), round(float(p1[idx[p[1]]]), 6)]}) + "\n")
    return m, [], {}
