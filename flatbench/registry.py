"""Name -> builder for every kind of thing a cell names. Unknown names fail listing valid ones."""

from __future__ import annotations

import importlib
from importlib import resources

from flatbench.errors import UnknownNameError


class Registry:
    def __init__(self, kind: str, entries: dict):
        self.kind = kind
        self._entries = dict(entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str):
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        entry = self._entries[name]
        if isinstance(entry, str):  # lazy "module:attr" or "module" reference
            mod, _, attr = entry.partition(":")
            obj = importlib.import_module(mod)
            entry = getattr(obj, attr) if attr else obj
            self._entries[name] = entry
        return entry



DATASET_NAMES = ("sst2", "imdb", "ag", "trec")
# Models by lazy "module:attr" reference: naming, validating and planning never import torch.
MODELS = Registry("model", {"lstm": "flatbench.models.word:LSTM", "cnn": "flatbench.models.word:CNN",
                            "bert": "flatbench.models.transformers:BERT",
                            "deberta": "flatbench.models.transformers:DEBERTA",
                            "minilm": "flatbench.models.transformers:MINILM"})
# What an executor reserves for a model's stages (Ray: num_gpus); MiniLM is the CPU stand-in.
GPU_MODELS = frozenset({"bert", "deberta"})
METHODS = Registry("method", {m: f"flatbench.methods.{m}" for m in ("base", "adv", "flat", "freelb")})
ATTACKS = Registry("attack", {a: f"flatbench.attacks.recipes.{a}" for a in
                              ("textfooler", "pwws", "gene", "iga", "pso", "clare", "bae")})


def grid_names() -> list[str]:
    files = resources.files("flatbench") / "grids"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def datasets() -> Registry:
    from flatbench.data.datasets import DATASETS

    return Registry("dataset", DATASETS)
