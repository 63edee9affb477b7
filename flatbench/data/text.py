"""Tokenisation and vocabulary for the word-level models (LSTM, CNN)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

PAD, UNK = "<pad>", "<unk>"
_CLITIC = re.compile(r"(n't|'s|'re|'ve|'ll|'d|'m)\b")
_TOKEN = re.compile(r"n't|'[a-z]+|[a-z0-9]+(?:[-.'][a-z0-9]+)*|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-case; split punctuation and clitics ("don't" -> "do n't"), keep hyphenated words."""
    text = _CLITIC.sub(r" \1", text.lower().replace("<br />", " "))
    return _TOKEN.findall(text)


class Vocab:
    """Word <-> id. Id 0 is padding, 1 is unknown."""

    def __init__(self, words: list[str]):
        self.itos = [PAD, UNK] + [w for w in words if w not in (PAD, UNK)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, texts, min_count: int = 1, extra: list[str] | None = None) -> "Vocab":
        """Training words (frequency order), then `extra` words (e.g. the embedding's most
        frequent words), so that attack substitutes absent from train are not all <unk>."""
        counts = Counter(tok for t in texts for tok in tokenize(t))
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        seen = set(words)
        for w in extra or []:
            if w not in seen:
                seen.add(w)
                words.append(w)
        return cls(words)

    def encode(self, text: str, max_len: int) -> list[int]:
        ids = [self.stoi.get(t, 1) for t in tokenize(text)[:max_len]]
        return ids or [1]  # an empty text still gets one (unknown) token

    def batch(self, texts, max_len: int) -> torch.Tensor:
        rows = [self.encode(t, max_len) for t in texts]
        width = max(len(r) for r in rows)
        out = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return torch.from_numpy(out)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.itos))

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        itos = json.loads(Path(path).read_text())
        return cls(itos[2:])
