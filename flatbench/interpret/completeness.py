"""An independent check of IG's completeness (`flatbench.interpret.ig`), for any model.

Three readings of the same texts:
- ours: `IGResult.delta` / `rel_delta` (Captum's Gauss-Legendre attributions, f(baseline) at the
  path's start);
- Captum's own `return_convergence_delta=True` (f(baseline) of the model run on the baseline ids),
  which must equal `IGResult.captum_delta`;
- a reference: the same straight path in the same layer, integrated here with our own hooks and
  autograd by the midpoint rule with `reference_steps` (default 1,000) steps, in float64
  accumulation. Its own delta says whether the path is integrable at all; its word attributions
  are compared with ours.
"""

from __future__ import annotations

import numpy as np
import torch

from flatbench.interpret.ig import (
    REL_DELTA_MAX,
    REL_DELTA_MEDIAN,
    _words_from_positions,
    baseline_ids,
    ig_layer,
    integrated_gradients,
)


def riemann_reference(bundle, text: str, target: int, n_steps: int = 1000, baseline: str = "pad",
                      chunk: int = 250) -> dict:
    """IG of one text by the midpoint rule: word attributions, special mass, delta, f(x), f(b)."""
    model, tok = bundle.model, bundle.tokenizer
    dev = bundle.device
    was_training = model.training
    model.eval()
    layer = ig_layer(model)
    words, pos2word = tok.align(text)
    ids = tok.batch([text]).to(dev)
    base = baseline_ids(tok, ids, [pos2word], baseline)
    got = []
    try:
        with torch.autocast(torch.device(dev).type, enabled=False):
            with torch.no_grad():
                h = layer.register_forward_hook(lambda m, i, o: got.append(o.detach()))
                try:
                    f_x = float(model(ids)[0, target])
                    model(base)
                finally:
                    h.remove()
            x_out, b_out = got
            diff = x_out - b_out
            total = torch.zeros_like(x_out, dtype=torch.float64)
            alphas = (torch.arange(n_steps, dtype=torch.float64, device=dev) + 0.5) / n_steps
            for s in range(0, n_steps, chunk):
                a = alphas[s : s + chunk].to(x_out.dtype).view(-1, *([1] * (x_out.dim() - 1)))
                z = (b_out + a * diff).requires_grad_(True)
                h = layer.register_forward_hook(lambda m, i, o: z)
                try:
                    out = model(ids.expand(len(a), -1))[:, target].sum()
                finally:
                    h.remove()
                (g,) = torch.autograd.grad(out, z)
                total += g.double().sum(0, keepdim=True)
            with torch.no_grad():
                h = layer.register_forward_hook(lambda m, i, o: b_out)
                try:
                    f_b = float(model(ids)[0, target])
                finally:
                    h.remove()
    finally:
        model.train(was_training)
    pos_attr = (diff.double() * total / n_steps).sum(-1)[0].cpu().numpy()
    wa, special = _words_from_positions(pos_attr[: len(pos2word)], pos2word, len(words))
    delta = float(pos_attr.sum()) - (f_x - f_b)
    return {"words": list(words), "attributions": wa, "special": special, "delta": delta, "f_x": f_x,
            "f_baseline": f_b, "rel_delta": abs(delta) / max(abs(f_x - f_b), 1e-12)}


def captum_deltas(bundle, texts: list[str], targets: list[int], n_steps: int = 50,
                  baseline: str = "pad") -> np.ndarray:
    """Captum's own convergence delta per text (LayerIntegratedGradients on the same layer, one
    text per call, Gauss-Legendre)."""
    from captum.attr import LayerIntegratedGradients

    model, tok = bundle.model, bundle.tokenizer
    was_training = model.training
    model.eval()
    lig = LayerIntegratedGradients(model, ig_layer(model))
    out = []
    try:
        with torch.autocast(torch.device(bundle.device).type, enabled=False):
            for text, t in zip(texts, targets):
                ids = tok.batch([text]).to(bundle.device)
                base = baseline_ids(tok, ids, [tok.align(text)[1]], baseline)
                _, d = lig.attribute(ids, baselines=base, target=int(t), n_steps=n_steps,
                                     return_convergence_delta=True)
                out.append(float(d.reshape(-1)[0]))
    finally:
        model.train(was_training)
    return np.asarray(out)


def completeness_check(bundle, texts: list[str], targets: list[int], n_steps: int = 50,
                       n_reference: int = 2, reference_steps: int = 1000, n_captum: int | None = None,
                       baseline: str = "pad") -> dict:
    """Ours vs Captum's vs the reference on `texts` (the reference and Captum's delta on the first
    `n_reference` / `n_captum` texts: they cost a forward pass per step). Returns plain numbers:
    rel_delta_{median,p95,max} (`IGResult.rel_delta`), ok (median < REL_DELTA_MEDIAN and max < REL_DELTA_MAX),
    captum_formula_err (|our captum_delta - Captum's|, max), captum_rel_delta_max, reference
    rel deltas, and ref_attr_rel_err (max over texts of sum|ours - ref| / sum|ref| over words)."""
    res = integrated_gradients(bundle, texts, targets, n_steps=n_steps, baseline=baseline)
    rel = np.array([r.rel_delta for r in res])
    span = np.array([abs(r.f_x - r.f_baseline) for r in res])
    n_captum = len(texts) if n_captum is None else min(n_captum, len(texts))
    cap = captum_deltas(bundle, texts[:n_captum], targets[:n_captum], n_steps, baseline)
    ours_cap = np.array([r.captum_delta for r in res[:n_captum]])
    # Captum's delta relative to its own span, as `rel_delta` is to ours
    cap_span = np.array([abs(r.f_x - r.f_baseline_input) for r in res[:n_captum]])
    refs = [riemann_reference(bundle, t, int(y), reference_steps, baseline)
            for t, y in zip(texts[:n_reference], targets[:n_reference])]
    attr_err = []
    for r, ref in zip(res, refs):
        a = np.append(r.attributions, r.special)
        b = np.append(ref["attributions"], ref["special"])
        attr_err.append(float(np.abs(a - b).sum() / max(np.abs(b).sum(), 1e-12)))
    out = {"n": len(texts), "n_steps": n_steps,
           "rel_delta_median": float(np.median(rel)), "rel_delta_p95": float(np.percentile(rel, 95)),
           "rel_delta_max": float(rel.max()),
           "abs_delta_max": float(np.max([abs(r.delta) for r in res])),
           "span_median": float(np.median(span)),
           "n_captum": n_captum,
           "captum_formula_err": float(np.abs(ours_cap - cap).max()) if n_captum else float("nan"),
           "captum_rel_delta_median": float(np.median(np.abs(cap) / np.maximum(cap_span, 1e-12)))
           if n_captum else float("nan"),
           "captum_rel_delta_max": float((np.abs(cap) / np.maximum(cap_span, 1e-12)).max())
           if n_captum else float("nan"),
           "n_reference": len(refs), "reference_steps": reference_steps,
           "reference_rel_delta_max": float(max((r["rel_delta"] for r in refs), default=float("nan"))),
           "ours_rel_delta_on_reference_texts": [float(r.rel_delta) for r in res[: len(refs)]],
           "ref_attr_rel_err": float(max(attr_err, default=float("nan")))}
    out["ok"] = bool(out["rel_delta_median"] < REL_DELTA_MEDIAN and out["rel_delta_max"] < REL_DELTA_MAX)
    return out
