"""Settings every stage shares, resolved from a cell: its hyper-parameters with dataset defaults,
and the torch thread count (numbers must not depend on the executor, so it is pinned per stage
and part of every key)."""

from __future__ import annotations

from flatbench import hparams as H
from flatbench.data.datasets import dataset_info
from flatbench.errors import ConfigError
from flatbench.registry import METHODS

DEFAULT_THREADS = H.SETTINGS["threads"].default  # torch threads per stage; numbers depend on it


def stage_threads(hp: dict) -> int:
    t = hp.get("threads", DEFAULT_THREADS)
    problem = H.SETTINGS["threads"].problem(t)  # the declared check, not a second copy of it
    if problem:
        raise ConfigError(f"threads = {t!r}: must be {problem}")
    return t


def declared_for(cell) -> dict[str, dict]:
    """The declarations of every component a cell uses, by component."""
    method = METHODS.get(cell.method)
    out = {"model": H.model_hp(cell.model), "train": H.train_hp(),
           "method": H.method_hp(method, rounds=method.ADVERSARIAL), "attack": H.attack_hp(),
           "interpret": H.interpret_hp(), "settings": H.SETTINGS}
    if method.ADVERSARIAL:
        out["rounds"] = H.rounds_hp()
    return out


def cell_hp(cell) -> H.HPView:
    """A cell's resolved hyper-parameters, as the typed view every reader uses (``hp.rounds``,
    ``hp.beta``): its components' declared defaults, then the grid's values; dataset-dependent
    defaults (max_len, attack_train_n) filled from the dataset's spec."""
    decl: dict = {}
    for d in declared_for(cell).values():
        decl.update(d)
    hp = {**H.defaults(decl), **cell.hp}
    hp.update(dataset_defaults(hp, cell.dataset))
    return H.HPView(hp, decl)


def dataset_defaults(hp, dataset: str) -> dict:
    """Values for ``max_len`` and ``attack_train_n`` left at None ("the dataset's default"),
    from the dataset's registered spec; ``synonym_min_cos`` (SAFER, ASCC) left at None: the bound
    the cell's TextFooler attack uses on this dataset (`flatbench.attacks.synonyms.attack_bound`)."""
    info = dataset_info(dataset)
    out = {}
    if hp.get("max_len") is None:
        out["max_len"] = info.max_len
    if "attack_train_n" in hp and hp["attack_train_n"] is None:
        out["attack_train_n"] = info.attack_train_n
    if "synonym_min_cos" in hp and hp["synonym_min_cos"] is None:
        from flatbench.attacks.synonyms import attack_bound

        out["synonym_min_cos"] = attack_bound(hp.get("attack_bounds"), dataset)[0]
    return out


def component_hp(hp, decl: dict, dataset: str | None = None) -> H.HPView:
    """What a component reads: ``hp`` (a cell's view, or a plain dict when a component is used on
    its own, e.g. in tests) resolved over the component's declarations ``decl``, with the
    dataset's defaults filled. A cell's view passes through unchanged."""
    view = H.resolve(hp, decl)
    fill = dataset_defaults(view, dataset) if dataset is not None else {}
    return view.replace(**fill) if fill else view
