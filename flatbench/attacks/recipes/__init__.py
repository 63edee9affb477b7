"""Attack recipes, one module per name (``textfooler pwws gene iga pso clare bae``).

Each module exposes ``NAME``, ``PAPER``, ``RESOURCES`` (names in
`flatbench.attack_resources.catalog.RESOURCE_NAMES`), upper-case constants for its defaults (copied
from TextAttack 0.3.11's recipe) and ``build(model_wrapper) -> (textattack.Attack,
deviations)``, where ``deviations`` lists, one line each, how the attack built here differs
from the paper's (offline substitutes, dropped constraints). Recipes whose resources have no
offline substitute raise `flatbench.errors.ResourceMissingError` within seconds.
"""

from __future__ import annotations

from flatbench.registry import ATTACKS

NAMES = tuple(ATTACKS.names())


def recipe(name: str):
    """The recipe module for ``name`` (UnknownNameError lists the valid names)."""
    return ATTACKS.get(name)


def build_attack(name: str, model_wrapper, **kwargs):
    """(textattack.Attack, deviations: list[str]) for attack ``name`` against ``model_wrapper``."""
    return recipe(name).build(model_wrapper, **kwargs)


def describe(name: str) -> dict:
    """The recipe's name, citation, resources and default constants (JSON-able)."""
    mod = recipe(name)
    out = {}
    for key, value in vars(mod).items():
        if key.isupper() and not key.startswith("_"):
            if isinstance(value, (frozenset, set)):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[key.lower()] = value
    return out


def preflight(names) -> None:
    """Fail fast, before any training, if a recipe's resources are missing here (one line)."""
    from flatbench.attack_resources import catalog

    catalog.ensure_nltk_env()
    for name in dict.fromkeys(names):
        mod = recipe(name)
        for r in mod.RESOURCES:
            if r not in getattr(mod, "OPTIONAL_RESOURCES", ()):
                catalog.require(r, name)
