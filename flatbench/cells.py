"""Cells (one point of model x dataset x method x train_attack, + seed and hyper-parameters)
and grids (declarative TOML files naming cells and what to measure on them)."""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from flatbench.errors import ConfigError, UnknownNameError
from flatbench.hparams import _is_int
from flatbench.hparams import check as check_hp
from flatbench.notices import warn
from flatbench.registry import ATTACKS, DATASET_NAMES, METHODS, MODELS, grid_names


def _freeze(v):
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


def _thaw(v):
    """Inverse of _freeze for hp values: tuples of (key, value) pairs were tables."""
    if isinstance(v, tuple):
        if v and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in v):
            return {k: _thaw(x) for k, x in v}
        return [_thaw(x) for x in v]
    return v


def stable_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cell:
    model: str
    dataset: str
    method: str
    train_attack: str | None
    seed: int
    hp_items: tuple = ()
    variant: str = ""  # label of a grid variant, e.g. "beta=0.1,gamma=0" (Table 5)
    # Where the cell's data is read from; not part of its identity (stage keys use the data's
    # content fingerprint instead, so the same data at another path is the same cell).
    data_dir: str | None = field(default=None, compare=False, hash=False)

    @property
    def hp(self) -> dict:
        return {k: _thaw(v) for k, v in self.hp_items}

    @property
    def id(self) -> str:
        parts = [self.model, self.dataset, self.method] + ([self.train_attack] if self.train_attack else [])
        return "-".join(parts) + f"-s{self.seed}" + (f"[{self.variant}]" if self.variant else "")

    @property
    def key(self) -> str:
        return stable_hash([self.model, self.dataset, self.method, self.train_attack, self.seed, self.hp_items])

    def tags(self) -> dict:
        return {"cell": self.id, "model": self.model, "dataset": self.dataset, "method": self.method,
                "attack": self.train_attack or "", "seed": str(self.seed)}


@dataclass
class Grid:
    name: str
    description: str
    paper_table: str | None
    cells: list[Cell]
    measure: dict = field(default_factory=dict)  # clean, eval_attacks ("train" or list), interpret

    def eval_attacks(self, cell: Cell) -> list[str]:
        spec = self.measure.get("eval_attacks", [])
        if spec == "train":  # Table 3: adv/flat against their own attack, base against every listed one
            return [cell.train_attack] if cell.train_attack else list(self.measure.get("base_attacks", []))
        # `eval_attacks_by_dataset = { trec = ["textfooler"] }`: a dataset measured with fewer recipes
        return list(self.measure.get("eval_attacks_by_dataset", {}).get(cell.dataset, spec))


def _matches(when: dict, ctx: dict) -> bool:
    for k, v in when.items():
        vals = v if isinstance(v, list) else [v]
        if ctx.get(k) not in vals:
            return False
    return True


def resolve_hp(layers: list[dict], ctx: dict) -> dict:
    """Apply every [[hp]] table whose `when` matches, in file order (later wins)."""
    out: dict = {}
    for layer in layers:
        layer = dict(layer)
        when = layer.pop("when", {})
        layer.pop("source", None)  # documentation of where the values come from
        if _matches(when, ctx):
            out.update(layer)
    return out


def _validate(kind, names, registry_names):
    for n in names:
        if n not in registry_names:
            raise UnknownNameError(kind, n, registry_names)


def _csv(v) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = [x.strip() for x in v.split(",") if x.strip()]
    return list(v)


SEED_MAX = 2**32 - 1  # numpy's limit


def validate_hp(hp: dict, where: str) -> None:
    """Unknown names and bad values (type, range, choices) of the declared hyper-parameters:
    one line before anything runs. Checks only: no value is changed."""
    check_hp(hp, where)
    n = hp.get("attack_test_n")
    if isinstance(n, dict):
        _validate("attack", list(n), ATTACKS.names())


def attack_test_size(n, recipe: str, where: str, split: str = "test") -> int | None:
    """The seeded subset attacked for ``recipe`` (None: the whole split), from ``attack_test_n``:
    one integer for every recipe, or a table per recipe that must name ``recipe`` (a recipe the
    table misses is an error, never "the whole split"; "all" in the table is the whole split)."""
    if not isinstance(n, dict):
        return n
    if recipe not in n:
        shown = ", ".join(f"{k} = {v}" for k, v in n.items())
        raise ConfigError(f"{where}: attack_test_n = {{{shown}}} has no size for {recipe!r}, which this grid "
                          f"attacks on {split}; add {recipe} = N or \"all\" (or give one integer for every recipe)")
    return None if n[recipe] == "all" else n[recipe]


