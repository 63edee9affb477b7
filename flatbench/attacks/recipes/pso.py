"""Particle swarm optimisation attack, PSO (Zang et al., 2020), as TextAttack's ``PSOZang2020``.

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/pso_zang_2020.py``.
Needs the HowNet synonym bank (TextAttack S3) and flair's upos-fast tagger (Hugging Face
hub); neither exists offline, so offline `build` raises ResourceMissingError at once.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "pso"
PAPER = ("Yuan Zang, Fanchao Qi, Chenghao Yang, Zhiyuan Liu, Meng Zhang, Qun Liu, Maosong Sun. "
         "Word-level Textual Adversarial Attacking as Combinatorial Optimization. ACL 2020")
RESOURCES = ("hownet", "flair_pos", "stopwords")

HOWNET_MAX_CANDIDATES = -1  # WordSwapHowNet() default: all candidates
POP_SIZE = 60  # ParticleSwarmOptimization(pop_size=60, max_iters=20)
MAX_ITERS = 20
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def _preload_flair_tagger():
    """Load flair's upos-fast from the local HF cache when the hub is unreachable, so that
    TextAttack's tagger cache never triggers a hub request."""
    R = _common.R
    if R.hub_reachable():
        return
    path = R.hf_cached(R.FLAIR_UPOS, "pytorch_model.bin")
    from flair.models import SequenceTagger
    from textattack.shared.utils import strings

    if "upos-fast" not in strings._flair_taggers:
        strings._flair_taggers["upos-fast"] = SequenceTagger.load(path)


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations); ResourceMissingError (fast) when offline."""
    for r in ("hownet", "flair_pos"):
        _common.R.require(r, NAME)
    _common.textattack()
    from textattack import Attack
    from textattack.constraints.pre_transformation import (
        InputColumnModification,
        RepeatModification,
        StopwordModification,
    )
    from textattack.search_methods import ParticleSwarmOptimization
    from textattack.transformations import WordSwapHowNet

    _preload_flair_tagger()
    transformation = WordSwapHowNet(max_candidates=HOWNET_MAX_CANDIDATES)
    constraints = [
        RepeatModification(),
        StopwordModification(),
        InputColumnModification(["premise", "hypothesis"], {"premise"}),
    ]
    goal = _common.goal_function(model_wrapper, query_budget)
    search = ParticleSwarmOptimization(pop_size=POP_SIZE, max_iters=MAX_ITERS)
    return (Attack(goal, constraints, transformation, search),
            _common.substitute_deviations("stopwords"))
