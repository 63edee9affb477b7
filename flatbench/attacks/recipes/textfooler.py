"""TextFooler (Jin et al., 2020), as TextAttack's ``TextFoolerJin2019`` recipe.

Source of every default: textattack 0.3.11, ``textattack/attack_recipes/textfooler_jin_2019.py``.
Offline substitutes: the derived counter-fitted embedding, spaCy POS tags, all-MiniLM-L6-v2
in place of the Universal Sentence Encoder (same threshold/window/metric).
"""

from __future__ import annotations

from flatbench.attacks.recipes import _common

NAME = "textfooler"
PAPER = ("Di Jin, Zhijing Jin, Joey Tianyi Zhou, Peter Szolovits. Is BERT Really Robust? A "
         "Strong Baseline for Natural Language Attack on Text Classification and Entailment. "
         "AAAI 2020. arXiv:1907.11932")
RESOURCES = ("counterfitted", "pos_tagger", "sentence_encoder")

MAX_CANDIDATES = 50  # WordSwapEmbedding(max_candidates=50)
MIN_COS_SIM = 0.5  # WordEmbeddingDistance(min_cos_sim=0.5)
ALLOW_VERB_NOUN_SWAP = True  # PartOfSpeech(allow_verb_noun_swap=True)
USE_THRESHOLD = 0.840845057  # UniversalSentenceEncoder(threshold=0.840845057, ...)
USE_METRIC = "angular"
USE_COMPARE_AGAINST_ORIGINAL = False
USE_WINDOW_SIZE = 15
USE_SKIP_TEXT_SHORTER_THAN_WINDOW = True
WIR_METHOD = "delete"  # GreedyWordSwapWIR(wir_method="delete")
QUERY_BUDGET = None  # UntargetedClassification default: unlimited
# StopwordModification(stopwords=...): the recipe's own 266-word list (not NLTK's).
STOPWORDS = frozenset([
    'a', 'about', 'above', 'across', 'after', 'afterwards', 'again', 'against', 'ain', 'all',
    'almost', 'alone', 'along', 'already', 'also', 'although', 'am', 'among', 'amongst', 'an',
    'and', 'another', 'any', 'anyhow', 'anyone', 'anything', 'anyway', 'anywhere', 'are',
    'aren', "aren't", 'around', 'as', 'at', 'back', 'been', 'before', 'beforehand', 'behind',
    'being', 'below', 'beside', 'besides', 'between', 'beyond', 'both', 'but', 'by', 'can',
    'cannot', 'could', 'couldn', "couldn't", 'd', 'didn', "didn't", 'doesn', "doesn't", 'don',
    "don't", 'down', 'due', 'during', 'either', 'else', 'elsewhere', 'empty', 'enough', 'even',
    'ever', 'everyone', 'everything', 'everywhere', 'except', 'first', 'for', 'former',
    'formerly', 'from', 'hadn', "hadn't", 'hasn', "hasn't", 'haven', "haven't", 'he', 'hence',
    'her', 'here', 'hereafter', 'hereby', 'herein', 'hereupon', 'hers', 'herself', 'him',
    'himself', 'his', 'how', 'however', 'hundred', 'i', 'if', 'in', 'indeed', 'into', 'is',
    'isn', "isn't", 'it', "it's", 'its', 'itself', 'just', 'latter', 'latterly', 'least', 'll',
    'may', 'me', 'meanwhile', 'mightn', "mightn't", 'mine', 'more', 'moreover', 'most',
    'mostly', 'must', 'mustn', "mustn't", 'my', 'myself', 'namely', 'needn', "needn't",
    'neither', 'never', 'nevertheless', 'next', 'no', 'nobody', 'none', 'noone', 'nor', 'not',
    'nothing', 'now', 'nowhere', 'o', 'of', 'off', 'on', 'once', 'one', 'only', 'onto', 'or',
    'other', 'others', 'otherwise', 'our', 'ours', 'ourselves', 'out', 'over', 'per', 'please',
    's', 'same', 'shan', "shan't", 'she', "she's", "should've", 'shouldn', "shouldn't",
    'somehow', 'something', 'sometime', 'somewhere', 'such', 't', 'than', 'that', "that'll",
    'the', 'their', 'theirs', 'them', 'themselves', 'then', 'thence', 'there', 'thereafter',
    'thereby', 'therefore', 'therein', 'thereupon', 'these', 'they', 'this', 'those',
    'through', 'throughout', 'thru', 'thus', 'to', 'too', 'toward', 'towards', 'under',
    'unless', 'until', 'up', 'upon', 'used', 've', 'was', 'wasn', "wasn't", 'we', 'were',
    'weren', "weren't", 'what', 'whatever', 'when', 'whence', 'whenever', 'where',
    'whereafter', 'whereas', 'whereby', 'wherein', 'whereupon', 'wherever', 'whether', 'which',
    'while', 'whither', 'who', 'whoever', 'whole', 'whom', 'whose', 'why', 'with', 'within',
    'without', 'won', "won't", 'would', 'wouldn', "wouldn't", 'y', 'yet', 'you', "you'd",
    "you'll", "you're", "you've", 'your', 'yours', 'yourself', 'yourselves',
])


def build(model_wrapper, *, query_budget=QUERY_BUDGET, options=None):
    """(textattack.Attack, deviations) with the stock components, substitutes where needed."""
    _common.textattack()
    from textattack import Attack
    from textattack.constraints.pre_transformation import (
        InputColumnModification,
        RepeatModification,
        StopwordModification,
    )
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwapEmbedding

    embedding, deviations = _common.counterfitted_embedding()
    bound, dev = _common.embedding_bound(embedding, NAME, "min_cos_sim", MIN_COS_SIM, options)
    deviations += dev
    pos, dev = _common.part_of_speech(NAME, allow_verb_noun_swap=ALLOW_VERB_NOUN_SWAP)
    deviations += dev
    use, dev = _common.sentence_encoder(
        NAME, threshold=USE_THRESHOLD, metric=USE_METRIC,
        compare_against_original=USE_COMPARE_AGAINST_ORIGINAL, window_size=USE_WINDOW_SIZE,
        skip_text_shorter_than_window=USE_SKIP_TEXT_SHORTER_THAN_WINDOW, options=options)
    deviations += dev
    transformation = WordSwapEmbedding(max_candidates=MAX_CANDIDATES, embedding=embedding)
    constraints = [
        RepeatModification(),
        StopwordModification(stopwords=set(STOPWORDS)),
        InputColumnModification(["premise", "hypothesis"], {"premise"}),
        WordEmbeddingDistance(embedding=embedding, min_cos_sim=bound),
        pos,
        use,
    ]
    goal = _common.goal_function(model_wrapper, query_budget)
    search = GreedyWordSwapWIR(wir_method=WIR_METHOD)
    return Attack(goal, constraints, transformation, search), deviations
