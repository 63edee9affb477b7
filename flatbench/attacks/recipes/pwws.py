"""PWWS (Ren et al., 2019), as TextAttack's ``PWWSRen2019`` recipe (stock components).

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/pwws_ren_2019.py``.
Offline, WordNet 3.0 and NLTK's stopword list come from local copies of the same data.
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "pwws"
PAPER = ("Shuhuai Ren, Yihe Deng, Kun He, Wanxiang Che. Generating Natural Language Adversarial "
         "Examples through Probability Weighted Word Saliency. ACL 2019")
RESOURCES = ("wordnet", "stopwords")

WORDNET_LANGUAGE = "eng"  # WordSwapWordNet() default
STOPWORDS = "nltk-english"  # StopwordModification() default: nltk stopwords.words("english")
WIR_METHOD = "weighted-saliency"  # GreedyWordSwapWIR("weighted-saliency")
QUERY_BUDGET = None  # UntargetedClassification default: unlimited


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations)."""
    _common.textattack()
    for r in RESOURCES:
        _common.R.require(r, NAME)
    from textattack import Attack
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwapWordNet

    transformation = WordSwapWordNet(language=WORDNET_LANGUAGE)
    constraints = [RepeatModification(), StopwordModification()]
    goal = _common.goal_function(model_wrapper, query_budget)
    search = GreedyWordSwapWIR(WIR_METHOD)
    return (Attack(goal, constraints, transformation, search),
            _common.substitute_deviations(*RESOURCES))
