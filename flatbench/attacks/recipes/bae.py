"""BAE-R (Garg & Ramakrishnan, 2020), as TextAttack's ``BAEGarg2019`` recipe.

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/bae_garg_2019.py``.
Needs the bert-base-uncased masked LM from the Hugging Face hub: offline (not cached)
`build` raises ResourceMissingError at once. Substitutes when the originals are absent:
spaCy POS tags, all-MiniLM-L6-v2 for the Universal Sentence Encoder.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "bae"
PAPER = ("Siddhant Garg, Goutham Ramakrishnan. BAE: BERT-based Adversarial Examples for Text "
         "Classification. EMNLP 2020")
RESOURCES = ("masked_lm_bert", "pos_tagger", "sentence_encoder", "stopwords")

MASKED_LM = "bert-base-uncased"  # WordSwapMaskedLM default masked_language_model
METHOD = "bae"  # WordSwapMaskedLM(method="bae", max_candidates=50, min_confidence=0.0)
MAX_CANDIDATES = 50
MIN_CONFIDENCE = 0.0
ALLOW_VERB_NOUN_SWAP = True  # PartOfSpeech(allow_verb_noun_swap=True)
USE_THRESHOLD = 0.936338023  # UniversalSentenceEncoder(threshold=0.936338023,
USE_METRIC = "cosine"  #   metric="cosine", compare_against_original=True, window_size=15,
USE_COMPARE_AGAINST_ORIGINAL = True  #   skip_text_shorter_than_window=True)
USE_WINDOW_SIZE = 15
USE_SKIP_TEXT_SHORTER_THAN_WINDOW = True
WIR_METHOD = "delete"  # GreedyWordSwapWIR(wir_method="delete")
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations); ResourceMissingError (fast) when offline."""
    lm, tok = _common.hf_pretrained(NAME, MASKED_LM, "AutoModelForMaskedLM")
    _common.textattack()
    from textattack.attack_recipes import BAEGarg2019
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwapMaskedLM

    transformation = WordSwapMaskedLM(method=METHOD, masked_language_model=lm, tokenizer=tok,
                                      max_candidates=MAX_CANDIDATES,
                                      min_confidence=MIN_CONFIDENCE)
    pos, deviations = _common.part_of_speech(NAME, allow_verb_noun_swap=ALLOW_VERB_NOUN_SWAP)
    use, dev = _common.sentence_encoder(
        NAME, threshold=USE_THRESHOLD, metric=USE_METRIC,
        compare_against_original=USE_COMPARE_AGAINST_ORIGINAL, window_size=USE_WINDOW_SIZE,
        skip_text_shorter_than_window=USE_SKIP_TEXT_SHORTER_THAN_WINDOW, options=options)
    deviations += dev + _common.substitute_deviations("stopwords")
    constraints = [RepeatModification(), StopwordModification(), pos, use]
    goal = _common.goal_function(model_wrapper, query_budget)
    search = GreedyWordSwapWIR(wir_method=WIR_METHOD)
    return BAEGarg2019(goal, constraints, transformation, search), deviations
