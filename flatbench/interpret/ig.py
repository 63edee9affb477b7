"""Integrated Gradients (Sundararajan et al. 2017) on the embedding layer, batched.

Settings (named, recorded by the interpret stage):
- layer: `model.embedding` via Captum `LayerIntegratedGradients`. Masked (FLAT) models read phi
  from the embedding table directly, so phi stays a function of the word while the embedding
  output is interpolated (the attribution covers the path through the masked embedding).
- baseline "pad" (default): the pad id (0) at every position of the row, i.e. the pad embedding
  (a zero row for the word-level models). "pad_special": the same but special-token positions
  (those `tokenizer.align` maps to -1, e.g. [CLS]/[SEP]) keep their own ids.
- target: a given label per example (the stage passes the pair's gold label).
- n_steps (default 50) with Captum's default Gauss-Legendre rule.
- per-position attribution = sum over embedding dimensions; per-word attribution = sum over
  the positions (pieces) of that word (completeness is preserved); special-token positions
  belong to no word.
- convergence delta = sum of all position attributions - (f(x)[t] - f(baseline)[t]), with
  f(baseline) evaluated along the same path as IG (the real ids drive the padding mask and phi,
  only the embedding output is replaced), so it measures the integration error only.

The model runs in eval mode (no dropout; masks multiply by phi) and is restored afterwards.
Texts are grouped by row length and batched within a group (no padding beyond a text's own row),
so a text's result does not depend on the other texts attributed with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from flatbench.errors import UnknownNameError

BASELINES = ("pad", "pad_special")


@dataclass
class IGResult:
    words: list[str]
    attributions: np.ndarray  # (n_words,) per word, summed over a word's pieces
    target: int
    delta: float  # sum of position attributions - (f_x - f_baseline)
    f_x: float  # logit of `target` at the input
    f_baseline: float  # logit of `target` at the baseline
    logits: np.ndarray  # (C,) logits at the input (in this padded batch)
    special: float = 0.0  # attribution mass on positions that belong to no word

    @property
    def rel_delta(self) -> float:
        return abs(self.delta) / max(abs(self.f_x - self.f_baseline), 1e-12)


def _words_from_positions(pos_attr: np.ndarray, pos2word: list[int], n_words: int) -> tuple[np.ndarray, float]:
    out = np.zeros(n_words, dtype=np.float64)
    special = 0.0
    for p, w in enumerate(pos2word):
        if w < 0:
            special += float(pos_attr[p])
        else:
            out[w] += float(pos_attr[p])
    return out, special


def integrated_gradients(bundle, texts: list[str], targets: list[int], n_steps: int = 50,
                         baseline: str = "pad", batch_size: int = 32,
                         internal_batch_size: int | None = None,
                         method: str = "gausslegendre") -> list[IGResult]:
    """IG attributions toward `targets[i]` for every text, in the order given.

    Up to batch_size texts of equal row length are attributed together (n_steps * batch_size
    forward rows, split into chunks of internal_batch_size rows when given)."""
    from captum.attr import LayerIntegratedGradients

    if baseline not in BASELINES:
        raise UnknownNameError("IG baseline", baseline, BASELINES)
    if len(texts) != len(targets):
        raise ValueError(f"{len(texts)} texts but {len(targets)} targets")
    model, tok = bundle.model, bundle.tokenizer
    dev = bundle.device
    pad_id = int(getattr(tok, "pad_id", 0) or 0)
    aligned = [tok.align(t) for t in texts]
    # Batches hold rows of one length only: no example is padded beyond its own length, so its
    # attributions never depend on which texts share its batch (models whose output depends on
    # the padding width, e.g. a CNN max-pooling over windows that reach into padding, included).
    by_len: dict[int, list[int]] = {}
    for i, (_, pos2word) in enumerate(aligned):
        by_len.setdefault(len(pos2word), []).append(i)
    chunks = [g[s : s + batch_size] for _, g in sorted(by_len.items()) for s in range(0, len(g), batch_size)]
    results: list[IGResult | None] = [None] * len(texts)
    was_training = model.training
    model.eval()
    lig = LayerIntegratedGradients(model, model.embedding)
    try:
        for chunk in chunks:
            ids = tok.batch([texts[i] for i in chunk]).to(dev)
            base = torch.full_like(ids, pad_id)
            if baseline == "pad_special":
                for r, i in enumerate(chunk):
                    for p, w in enumerate(aligned[i][1]):
                        if w < 0:
                            base[r, p] = ids[r, p]
            tgt = torch.tensor([int(targets[i]) for i in chunk], device=dev)
            attr = lig.attribute(ids, baselines=base, target=tgt, n_steps=n_steps, method=method,
                                 internal_batch_size=internal_batch_size)
            pos_attr = attr.sum(-1).detach().float().cpu().numpy()  # (B, L)
            with torch.no_grad():
                logits_x = model(ids).float()
                base_emb = model.embedding(base)
                hook = model.embedding.register_forward_hook(lambda m, inp, out: base_emb)
                try:
                    logits_b = model(ids).float()
                finally:
                    hook.remove()
            rows = torch.arange(len(chunk), device=dev)
            fx = logits_x[rows, tgt].cpu().numpy()
            fb = logits_b[rows, tgt].cpu().numpy()
            lx = logits_x.cpu().numpy()
            for r, i in enumerate(chunk):
                words, pos2word = aligned[i]
                n_pos = len(pos2word)
                wa, special = _words_from_positions(pos_attr[r, :n_pos], pos2word, len(words))
                total = float(pos_attr[r].sum(dtype=np.float64))
                results[i] = IGResult(list(words), wa, int(targets[i]),
                                      total - float(fx[r] - fb[r]), float(fx[r]), float(fb[r]),
                                      lx[r].copy(), special)
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]
