"""Integrated Gradients (Sundararajan et al. 2017) on the embedding layer, batched.

Settings (named, recorded by the interpret stage):
- layer: `model.ig_layer` (default `model.embedding`, the word-embedding table) via Captum
  `LayerIntegratedGradients`; DeBERTa's is its whole embedding layer, whose output is
  LayerNorm(word-piece embedding) (`flatbench.models.transformers.norm_only_embeddings`: the
  straight line through a scale-invariant norm from a zero row is not integrable with 50 steps).
  Masked (FLAT) models read phi from the embedding table directly, so phi stays a function of the
  word while the layer output is interpolated (the attribution covers the path through the mask).
- baseline "pad" (default): the pad id (0) at every position of the row, i.e. the layer's output
  for the pad ids (the zero pad row for the word-piece table; 0 for DeBERTa's embedding layer,
  which zeroes padding positions). "pad_special": the same but special-token positions (those
  `tokenizer.align` maps to -1, e.g. [CLS]/[SEP]) keep their own ids.
- target: a given label per example (the stage passes the pair's gold label).
- n_steps (default 50) with Captum's default Gauss-Legendre rule.
- per-position attribution = sum over embedding dimensions; per-word attribution = sum over
  the positions (pieces) of that word (completeness is preserved); special-token positions
  belong to no word.
- convergence delta = sum of all position attributions - (f(x)[t] - f(baseline)[t]), with
  f(baseline) evaluated at the path's start (the real ids drive the padding mask and phi, only the
  layer output is replaced), so it measures the integration error only. Captum's own
  `return_convergence_delta` instead evaluates the model on the baseline ids
  (`f_baseline_input`: their padding mask and phi too), which adds the gap between that and the
  path's start to the integration error (`captum_delta`); the two agree where nothing but the
  layer reads the ids (BERT, unmasked CNN). `flatbench.interpret.completeness` checks both
  against an independent 1,000-step Riemann sum of the same path.
- always float32, whatever the model's `precision` (bf16 gradients would swamp the delta).

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
# A cell's IG passes the completeness check when, over its texts, the median relative delta is
# below REL_DELTA_MEDIAN and the largest below REL_DELTA_MAX (50 steps; the interpret stage warns).
from flatbench.interpret.hp import REL_DELTA_MAX, REL_DELTA_MEDIAN  # noqa: E402,F401 (defined torch-free)


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
    f_baseline_input: float = float("nan")  # logit of `target` of the model run on the baseline ids
    mass: float = float("nan")  # sum of |position attributions|: the scale KT/TI rank on

    @property
    def rel_delta(self) -> float:
        """|delta| / |f(x)[t] - f(baseline)[t]|: the integration error relative to what IG
        distributes (the per-cell check: median < 0.01, max < 0.05 at 50 steps). A text whose f(x)
        is close to f(baseline) reads large however small |delta| is (a CNN text: |delta| 0.001 on
        a span of 0.007); relative to the attribution mass instead (`mass`) a broken path reads
        small, because its attributions are large (DeBERTa before its fix: median 0.006 instead
        of 0.38), so the span it is."""
        return abs(self.delta) / max(abs(self.f_x - self.f_baseline), 1e-12)

    @property
    def captum_delta(self) -> float:
        """Captum's convergence delta: f(baseline) taken on the baseline ids (module docstring)."""
        return self.delta - self.f_baseline + self.f_baseline_input


def _words_from_positions(pos_attr: np.ndarray, pos2word: list[int], n_words: int) -> tuple[np.ndarray, float]:
    out = np.zeros(n_words, dtype=np.float64)
    special = 0.0
    for p, w in enumerate(pos2word):
        if w < 0:
            special += float(pos_attr[p])
        else:
            out[w] += float(pos_attr[p])
    return out, special


def baseline_ids(tok, ids, pos2words, baseline: str = "pad"):
    """The baseline ids of a batch of equal-length rows: the pad id everywhere ("pad"), special
    tokens keeping their own ids ("pad_special"; `pos2words[r][p] < 0`)."""
    if baseline not in BASELINES:
        raise UnknownNameError("IG baseline", baseline, BASELINES)
    base = torch.full_like(ids, int(getattr(tok, "pad_id", 0) or 0))
    if baseline == "pad_special":
        for r, pos2word in enumerate(pos2words):
            for p, w in enumerate(pos2word):
                if w < 0:
                    base[r, p] = ids[r, p]
    return base


def ig_layer(model):
    """The module whose output IG interpolates: `model.ig_layer` where the model names one."""
    layer = getattr(model, "ig_layer", None)
    return model.embedding if layer is None else layer


def _run_capturing(model, layer, ids):
    """(float logits of model(ids), the output `layer` produced in that run)."""
    got = []
    h = layer.register_forward_hook(lambda m, inp, out: got.append(out))
    try:
        logits = model(ids).float()
    finally:
        h.remove()
    return logits, got[0]


def _run_replacing(model, layer, ids, out):
    """Float logits of model(ids) with `layer`'s output replaced by `out` (the path at alpha)."""
    h = layer.register_forward_hook(lambda m, inp, o: out)
    try:
        return model(ids).float()
    finally:
        h.remove()


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
    layer = ig_layer(model)
    lig = LayerIntegratedGradients(model, layer)
    try:
        # float32 whatever the model's precision: bf16 gradients would swamp the delta
        with torch.autocast(torch.device(dev).type, enabled=False):
            for chunk in chunks:
                ids = tok.batch([texts[i] for i in chunk]).to(dev)
                base = baseline_ids(tok, ids, [aligned[i][1] for i in chunk], baseline)
                tgt = torch.tensor([int(targets[i]) for i in chunk], device=dev)
                attr = lig.attribute(ids, baselines=base, target=tgt, n_steps=n_steps, method=method,
                                     internal_batch_size=internal_batch_size)
                pos_attr = attr.sum(-1).detach().float().cpu().numpy()  # (B, L)
                with torch.no_grad():
                    logits_x = model(ids).float()
                    logits_bi, base_out = _run_capturing(model, layer, base)
                    logits_b = _run_replacing(model, layer, ids, base_out)
                rows = torch.arange(len(chunk), device=dev)
                fx = logits_x[rows, tgt].cpu().numpy()
                fb = logits_b[rows, tgt].cpu().numpy()
                fbi = logits_bi[rows, tgt].cpu().numpy()
                lx = logits_x.cpu().numpy()
                for r, i in enumerate(chunk):
                    words, pos2word = aligned[i]
                    n_pos = len(pos2word)
                    wa, special = _words_from_positions(pos_attr[r, :n_pos], pos2word, len(words))
                    total = float(pos_attr[r].sum(dtype=np.float64))
                    results[i] = IGResult(list(words), wa, int(targets[i]),
                                          total - float(fx[r] - fb[r]), float(fx[r]), float(fb[r]),
                                          lx[r].copy(), special, float(fbi[r]),
                                          float(np.abs(pos_attr[r, :n_pos]).sum(dtype=np.float64)))
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]
