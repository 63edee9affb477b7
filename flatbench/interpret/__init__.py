"""Interpretation consistency (paper: Experiments, "Interpretation consistency").

- `ig`: Integrated Gradients (Captum `LayerIntegratedGradients` on `model.embedding`), batched.
- `lime`: LIME text explanations whose features are positions of the model's words.
- `consistency`: Kendall's tau, top-k intersection, word alignment, class (macro) averaging.
- `stage`: the interpret stage (pairs from an attack stage -> pairs.jsonl + aggregates).
- `plots`: a Fig. 3-style pair visual (HTML + PNG) and top-k curves (PNG).
"""

from flatbench.interpret.consistency import (
    Alignment,
    align_words,
    class_averaged,
    class_breakdown,
    kendall_tau,
    topk_indices,
    topk_intersection,
)

__all__ = ["Alignment", "align_words", "class_averaged", "class_breakdown", "kendall_tau",
           "topk_indices", "topk_intersection"]
