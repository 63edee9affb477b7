"""The builder of word-level models over pretrained word vectors (`lstm`, `cnn`): a network class
and the hyper-parameters its constructor takes. A new word model is its network plus
``WordModelSpec(name, network, keys)`` in its own file, and one registration."""

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

# what a saved word model's config records of its hyper-parameters (with the network's own keys)
_CFG_KEYS = ("hidden", "dropout", "filters", "widths", "freeze_emb")


class WordModelSpec:
    """Builds a fresh bundle and restores a saved one. ``network(emb, n_classes, max_len,
    mask_hidden=, freeze_emb=, **{k: hp[k] for k in keys})`` is the classifier (a TextClassifier);
    the registry's spec of ``name`` declares the hyper-parameters."""

    def __init__(self, name: str, network, keys: tuple[str, ...]):
        self.name, self.network, self.keys = name, network, tuple(keys)

    def _net(self, emb: torch.Tensor, cfg: dict):
        kw = {k: (tuple(cfg[k]) if isinstance(cfg[k], list) else cfg[k]) for k in self.keys if k in cfg}
        return self.network(emb, cfg["n_classes"], cfg["max_len"], mask_hidden=cfg.get("mask_hidden"),
                            freeze_emb=cfg.get("freeze_emb", True), **kw)

    def preflight(self, hp) -> None:
        """Fail before any stage runs if the word vectors cannot be loaded (one line)."""
        from flatbench.data.embeddings import load_vectors

        load_vectors(component_hp(hp, model_hp(self.name)).embedding)

    def build(self, dataset, hp, seed: int, mask: bool) -> ModelBundle:
        hp = component_hp(hp, model_hp(self.name), dataset.name)
        torch.manual_seed(seed)
        vocab = Vocab.build(dataset.train.texts, extra=frequent_words(hp.embedding, hp.vocab_extra))
        emb, coverage, dev = embedding_matrix(vocab.itos, hp.embedding, seed)
        cfg = {k: hp[k] for k in dict.fromkeys(_CFG_KEYS + self.keys) if k in hp}
        cfg.update(n_classes=dataset.n_classes, max_len=hp.max_len, embedding=hp.embedding,
                   emb_dim=int(emb.shape[1]), vocab_size=len(vocab), emb_coverage=round(coverage, 4),
                   mask_hidden=hp.mask_hidden if mask else None)
        model = self._net(torch.from_numpy(emb), cfg)
        return ModelBundle(self.name, model, WordTokenizer(vocab, hp.max_len), cfg, [dev] if dev else [])

    def restore(self, d: Path, cfg: dict) -> ModelBundle:
        tok = WordTokenizer.load(d, cfg["max_len"])
        emb = torch.zeros(cfg["vocab_size"], cfg["emb_dim"])  # overwritten by the state dict
        return ModelBundle(self.name, self._net(emb, cfg), tok, cfg)


LSTM = WordModelSpec("lstm", LSTMClassifier, ("hidden", "dropout"))
CNN = WordModelSpec("cnn", CNNClassifier, ("filters", "widths", "dropout"))
