"""Model bundles: a classifier, its tokenizer and its config, saved and loaded together.

A training method may change inference (SAFER: a smoothed classifier that votes over random word
substitutions). Such a method writes ``config["inference"] = {"method": NAME, ...}`` while it
trains; `ModelBundle.load` then attaches ``METHODS.get(NAME).inference(bundle, cfg)`` as
``bundle.inference``, and every prediction made from texts — `ModelBundle.logits`/`predict`
(evaluation, LIME) and the attacks' model wrapper — goes through it, so the attack stage attacks
the model the method defines. ``bundle.model`` stays the base classifier (training, IG)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flatbench.data.text import Vocab, tokenize


class WordTokenizer:
    """Texts -> padded id tensors for the word-level models."""

    kind = "word"

    def __init__(self, vocab: Vocab, max_len: int):
        self.vocab, self.max_len = vocab, max_len

    def batch(self, texts) -> torch.Tensor:
        return self.vocab.batch(texts, self.max_len)

    def piece_ids(self, word: str) -> list[int]:
        """Ids of the pieces a single word becomes (several for e.g. "don't")."""
        return [self.vocab.stoi.get(t, 1) for t in tokenize(word)] or [1]

    def tokens(self, text: str) -> list[str]:
        """The words the model sees, one per position of `batch` (after truncation)."""
        toks = tokenize(text)[: self.max_len]
        return toks or [self.vocab.itos[1]]

    def align(self, text: str) -> tuple[list[str], list[int]]:
        """(words, word index of each position of this text's row in `batch`); -1 marks
        positions that belong to no word (special tokens). Word models: one word per position."""
        toks = self.tokens(text)
        return toks, list(range(len(toks)))

    def save(self, d: Path) -> None:
        self.vocab.save(d / "vocab.json")

    @classmethod
    def load(cls, d: Path, max_len: int) -> "WordTokenizer":
        return cls(Vocab.load(d / "vocab.json"), max_len)


@dataclass
class ModelBundle:
    name: str
    model: torch.nn.Module
    tokenizer: WordTokenizer
    config: dict
    deviations: list[str] = field(default_factory=list)
    # the method's inference when it is not the plain classifier (set by `load`; see module doc)
    inference: object = field(default=None, repr=False, compare=False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def precision(self) -> str:
        """"fp32", or "bf16" for a transformer built with `precision = "bf16"`."""
        return self.config.get("precision") or "fp32"

    def autocast(self):
        """The context training and inference run the model in: bf16 autocast on the model's
        device when `precision` is "bf16", nothing otherwise."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    @torch.inference_mode()
    def logits(self, texts, batch_size: int = 256) -> np.ndarray:
        """Eval-mode logits for raw texts (the wrapper attacks and evaluation use); with a method's
        inference attached, the log of its class probabilities (e.g. SAFER's vote shares)."""
        if self.inference is not None:
            return self.inference.log_probs(list(texts))
        was_training = self.model.training
        self.model.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            ids = self.tokenizer.batch(texts[i : i + batch_size]).to(self.device)
            with self.autocast():
                out.append(self.model(ids).float().cpu().numpy())
        self.model.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.config["n_classes"]), np.float32)

    def predict(self, texts, batch_size: int = 256) -> np.ndarray:
        return self.logits(texts, batch_size).argmax(1)

    def pair_phi(self, pair_words):
        """Word-level phi of replaced words and their substitutes, with gradients.

        pair_words: one list of (original word, substitute) per (x, x') pair. A word made of
        several pieces gets the mean phi of its pieces. Returns (phi_orig (P,), phi_sub (P,),
        pair index (P,), number of pairs)."""
        dev = self.device
        ids = {"o": [], "s": []}
        grp = {"o": [], "s": []}
        pair_idx = []
        for p, pairs in enumerate(pair_words):
            for w, s in pairs:
                pos = len(pair_idx)
                pair_idx.append(p)
                for side, word in (("o", w), ("s", s)):
                    pieces = self.tokenizer.piece_ids(word)
                    ids[side] += pieces
                    grp[side] += [pos] * len(pieces)
        n_pos = len(pair_idx)

        def agg(side):
            if not ids[side]:
                return torch.zeros(0, device=dev)
            phi = self.model.word_phi(torch.tensor(ids[side], device=dev))
            g = torch.tensor(grp[side], device=dev)
            tot = torch.zeros(n_pos, device=dev, dtype=phi.dtype).index_add(0, g, phi)
            cnt = torch.zeros(n_pos, device=dev, dtype=phi.dtype).index_add(0, g, torch.ones_like(phi))
            return tot / cnt.clamp(min=1)

        return agg("o"), agg("s"), torch.tensor(pair_idx, device=dev, dtype=torch.long), len(pair_words)

    def save(self, d: Path) -> None:
        d = Path(d)
        torch.save(self.model.state_dict(), d / "model.pt")
        self.tokenizer.save(d)
        (d / "model.json").write_text(json.dumps(
            {"name": self.name, "config": self.config, "deviations": self.deviations}, indent=1))

    @classmethod
    def load(cls, d: Path, device: str = "cpu") -> "ModelBundle":
        from flatbench.registry import METHODS, MODELS

        d = Path(d)
        meta = json.loads((d / "model.json").read_text())
        spec = MODELS.get(meta["name"])
        bundle = spec.restore(d, meta["config"])
        state = torch.load(d / "model.pt", map_location=device, weights_only=True)
        bundle.model.load_state_dict(state)
        bundle.model.to(device).eval()
        bundle.deviations = meta["deviations"]
        inf = meta["config"].get("inference")
        if inf:
            bundle.inference = METHODS.get(inf["method"]).inference(bundle, inf)
        return bundle
