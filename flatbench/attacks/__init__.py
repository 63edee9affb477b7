"""Adversarial attacks: TextAttack recipes (`recipes`, one module per attack name), the runner
that attacks a split with them (`runner`, `stage`, `lockstep`, `fastswap`; `warm`: which examples
the process's memo has seen) and the synonym sets
the defences share with the attacks (`synonyms`). The resources the recipes load (NLTK
environment, counter-fitted space, sentence encoder, POS tagger) are the floor below:
`flatbench.attack_resources`.
"""