def _seeds(values, where: str) -> list[int]:
    out = []
    for s in values:
        try:
            n = int(s) if isinstance(s, str) else s
        except ValueError:
            n = None
        if not _is_int(n) or not 0 <= n <= SEED_MAX:
            raise ConfigError(f"{where}: seed {s!r} must be an integer in 0..{SEED_MAX}")
        out.append(n)
    return out


def read_grid_file(name_or_path: str, _seen: tuple = ()) -> dict:
    """A grid's TOML as a dict. ``extends = "other"``: start from the other grid (its [[hp]]
    layers first, then this file's; this file's axes and measure tables replace the parent's
    key by key), so the paper's settings are written once."""
    raw = _read_grid_toml(name_or_path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if parent in _seen or parent == name_or_path:
        raise ConfigError(f"grid {name_or_path}: `extends` makes a cycle through {parent}")
    base = read_grid_file(parent, _seen + (name_or_path,))
    out = {**base, **{k: v for k, v in raw.items() if k not in ("hp", "axes", "measure")}}
    for table in ("axes", "measure"):
        out[table] = {**base.get(table, {}), **raw.get(table, {})}
    out["hp"] = list(base.get("hp", [])) + list(raw.get("hp", []))
    return out


def _read_grid_toml(name_or_path: str) -> dict:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.is_file():
        text = p.read_text()
    else:
        if name_or_path not in grid_names():
            raise UnknownNameError("grid", name_or_path, grid_names())
        text = (resources.files("flatbench") / "grids" / f"{name_or_path}.toml").read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"grid {name_or_path}: invalid TOML ({e})") from None
    _check_shape(raw, name_or_path)
    return raw


def _check_shape(raw: dict, name: str) -> None:
    """The grid file's tables have the types load_grid reads (one line when not)."""
    axes = raw.get("axes", {})
    if not isinstance(axes, dict):
        raise ConfigError(f"grid {name}: [axes] must be a table")
    for k in ("models", "datasets", "methods", "attacks", "seeds"):
        if k in axes and not isinstance(axes[k], list):
            raise ConfigError(f"grid {name}: axes.{k} must be a list, got {axes[k]!r}")
    if not isinstance(axes.get("seeds_by_dataset", {}), dict) or \
            not all(isinstance(v, list) for v in axes.get("seeds_by_dataset", {}).values()):
        raise ConfigError(f"grid {name}: axes.seeds_by_dataset must be a table of lists")
    variants = axes.get("variants")
    if variants is not None and (not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants)):
        raise ConfigError(f"grid {name}: axes.variants must be a list of tables")
    hp = raw.get("hp", [])
    if not isinstance(hp, list) or not all(isinstance(h, dict) for h in hp):
        raise ConfigError(f"grid {name}: [[hp]] entries must be tables")
    if not isinstance(raw.get("measure", {}), dict):
        raise ConfigError(f"grid {name}: [measure] must be a table")


def _empty_axes(ax: dict, seed_list: list, by_dataset: dict) -> list[str]:
    """What each empty axis removes from the grid (said as a warning when cells remain; the
    reason of the error when none does)."""
    out = [f"the {k} axis is empty" for k in ("models", "datasets", "methods") if not ax[k]]
    adversarial = [m for m in ax["methods"] if METHODS.get(m).ADVERSARIAL]
    if not ax["attacks"] and adversarial:
        out.append(f"the attacks axis is empty, so the cells of {', '.join(adversarial)} "
                   f"(which train with an attack) are dropped")
    if not seed_list and any(d not in by_dataset for d in ax["datasets"]):
        out.append("the seeds axis is empty, so cells without seeds_by_dataset are dropped")
    out += [f"seeds_by_dataset.{d} is empty, so the {d} cells are dropped"
            for d, v in by_dataset.items() if not v and d in ax["datasets"]]
    return out


