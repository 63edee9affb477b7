"""Builders for the word-level models (`lstm`, `cnn`) over pretrained word vectors."""

from __future__ import annotations

from pathlib import Path

import torch

from flatbench.data.embeddings import embedding_matrix, frequent_words
from flatbench.data.text import Vocab
from flatbench.hparams import model_hp
from flatbench.settings import component_hp
from flatbench.models.bundle import ModelBundle, WordTokenizer
from flatbench.models.cnn import CNNClassifier
from flatbench.models.lstm import LSTMClassifier

_ARCH = {"lstm": (LSTMClassifier, ("hidden", "dropout")),
         "cnn": (CNNClassifier, ("filters", "widths", "dropout"))}


def _net(name: str, emb: torch.Tensor, cfg: dict):
    cls, keys = _ARCH[name]
    kw = {k: (tuple(cfg[k]) if k == "widths" else cfg[k]) for k in keys if k in cfg}
    return cls(emb, cfg["n_classes"], cfg["max_len"], mask_hidden=cfg.get("mask_hidden"),
               freeze_emb=cfg.get("freeze_emb", True), **kw)


class WordModelSpec:
    """Registry entry: knows how to build a fresh bundle and to restore a saved one."""

    def __init__(self, name: str):
        self.name = name

    def preflight(self, hp) -> None:
        """Fail before any stage runs if the word vectors cannot be loaded (one line)."""
        from flatbench.data.embeddings import load_vectors

        load_vectors(component_hp(hp, model_hp(self.name)).embedding)

    def build(self, dataset, hp, seed: int, mask: bool) -> ModelBundle:
        hp = component_hp(hp, model_hp(self.name), dataset.name)
        torch.manual_seed(seed)
        vocab = Vocab.build(dataset.train.texts, extra=frequent_words(hp.embedding, hp.vocab_extra))
        emb, coverage, dev = embedding_matrix(vocab.itos, hp.embedding, seed)
        cfg = {k: hp[k] for k in ("hidden", "dropout", "filters", "widths", "freeze_emb") if k in hp}
        cfg.update(n_classes=dataset.n_classes, max_len=hp.max_len, embedding=hp.embedding,
                   emb_dim=int(emb.shape[1]), vocab_size=len(vocab), emb_coverage=round(coverage, 4),
                   mask_hidden=hp.mask_hidden if mask else None)
        model = _net(self.name, torch.from_numpy(emb), cfg)
        return ModelBundle(self.name, model, WordTokenizer(vocab, hp.max_len), cfg, [dev] if dev else [])

    def restore(self, d: Path, cfg: dict) -> ModelBundle:
        tok = WordTokenizer.load(d, cfg["max_len"])
        emb = torch.zeros(cfg["vocab_size"], cfg["emb_dim"])  # overwritten by the state dict
        return ModelBundle(self.name, _net(self.name, emb, cfg), tok, cfg)


LSTM = WordModelSpec("lstm")
CNN = WordModelSpec("cnn")
