"""Common shape of every flatbench classifier.

A model maps a batch of token ids (B, L) — 0 is padding — to logits (B, C); never softmax
(the official FLAT code fed softmax into CrossEntropyLoss). It owns its tokeniser
(`encode_texts`), an `embedding` layer (the IG target), and optionally a variational word mask
applied right after the embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from flatbench.models.masks import VariationalWordMask


@dataclass
class Output:
    logits: torch.Tensor
    phi: torch.Tensor | None = None  # (B, L) keep-probabilities of the words, if masked
    entropy: torch.Tensor | None = None  # (B,) mask entropy, if masked


class TextClassifier(nn.Module):
    """Subclasses implement `encode(emb, pad) -> logits` and `encode_texts`/`words`."""

    embedding: nn.Embedding
    mask: VariationalWordMask | None
    max_len: int

    def word_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        # Read the table directly (not via the module), so an IG hook on `self.embedding`
        # never changes the mask network's input: phi stays a function of the word alone.
        return F.embedding(ids, self.embedding.weight)

    def forward_full(self, ids: torch.Tensor) -> Output:
        pad = ids != 0
        x = self.embedding(ids)
        phi = ent = None
        if self.mask is not None:
            x, phi, ent = self.mask(self.word_embeddings(ids), x, pad)
        return Output(self.encode(x, pad), phi, ent)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.forward_full(ids).logits

    def encode(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def word_phi(self, ids: torch.Tensor) -> torch.Tensor:
        """Global importance phi of each id (any shape); ones if the model has no mask."""
        if self.mask is None:
            return torch.ones(ids.shape, device=ids.device)
        return self.mask.phi(self.word_embeddings(ids))
