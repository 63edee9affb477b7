"""Hyper-parameters of the interpretation-consistency stage (torch-free)."""

from flatbench.hparams import P

HP = {
    "ig_steps": P(50, "int", "Integrated Gradients steps", lo=1),
    "ig_baseline": P("pad", "str", "IG baseline embedding", choices=("pad", "pad_special")),
    "ig_batch_size": P(32, "int", "texts per IG call", lo=1),
    "ig_internal_batch_size": P(2048, "int", "Captum internal batch", lo=1),
    "lime_samples": P(1000, "int", "LIME perturbed samples per text", lo=1),
    "lime_pairs": P(1000, "int", "pairs explained with LIME (seeded random subset)", lo=0),
    "lime_mask": P("unk", "str", "what LIME puts in place of a removed word: its mask string, or nothing", choices=("unk", "delete")),
    "interp_pairs": P("paper", "str", "paper: every attacked example with a counterpart; succeeded: "
                      "flipped only; attacked: every record", choices=("paper", "succeeded", "attacked")),
    "interp_figures": P(3, "int", "heat-map figures per stage", lo=0, none=True),
}

# IG completeness: a cell's interpretations are IG's only where the relative convergence delta's
# median is below REL_DELTA_MEDIAN and its largest below REL_DELTA_MAX (50 steps; the interpret
# stage records and warns). Torch-free here so planning and reports can read them.
REL_DELTA_MEDIAN, REL_DELTA_MAX = 0.01, 0.05
