"""Loss terms of the paper's Eq. (1)-(5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


def masked_prediction_loss(logits, y, entropy, beta: float) -> torch.Tensor:
    """L_pred for one batch: E_q[CE(f(W*x), y)] - beta * H_q(W|x) (Monte-Carlo, one sample).

    `entropy` is the per-example mask entropy averaged over its real words."""
    return F.cross_entropy(logits, y) - beta * entropy.mean()


def importance_loss(phi_orig: torch.Tensor, phi_sub: torch.Tensor, pair_index: torch.Tensor,
                    n_pairs: int) -> torch.Tensor:
    """L_imp: sum over replaced positions of |phi_x_i - phi_x'_i|, averaged over the batch's
    (x, x') pairs. phi_* are (P,) over all replaced positions; pair_index maps each to its pair."""
    if phi_orig.numel() == 0:
        return phi_orig.new_zeros(())
    per_pos = (phi_orig - phi_sub).abs()
    per_pair = torch.zeros(n_pairs, device=per_pos.device, dtype=per_pos.dtype).index_add(0, pair_index, per_pos)
    return per_pair.mean()
