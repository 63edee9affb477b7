"""Which examples this process has attacked: the attack runner's memo (flatbench.attacks.runner)
keeps their candidates' look-ups for the rest of the process, so a later attack of the same
examples (the next round on the same training set, FLAT after adv, adv and FLAT on base's test
set) is *warm*. The estimate prices it so (flatbench.estimate), and the attack stage records it.
Torch-free: the dry run and the stage both read it."""

from __future__ import annotations

import json

_ATTACKED: set = set()  # attack_inputs of the attack stages this process ran


def attack_inputs(stage) -> tuple:
    """What an attack stage attacks, as far as the memo is concerned: the recipe and its options
    (the bound decides the candidates), the dataset, split and example selection."""
    from flatbench.settings import cell_hp

    cell = stage.owner()
    return (stage.recipe, json.dumps(stage.options(), sort_keys=True, default=str), cell.dataset, stage.split,
            stage.n, stage.seed if stage.n is not None else None,
            cell_hp(cell).train_n if stage.split == "train" else None)


def attacked_before(stage) -> bool:
    """Did an attack stage of this process attack the same examples with the same recipe?"""
    return attack_inputs(stage) in _ATTACKED


def note_attacked(stage) -> None:
    _ATTACKED.add(attack_inputs(stage))


def attacked() -> set:
    """A copy of what this process has attacked (the dry run simulates its plan from it)."""
    return set(_ATTACKED)
