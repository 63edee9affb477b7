"""Which attack recipes can run here: a recipe whose required resources are missing offline is
"online only" (its Table 4 cells say so, with what it needs)."""

from __future__ import annotations

from flatbench.attack_resources import catalog as R
from flatbench.attacks.recipes import preflight, recipe
from flatbench.errors import ResourceMissingError

SHORT_RESOURCE = {"hownet": "HowNet", "flair_pos": "flair POS tagger", "masked_lm_bert": "BERT masked LM",
                  "masked_lm_distilroberta": "DistilRoBERTa masked LM", "google_lm": "Google LM"}


def recipe_availability(recipes) -> dict[str, str]:
    """recipe -> why it cannot run here ("online only: needs ...", from its required resources
    that are missing offline); recipes that can run are left out. Optional resources (Gene's
    Google LM) do not count: the recipe runs without them and says so in its deviations."""
    R.ensure_nltk_env()
    out = {}
    for name in dict.fromkeys(recipes):
        mod = recipe(name)
        missing = [R.resource(r) for r in mod.RESOURCES
                   if r not in getattr(mod, "OPTIONAL_RESOURCES", ()) and R.resource(r).status == "missing"]
        if missing:
            out[name] = "online only: needs " + ", ".join(SHORT_RESOURCE.get(m.name, m.original) for m in missing)
            continue
        try:
            preflight([name])
        except ResourceMissingError as e:
            out[name] = f"online only: {e}"
    return out


__all__ = ["recipe_availability", "SHORT_RESOURCE"]
