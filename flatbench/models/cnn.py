"""Kim (2014) CNN: filter widths 3, 4, 5, ReLU, max-over-time pooling, dropout, linear."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from flatbench.models.base import TextClassifier
from flatbench.models.masks import VariationalWordMask


class CNNClassifier(TextClassifier):
    def __init__(self, emb: torch.Tensor, n_classes: int, max_len: int, filters: int = 100,
                 widths: tuple[int, ...] = (3, 4, 5), dropout: float = 0.5,
                 mask_hidden: int | None = None, freeze_emb: bool = True):
        super().__init__()
        self.max_len = max_len
        self.widths = tuple(widths)
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=freeze_emb, padding_idx=0)
        self.mask = VariationalWordMask(emb.shape[1], mask_hidden) if mask_hidden else None
        self.convs = nn.ModuleList(nn.Conv1d(emb.shape[1], filters, w) for w in self.widths)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(self.widths), n_classes)

    def encode(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = x * pad.unsqueeze(-1).to(x.dtype)
        short = max(self.widths) - x.shape[1]
        if short > 0:  # texts shorter than the widest filter
            x = F.pad(x, (0, 0, 0, short))
        x = x.transpose(1, 2)
        # Windows past a text's own (padded-to-widest-filter) length see only batch padding:
        # zero them (ReLU outputs are >= 0, so they cannot win the max), so that a text's
        # logits do not depend on how long the other texts in its batch are.
        span = pad.sum(1).clamp(min=max(self.widths))  # the width a text has when alone
        pooled = []
        for w, conv in zip(self.widths, self.convs):
            h = F.relu(conv(x))
            starts = torch.arange(h.shape[2], device=h.device)
            valid = starts.unsqueeze(0) <= (span - w).unsqueeze(1)
            pooled.append((h * valid.unsqueeze(1).to(h.dtype)).max(dim=2).values)
        return self.fc(self.drop(torch.cat(pooled, dim=1)))
