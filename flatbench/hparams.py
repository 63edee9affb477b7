"""Declared hyper-parameters: every component (model, training loop, method, attack, interpret,
settings) declares the hyper-parameters it reads, with a default and a check, in one place.

A cell's resolved hyper-parameters are the declared defaults of its components overridden by the
grid's [[hp]] layers and `--set`; a stage's key holds exactly the resolved values of the
hyper-parameters its components declare. Unknown names and bad values are one line (exit 2).
Torch-free: planning, `--dry-run` and reports use this module.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping

from flatbench.declared import P, _is_int  # noqa: F401 - re-exported: components declare with hparams.P
from flatbench.errors import ConfigError
from flatbench.registry import METHODS, MODELS, load_ref


# Declarations that belong to no single component.
SETTINGS = {"threads": P(1, "int", "torch threads per stage (numbers depend on it, so keys do)", lo=1)}

# Where each component's declarations live (torch-free modules); models: their registry spec.
TRAIN_HP = "flatbench.training.hp:TRAIN"
ROUNDS_HP = "flatbench.training.hp:ROUNDS"
ATTACK_HP = "flatbench.attacks.recipes._common:HP"
INTERPRET_HP = "flatbench.interpret.hp:HP"


def _load(ref: str) -> dict[str, P]:
    return load_ref(ref)


def model_hp(model: str) -> dict[str, P]:
    """A registered model's declarations, from its registry spec (UnknownNameError for a name the
    registry lacks)."""
    return MODELS.spec(model).hp


def train_hp() -> dict[str, P]:
    return _load(TRAIN_HP)


def rounds_hp() -> dict[str, P]:
    return _load(ROUNDS_HP)


def attack_hp() -> dict[str, P]:
    return _load(ATTACK_HP)


def interpret_hp() -> dict[str, P]:
    return _load(INTERPRET_HP)


def method_hp(method_module, rounds: bool = False) -> dict[str, P]:
    """A method's own declarations: ``HP`` (every round) and, with ``rounds``, ``ROUND_HP``
    (adversarial rounds only, e.g. FLAT's gamma)."""
    out = dict(getattr(method_module, "HP", {}))
    if rounds:
        out.update(getattr(method_module, "ROUND_HP", {}))
    return out


def all_declared() -> dict[str, P]:
    """Every hyper-parameter any registered component declares (for unknown-name checks)."""
    out: dict[str, P] = {}
    for spec in MODELS.specs().values():
        out.update(spec.hp)
    for m in METHODS.names():
        out.update(method_hp(METHODS.get(m), rounds=True))
    for d in (train_hp(), rounds_hp(), attack_hp(), interpret_hp(), SETTINGS):
        out.update(d)
    return out


def check(hp: dict, where: str) -> None:
    """One ConfigError line for the first unknown name or bad value in ``hp``."""
    declared = all_declared()
    for k, v in hp.items():
        if k not in declared:
            close = difflib.get_close_matches(k, declared, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown hyper-parameter {k!r}{hint}; "
                              f"`flatbench hp` lists the {len(declared)} declared ones")
        problem = declared[k].problem(v)
        if problem:
            shown = json.dumps(v) if _jsonable(v) else repr(v)
            raise ConfigError(f"{where}: {k} = {shown}: must be {problem}")


def _jsonable(v) -> bool:
    try:
        json.dumps(v, allow_nan=True)
        return True
    except (TypeError, ValueError):
        return False


def defaults(decl: dict[str, P]) -> dict:
    return {k: p.default for k, p in decl.items()}


def pick(hp: dict, decl: dict[str, P]) -> dict:
    """The resolved values of the declared names (defaults where the grid sets none)."""
    return {k: hp.get(k, p.default) for k, p in sorted(decl.items())}


class HPView(Mapping):
    """Resolved hyper-parameters: every declared name with its value (the default where nothing
    set it). Attribute access is typed by the declaration (``hp.rounds`` is an int, ``hp.beta`` a
    float) and fails for a name no component declared, so readers never restate a default; item
    access (``hp["lr"]``) gives the value as resolved, which is what stage keys hash.
    Immutable: ``replace(**values)`` gives a new view."""

    __slots__ = ("_values", "_decl")

    def __init__(self, values: Mapping, decl: Mapping[str, P]):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_decl", dict(decl))

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            v = self._values[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._values, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AttributeError(f"no hyper-parameter {name!r} here{hint}") from None
        p = self._decl.get(name)
        return p.typed(v) if p is not None else v

    def __setattr__(self, name, value):
        raise AttributeError("resolved hyper-parameters are immutable; use replace()")

    def __getitem__(self, name: str):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"HPView({self._values!r})"

    def __reduce__(self):
        return (HPView, (self._values, self._decl))

    def replace(self, **values) -> "HPView":
        return HPView({**self._values, **values}, self._decl)

    def as_dict(self) -> dict:
        return dict(self._values)


def resolve(hp: Mapping | None, decl: Mapping[str, P]) -> HPView:
    """``hp`` as a resolved view over ``decl``: each declared name's value, its default where
    ``hp`` sets none; names ``hp`` holds beyond ``decl`` are kept. A view that already holds every
    declared name is returned as it is (the cell's view passes through a component unchanged)."""
    if isinstance(hp, HPView):
        if all(k in hp._values for k in decl):
            if all(k in hp._decl for k in decl):
                return hp
            return HPView(hp._values, {**hp._decl, **decl})
        return HPView({**defaults(decl), **hp._values}, {**hp._decl, **decl})
    return HPView({**defaults(decl), **(hp or {})}, decl)
