"""One-layer LSTM over frozen pretrained word vectors; the last hidden state feeds a linear layer."""

from __future__ import annotations

import torch
import torch.nn as nn

from flatbench.models.base import TextClassifier
from flatbench.models.masks import VariationalWordMask


class LSTMClassifier(TextClassifier):
    def __init__(self, emb: torch.Tensor, n_classes: int, max_len: int, hidden: int = 150,
                 dropout: float = 0.3, mask_hidden: int | None = None, freeze_emb: bool = True):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=freeze_emb, padding_idx=0)
        self.mask = VariationalWordMask(emb.shape[1], mask_hidden) if mask_hidden else None
        self.lstm = nn.LSTM(emb.shape[1], hidden, num_layers=1, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, n_classes)

    def encode(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        lengths = pad.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.fc(self.drop(h[-1]))
