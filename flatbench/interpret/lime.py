"""LIME (Ribeiro et al. 2016) explanations whose features are positions of the model's words.

Settings (named, recorded by the interpret stage):
- the explained text is the model's words (`tokenizer.align`) re-joined with single spaces and
  split on spaces (`split_expression=" "`), `bow=False`: feature i is word position i, so two
  occurrences of a word are two features, exactly as IG's per-word attributions.
- a removed word is replaced by LIME's mask string ("UNKWORDZ", LIME's default for bow=False;
  an unknown word, i.e. <unk>, for the word-level models), which keeps positions and the text
  length; `mask="delete"` removes it instead (mask_string="").
- classifier_fn = softmax of `bundle.logits` (eval mode); the explained label is given.
- num_samples (default 1000), LIME's default kernel (width 25) and cosine distance,
  feature_selection="none": one ridge fit on all features, so every word gets a weight.
- random_state: an integer seed (the stage derives it from the cell seed and the pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASKS = ("unk", "delete")


@dataclass
class LimeResult:
    words: list[str]
    weights: np.ndarray  # (n_words,) LIME weight of each word position toward `label`
    label: int
    intercept: float
    score: float  # R^2 of the local linear model
    resplit_ok: bool  # re-tokenising the space-joined words gave back the same words


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def lime_explain(bundle, text: str, label: int, num_samples: int = 1000, seed: int = 0,
                 class_names: list[str] | None = None, mask: str = "unk",
                 batch_size: int = 256) -> LimeResult:
    """LIME weights of each model word of `text` toward `label`."""
    from lime.lime_text import LimeTextExplainer

    if mask not in MASKS:
        from flatbench.errors import UnknownNameError

        raise UnknownNameError("LIME mask", mask, MASKS)
    words = list(bundle.tokenizer.align(text)[0])
    joined = " ".join(words)
    resplit_ok = list(bundle.tokenizer.align(joined)[0]) == words
    n_classes = int(bundle.config.get("n_classes") or len(class_names or []) or 2)
    explainer = LimeTextExplainer(
        class_names=class_names or [str(i) for i in range(n_classes)], split_expression=" ",
        bow=False, mask_string=None if mask == "unk" else "", feature_selection="none",
        random_state=int(seed) % (2**32))

    def classifier_fn(batch):
        return softmax(bundle.logits(list(batch), batch_size).astype(np.float64))

    exp = explainer.explain_instance(joined, classifier_fn, labels=(int(label),),
                                     num_features=len(words), num_samples=int(num_samples))
    weights = np.zeros(len(words), dtype=np.float64)
    for f, w in exp.local_exp[int(label)]:
        weights[int(f)] = float(w)
    return LimeResult(words, weights, int(label), float(exp.intercept[int(label)]),
                      float(exp.score[int(label)] if isinstance(exp.score, dict) else exp.score), resplit_ok)
