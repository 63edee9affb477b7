"""Embedding-space perturbations shared by the defences that search them (FreeLB, PGD-K): where a
text's real tokens are, TextDefender's L2 random start and its normalised ascent step with the
projection to an L2 ball (trainer/gradient.py `delta_initial`, `delta_update`, norm "l2")."""

from __future__ import annotations

import torch


def real_tokens(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, L) bool: positions that are text, not padding, for the encoder's own padding id."""
    return ids != getattr(model, "pad_id", 0)


def init_delta(emb: torch.Tensor, keep: torch.Tensor, init_mag: float) -> torch.Tensor:
    """Uniform in [-1, 1] on real tokens, scaled so that each example's L2 norm is about init_mag."""
    w = keep.unsqueeze(-1).to(emb.dtype)
    dims = (keep.sum(1).clamp(min=1) * emb.shape[-1]).to(emb.dtype)
    return (torch.empty_like(emb).uniform_(-1, 1) * w) * (init_mag / dims.sqrt()).view(-1, 1, 1)


def ascend(delta: torch.Tensor, grad: torch.Tensor, keep: torch.Tensor, lr: float,
           max_norm: float) -> torch.Tensor:
    """One step of lr along each example's L2-normalised gradient (detached; padding stays 0),
    projected to the L2 ball of max_norm (0: no projection)."""
    norm = grad.flatten(1).norm(dim=1).clamp(min=1e-8).view(-1, 1, 1)
    delta = (delta + lr * grad / norm).detach() * keep.unsqueeze(-1).to(delta.dtype)
    if max_norm > 0:
        d = delta.flatten(1).norm(dim=1).view(-1, 1, 1)
        delta = delta * (max_norm / d.clamp(min=max_norm))
    return delta
