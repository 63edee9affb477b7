"""TextAttack model wrapper for flatbench models.

Eval mode (the official FLAT code attacked models in train mode, with dropout and sampled
masks on), `torch.inference_mode`, batched queries, truncation to the model's max length
(TextAttack's HF wrapper pads every query to 512 tokens: ~6x slower). It also measures the
time spent inside the model's forward pass, for the benchmark's forward-time share. A bundle
with a method's inference attached (SAFER) is queried through it: the attack sees that model.
"""

from __future__ import annotations

import time

import torch

from flatbench import lazy_packages

lazy_packages.install()  # before TextAttack's first import: only what is used gets imported

from textattack.models.wrappers import ModelWrapper  # noqa: E402


class BundleWrapper(ModelWrapper):
    def __init__(self, bundle, batch_size: int = 256):
        self.bundle = bundle
        self.model = bundle.model  # TextAttack reads .model in a few places
        self.batch_size = batch_size
        self.forward_seconds = 0.0
        self.calls = 0
        self.texts = 0
        bundle.model.eval()

    @torch.inference_mode()
    def __call__(self, text_input_list):
        t0 = time.perf_counter()
        if self.bundle.inference is not None:  # a method's own inference (SAFER: the smoothed vote)
            scores = torch.from_numpy(self.bundle.inference.probs(list(text_input_list)))
            self.forward_seconds += time.perf_counter() - t0
            self.calls += 1
            self.texts += len(text_input_list)
            return scores  # class probabilities: TextAttack uses rows that sum to 1 as they are
        self.bundle.model.eval()
        out = []
        tok, dev = self.bundle.tokenizer, self.bundle.device
        for i in range(0, len(text_input_list), self.batch_size):
            ids = tok.batch(list(text_input_list[i : i + self.batch_size])).to(dev)
            with self.bundle.autocast():
                out.append(self.bundle.model(ids).float().cpu())
        self.forward_seconds += time.perf_counter() - t0
        self.calls += 1
        self.texts += len(text_input_list)
        return torch.cat(out) if out else torch.zeros(0, self.bundle.config["n_classes"])

    def get_grad(self, text_input):  # pragma: no cover - no flatbench recipe needs gradients
        raise NotImplementedError("flatbench recipes are black-box")

    def _tokenize(self, inputs):
        return [self.bundle.tokenizer.tokens(x) for x in inputs]


