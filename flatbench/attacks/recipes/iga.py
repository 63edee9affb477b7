"""Improved genetic algorithm, IGA (Wang et al., 2019), as TextAttack's ``IGAWang2019``.

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/iga_wang_2019.py``.
Offline substitute: the derived counter-fitted embedding.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "iga"
PAPER = ("Xiaosen Wang, Hao Jin, Kun He. Natural Language Adversarial Attacks and Defenses in "
         "Word Level. arXiv:1909.06723, 2019")
RESOURCES = ("counterfitted", "stopwords")

MAX_CANDIDATES = 50  # WordSwapEmbedding(max_candidates=50)
MAX_PERCENT_PERTURBED = 0.2  # MaxWordsPerturbed(max_percent=0.2)
MAX_MSE_DIST = 0.5  # WordEmbeddingDistance(max_mse_dist=0.5, compare_against_original=False)
POP_SIZE = 60  # ImprovedGeneticAlgorithm(pop_size=60, max_iters=20,
MAX_ITERS = 20  #   max_replace_times_per_index=5, post_crossover_check=False)
MAX_REPLACE_TIMES_PER_INDEX = 5
POST_CROSSOVER_CHECK = False
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations)."""
    _common.textattack()
    from textattack import Attack
    from textattack.constraints.overlap import MaxWordsPerturbed
    from textattack.constraints.pre_transformation import StopwordModification
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.search_methods import ImprovedGeneticAlgorithm
    from textattack.transformations import WordSwapEmbedding

    embedding, deviations = _common.counterfitted_embedding()
    bound, dev = _common.embedding_bound(embedding, NAME, "max_mse_dist", MAX_MSE_DIST, options)
    deviations += dev
    deviations += _common.substitute_deviations("stopwords")
    transformation = WordSwapEmbedding(max_candidates=MAX_CANDIDATES, embedding=embedding)
    constraints = [
        StopwordModification(),
        MaxWordsPerturbed(max_percent=MAX_PERCENT_PERTURBED),
        WordEmbeddingDistance(embedding=embedding, max_mse_dist=bound,
                              compare_against_original=False),
    ]
    goal = _common.goal_function(model_wrapper, query_budget)
    search = ImprovedGeneticAlgorithm(pop_size=POP_SIZE, max_iters=MAX_ITERS,
                                      max_replace_times_per_index=MAX_REPLACE_TIMES_PER_INDEX,
                                      post_crossover_check=POST_CROSSOVER_CHECK)
    return Attack(goal, constraints, transformation, search), deviations
