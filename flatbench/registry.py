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



def _model_specs():
    from flatbench.models.word import WordModelSpec

    return {"lstm": WordModelSpec("lstm"), "cnn": WordModelSpec("cnn"),
            "bert": "flatbench.models.transformers:BERT",
            "deberta": "flatbench.models.transformers:DEBERTA",
            "minilm": "flatbench.models.transformers:MINILM"}


class _Models(Registry):
    def __init__(self):
        super().__init__("model", {})
        self._loaded = False

    def _load(self):
        if not self._loaded:
            self._entries.update(_model_specs())
            self._loaded = True

    def names(self):
        self._load()
        return super().names()

    def get(self, name):
        self._load()
        return super().get(name)

    def __contains__(self, name):
        self._load()
        return super().__contains__(name)


DATASET_NAMES = ("sst2", "imdb", "ag", "trec")
MODELS = _Models()
METHODS = Registry("method", {m: f"flatbench.methods.{m}" for m in ("base", "adv", "flat")})
ATTACKS = Registry("attack", {a: f"flatbench.attacks.recipes.{a}" for a in
                              ("textfooler", "pwws", "gene", "iga", "pso", "clare", "bae")})


def grid_names() -> list[str]:
    files = resources.files("flatbench") / "grids"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def datasets() -> Registry:
    from flatbench.data.datasets import DATASETS

    return Registry("dataset", DATASETS)
