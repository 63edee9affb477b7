"""Analysis stages: cached like every stage, computed once, read by the reports.

`CorrelateStage` (kind "correlate"): Fig. 4 / Table 9 of one FLAT cell, the correlation of its
global word importance phi with word frequency and substitution frequency, from its final model
and its rounds' training-set attacks (flatbench.analysis.correlation). Outputs: correlation.json
(the correlations, counts, extreme words and the report's deviations) and words.jsonl (the
per-word table behind the scatter plots). Reports read these files; none loads a model.
"""

from __future__ import annotations

import json

from flatbench.registry import METHODS, MODELS
from flatbench.settings import cell_hp, stage_threads
from flatbench.stages import Stage, TrainStage, data_fingerprint, final_train_stage, with_dependencies

RESULT, WORDS = "correlation.json", "words.jsonl"


def has_word_masks(cell) -> bool:
    """FLAT-style word masks on a word-level model (the vocabulary phi is read over)."""
    spec = MODELS.spec(cell.model)
    return bool(getattr(METHODS.get(cell.method), "USES_MASK", False)) and str(spec.impl or "").startswith(
        "flatbench.models.word:")


class CorrelateStage(Stage):
    kind = "correlate"

    def __init__(self, model: TrainStage):
        self.model = model

    def attacks(self) -> list[Stage]:
        """The training-set attacks of every round of the model."""
        return [s for s in with_dependencies([self.model]) if s.kind == "attack"]

    def deps(self):
        return [self.model, *self.attacks()]

    def spec(self):
        c = self.model.cell
        return {"min_count": 1, "data": data_fingerprint(c.dataset, c.data_dir), "threads": stage_threads(c.hp)}

    def tags(self):
        return {"stage": "correlate", **self.model.cell.tags()}

    def label(self):
        return f"correlate[{self.model.cell.id}]"

    def execute(self, ctx, out, inputs):
        from flatbench.analysis.correlation import correlate
        from flatbench.data.splits import data_for

        cell = self.model.cell
        _, train, _ = data_for(cell, ctx)
        res = correlate(inputs[0], inputs[1:], train.texts)
        table = res.pop("table")
        res["deviations"] = deviations(cell, len(inputs) - 1, json.loads((inputs[0] / "manifest.json").read_text()))
        (out / RESULT).write_text(json.dumps(res, indent=1), encoding="utf-8")
        with open(out / WORDS, "w", encoding="utf-8") as f:
            for row in table:
                f.write(json.dumps(row) + "\n")
        metrics = {k: res[k] for k in ("n_words", "n_substituted", "n_replaced", "n_adversarial", "pearson_freq",
                                       "spearman_freq", "pearson_subst", "spearman_subst")}
        return metrics, [], {}


def deviations(cell, n_attacks: int, model_manifest: dict) -> list[str]:
    """The correlation report's deviations: fewer rounds, subsampled training attacks, and the
    model's own (its round count is the cell's, said once)."""
    rounds = cell_hp(cell).rounds
    n_attacked = cell.hp.get("attack_train_n")  # as the grid set it: None is the paper's own subset
    devs = [f"{rounds} attack/train round(s) instead of the paper's 3-5"] if rounds < 3 else []
    if n_attacked:
        devs.append(f"substitution counts from {n_attacks} training-set attack(s) of {n_attacked} seeded "
                    f"random training rows each (paper: the whole training set, every round)")
    return devs + sorted({d for d in model_manifest.get("deviations", []) if "attack/train round" not in d})


def correlate_stages(targets: dict) -> list[CorrelateStage]:
    """A correlate stage for every cell of a plan whose final model has word masks."""
    return [CorrelateStage(t["train"]) for cell, t in targets.items() if has_word_masks(cell)]


def correlate_stage(cell) -> CorrelateStage:
    return CorrelateStage(final_train_stage(cell))


def read_result(stage_dir) -> dict:
    """A cached correlate stage's result, with its per-word table under "table"."""
    res = json.loads((stage_dir / RESULT).read_text(encoding="utf-8"))
    with open(stage_dir / WORDS, encoding="utf-8") as f:
        res["table"] = [json.loads(line) for line in f if line.strip()]
    return res


__all__ = ["CorrelateStage", "correlate_stages", "correlate_stage", "read_result", "has_word_masks"]