def load_grid(name_or_path: str, models=None, datasets=None, methods=None, attacks=None,
              seeds=None, hp_overrides: dict | None = None) -> Grid:
    raw = read_grid_file(name_or_path)
    axes = raw.get("axes", {})
    filt = {"models": _csv(models), "datasets": _csv(datasets), "methods": _csv(methods), "attacks": _csv(attacks)}
    _validate("model", filt["models"] or [], MODELS.names())
    _validate("dataset", filt["datasets"] or [], DATASET_NAMES)
    _validate("method", filt["methods"] or [], METHODS.names())
    _validate("attack", filt["attacks"] or [], ATTACKS.names())
    ax = {k: list(axes.get(k, [])) for k in ("models", "datasets", "methods", "attacks")}
    _validate("model", ax["models"], MODELS.names())
    _validate("dataset", ax["datasets"], DATASET_NAMES)
    _validate("method", ax["methods"], METHODS.names())
    _validate("attack", ax["attacks"], ATTACKS.names())
    for k, f in filt.items():
        if f is not None:
            # A filter narrows the grid's axis; names outside it (e.g. `minilm`, not in the
            # paper) extend it, so any registered model/dataset can be run with a grid's settings.
            ax[k] = [x for x in ax[k] if x in f] + [x for x in f if x not in ax[k]]
    gname = raw.get("name", str(name_or_path))
    seed_list = _seeds(_csv(seeds), "--seeds") if _csv(seeds) else \
        _seeds(axes.get("seeds", [13]), f"grid {gname}: axes.seeds")
    # `seeds_by_dataset = { trec = [13, 14, 15] }`: more seeds where a dataset is cheap
    by_dataset = {} if seeds else {d: _seeds(v, f"grid {gname}: axes.seeds_by_dataset.{d}")
                                   for d, v in axes.get("seeds_by_dataset", {}).items()}
    _validate("dataset", list(by_dataset), DATASET_NAMES)
    layers = raw.get("hp", [])
    variants = axes.get("variants") or [{}]  # e.g. Table 5's (beta, gamma) settings
    cells, seen = [], set()
    combos = [(m, d, meth, seed, var) for m, d, meth, var in
              itertools.product(ax["models"], ax["datasets"], ax["methods"], variants)
              for seed in by_dataset.get(d, seed_list)]
    # `exclude = [{ method = "freelb", dataset = "sst2" }]`: combinations the grid leaves out
    exclude = axes.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        raise ConfigError(f"grid {gname}: axes.exclude must be a list of non-empty tables")
    for m, d, meth, seed, var in combos:
        attack_axis = [None] if not METHODS.get(meth).ADVERSARIAL else ax["attacks"]
        for a in attack_axis:
            ctx = {"model": m, "dataset": d, "method": meth, "attack": a}
            if any(_matches(e, ctx) for e in exclude):
                continue
            hp = resolve_hp(layers, ctx)
            hp.update(var)
            hp.update(hp_overrides or {})
            validate_hp(hp, f"grid {gname}")
            label = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in var.items())
            c = Cell(m, d, meth, a, seed, _freeze(hp), label)
            if c not in seen:
                seen.add(c)
                cells.append(c)
    measure = dict(raw.get("measure", {}))
    if measure.get("eval_attacks") == "train":
        measure.setdefault("base_attacks", ax["attacks"])
        if filt["attacks"] is not None:
            measure["base_attacks"] = [a for a in measure["base_attacks"] if a in filt["attacks"]]
    elif isinstance(measure.get("eval_attacks"), list):
        _validate("attack", measure["eval_attacks"], ATTACKS.names())
    for d, names in measure.get("eval_attacks_by_dataset", {}).items():
        _validate("dataset", [d], DATASET_NAMES)
        _validate("attack", names, ATTACKS.names())
    if measure.get("eval_split", "test") not in ("test", "dev"):
        raise ConfigError(f"grid {gname}: measure.eval_split = {measure['eval_split']!r}; valid: test, dev")
    empty = _empty_axes(ax, seed_list, by_dataset)
    if not cells:
        raise ConfigError(f"grid {gname} has no cell: {empty[0]}" if empty else
                          f"grid {gname}: the filters leave no cell")
    for msg in empty:
        warn(f"grid {gname}: {msg}")
    grid = Grid(raw.get("name", str(name_or_path)), raw.get("description", ""), raw.get("paper_table"),
                cells, measure)
    for c in cells:  # a per-recipe attack_test_n names every recipe the cell is evaluated with
        for a in grid.eval_attacks(c):
            attack_test_size(c.hp.get("attack_test_n"), a, f"grid {gname}: {c.id}", measure.get("eval_split", "test"))
    return grid
