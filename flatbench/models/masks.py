"""Variational word masks (Chen & Ji 2020), as FLAT uses them.

The inference network is a single-hidden-layer feed-forward net on each word's embedding
*alone*: q(W_x | x) = Bernoulli(phi_x) with phi_x = softmax(net(e_x))[keep]. Because it sees
nothing but the word's own embedding row, phi is global: one value per vocabulary word,
independent of position and context, which the analyses read out per word.

Training: W is sampled with the Gumbel-softmax straight-through estimator and multiplies the
embedding (g_phi(x) = W * x). Inference: each embedding is multiplied by phi_x (the paper's
Implementation Specification).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class VariationalWordMask(nn.Module):
    def __init__(self, emb_dim: int, hidden: int = 100, tau: float = 1.0):
        super().__init__()
        self.hidden = nn.Linear(emb_dim, hidden)
        self.out = nn.Linear(hidden, 2)  # logits of (drop, keep)
        self.tau = tau
        # Start near phi = 0.5 neither favouring nor suppressing words.
        nn.init.zeros_(self.out.bias)
        # Ablation switch: with fixed_ones the masks are all 1 (FLAT degenerates to adv).
        self.fixed_ones = False

    def logits(self, word_emb: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(word_emb)))

    def phi(self, word_emb: torch.Tensor) -> torch.Tensor:
        """Keep-probability per word; word_emb is (..., emb_dim) of the word's own embedding."""
        if self.fixed_ones:
            return torch.ones(word_emb.shape[:-1], device=word_emb.device, dtype=word_emb.dtype)
        return F.softmax(self.logits(word_emb), dim=-1)[..., 1]

    def sample(self, word_emb: torch.Tensor, pad: torch.Tensor):
        """(mask weights W (B, L): a straight-through Gumbel sample in training, phi at inference;
        phi (B, L); entropy per example (B,) averaged over the real words `pad`). Models whose
        embedding layer would cancel a multiplication (DeBERTa: LayerNorm of the word-piece
        embedding alone) apply W after that layer instead of to its input."""
        if self.fixed_ones:
            ones = torch.ones(word_emb.shape[:2], device=word_emb.device, dtype=word_emb.dtype)
            return ones, ones, torch.zeros(word_emb.shape[0], device=word_emb.device, dtype=word_emb.dtype)
        logits = self.logits(word_emb)
        probs = F.softmax(logits, dim=-1)
        phi = probs[..., 1]
        if self.training:
            w = F.gumbel_softmax(logits, tau=self.tau, hard=True)[..., 1]
        else:
            w = phi
        logp = F.log_softmax(logits, dim=-1)
        ent = -(probs * logp).sum(-1)  # H(Bernoulli(phi)) per word
        padf = pad.to(ent.dtype)
        ent = (ent * padf).sum(1) / padf.sum(1).clamp(min=1.0)
        return w, phi, ent

    def forward(self, word_emb: torch.Tensor, x: torch.Tensor, pad: torch.Tensor):
        """Mask the input representation x (B, L, D) using masks from word_emb (B, L, E).

        Returns (masked x, phi (B, L), entropy per example (B,) averaged over real words)."""
        w, phi, ent = self.sample(word_emb, pad)
        return x * w.unsqueeze(-1).to(x.dtype), phi, ent
