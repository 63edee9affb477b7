"""CLARE (Li et al., 2021), as TextAttack's ``CLARE2020`` recipe.

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/clare_li_2020.py``
(including its use of ``AutoModelForCausalLM`` for distilroberta-base). Needs the
distilroberta-base LM from the Hugging Face hub: offline (not cached) `build` raises
ResourceMissingError at once. The Universal Sentence Encoder is replaced by
all-MiniLM-L6-v2 when TF-Hub is not usable.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "clare"
PAPER = ("Dianqi Li, Yizhe Zhang, Hao Peng, Liqun Chen, Chris Brockett, Ming-Ting Sun, Bill "
         "Dolan. Contextualized Perturbation for Textual Adversarial Attack. NAACL 2021")
RESOURCES = ("masked_lm_distilroberta", "sentence_encoder", "stopwords")

MASKED_LM = "distilroberta-base"
MASKED_LM_CLASS = "AutoModelForCausalLM"  # as the stock recipe
SWAP_MAX_CANDIDATES, SWAP_MIN_CONFIDENCE = 50, 5e-4  # WordSwapMaskedLM(method="bae", ...)
INSERT_MAX_CANDIDATES, INSERT_MIN_CONFIDENCE = 50, 0.0  # WordInsertionMaskedLM
MERGE_MAX_CANDIDATES, MERGE_MIN_CONFIDENCE = 50, 5e-3  # WordMergeMaskedLM
USE_THRESHOLD = 0.7  # UniversalSentenceEncoder(threshold=0.7, metric="cosine",
USE_METRIC = "cosine"  #   compare_against_original=True, window_size=15,
USE_COMPARE_AGAINST_ORIGINAL = True  #   skip_text_shorter_than_window=True)
USE_WINDOW_SIZE = 15
USE_SKIP_TEXT_SHORTER_THAN_WINDOW = True
SEARCH = "GreedySearch"
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations); ResourceMissingError (fast) when offline."""
    lm, tok = _common.hf_pretrained(NAME, MASKED_LM, MASKED_LM_CLASS)
    _common.textattack()
    from textattack import Attack
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.search_methods import GreedySearch
    from textattack.transformations import (
        CompositeTransformation,
        WordInsertionMaskedLM,
        WordMergeMaskedLM,
        WordSwapMaskedLM,
    )

    transformation = CompositeTransformation([
        WordSwapMaskedLM(method="bae", masked_language_model=lm, tokenizer=tok,
                         max_candidates=SWAP_MAX_CANDIDATES, min_confidence=SWAP_MIN_CONFIDENCE),
        WordInsertionMaskedLM(masked_language_model=lm, tokenizer=tok,
                              max_candidates=INSERT_MAX_CANDIDATES,
                              min_confidence=INSERT_MIN_CONFIDENCE),
        WordMergeMaskedLM(masked_language_model=lm, tokenizer=tok,
                          max_candidates=MERGE_MAX_CANDIDATES,
                          min_confidence=MERGE_MIN_CONFIDENCE),
    ])
    use, deviations = _common.sentence_encoder(
        NAME, threshold=USE_THRESHOLD, metric=USE_METRIC,
        compare_against_original=USE_COMPARE_AGAINST_ORIGINAL, window_size=USE_WINDOW_SIZE,
        skip_text_shorter_than_window=USE_SKIP_TEXT_SHORTER_THAN_WINDOW, options=options)
    deviations += _common.substitute_deviations("stopwords")
    constraints = [RepeatModification(), StopwordModification(), use]
    goal = _common.goal_function(model_wrapper, query_budget)
    return Attack(goal, constraints, transformation, GreedySearch()), deviations
