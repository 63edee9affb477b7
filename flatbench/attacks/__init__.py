"""Adversarial attacks: TextAttack recipes and the offline resources they need.

`resources` (resource directory, NLTK environment, `prepare`), `counterfit` (the derived
counter-fitted embedding), `recipes` (one module per attack name).
"""
