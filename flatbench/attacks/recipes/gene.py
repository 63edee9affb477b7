"""Genetic attack (Alzantot et al., 2018), as TextAttack's ``GeneticAlgorithmAlzantot2018``.

Source of every default: textattack 0.3.11,
``textattack/attack_recipes/genetic_algorithm_alzantot_2018.py``.
Offline substitutes: the derived counter-fitted embedding; the Google 1-billion-words
language-model constraint is dropped when it cannot be loaded (it needs TensorFlow and a
download from TextAttack's S3) -- a labelled deviation.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "gene"
PAPER = ("Moustafa Alzantot, Yash Sharma, Ahmed Elgohary, Bo-Jhang Ho, Mani Srivastava, "
         "Kai-Wei Chang. Generating Natural Language Adversarial Examples. EMNLP 2018")
RESOURCES = ("counterfitted", "google_lm", "stopwords")
OPTIONAL_RESOURCES = ("google_lm",)  # dropped (with a deviation line) where it is missing

MAX_CANDIDATES = 8  # WordSwapEmbedding(max_candidates=8)
MAX_PERCENT_PERTURBED = 0.2  # MaxWordsPerturbed(max_percent=0.2)
MAX_MSE_DIST = 0.5  # WordEmbeddingDistance(max_mse_dist=0.5, compare_against_original=False)
LM_TOP_N_PER_INDEX = 4  # Google1BillionWordsLanguageModel(top_n_per_index=4,
LM_COMPARE_AGAINST_ORIGINAL = False  #   compare_against_original=False)
POP_SIZE = 60  # AlzantotGeneticAlgorithm(pop_size=60, max_iters=20, post_crossover_check=False)
MAX_ITERS = 20
POST_CROSSOVER_CHECK = False
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations)."""
    _common.textattack()
    from textattack import Attack
    from textattack.constraints.overlap import MaxWordsPerturbed
    from textattack.constraints.pre_transformation import (
        InputColumnModification,
        RepeatModification,
        StopwordModification,
    )
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.search_methods import AlzantotGeneticAlgorithm
    from textattack.transformations import WordSwapEmbedding

    embedding, deviations = _common.counterfitted_embedding()
    bound, dev = _common.embedding_bound(embedding, NAME, "max_mse_dist", MAX_MSE_DIST, options)
    deviations += dev
    deviations += _common.substitute_deviations("stopwords")
    transformation = WordSwapEmbedding(max_candidates=MAX_CANDIDATES, embedding=embedding)
    constraints = [
        RepeatModification(),
        StopwordModification(),
        InputColumnModification(["premise", "hypothesis"], {"premise"}),
        MaxWordsPerturbed(max_percent=MAX_PERCENT_PERTURBED),
        WordEmbeddingDistance(embedding=embedding, max_mse_dist=bound,
                              compare_against_original=False),
    ]
    lm = _common.R.resource("google_lm")
    if lm.status == "online-original":
        from textattack.constraints.grammaticality.language_models import (
            Google1BillionWordsLanguageModel,
        )

        constraints.append(Google1BillionWordsLanguageModel(
            top_n_per_index=LM_TOP_N_PER_INDEX,
            compare_against_original=LM_COMPARE_AGAINST_ORIGINAL))
    else:
        deviations.append(
            "language model: Google 1-billion-words LM constraint (top_n_per_index="
            f"{LM_TOP_N_PER_INDEX}) dropped, not available here ({lm.fix})")
    goal = _common.goal_function(model_wrapper, query_budget)
    search = AlzantotGeneticAlgorithm(pop_size=POP_SIZE, max_iters=MAX_ITERS,
                                      post_crossover_check=POST_CROSSOVER_CHECK)
    return Attack(goal, constraints, transformation, search), deviations
