"""The plan: a grid's stage DAG, each stage's spec and key, and the cache protocol around a
stage's body. Every stage is a pure function of its spec and its inputs' outputs; its key is a
hash of both, so the same base model serves every table and a killed run resumes. The bodies live
with their components: training.stage (train, evaluate), attacks.stage, interpret.stage.
Torch-free: `--dry-run` and reports import this module without torch.

    data -> train(round 0) -> attack(train split) -> train(round 1) -> ... -> train(round R)
                                   final model -> evaluate (clean), attack(test) -> interpret
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from flatbench.attacks.recipes._common import OPTIONS, resolve_options
from flatbench.attack_resources.catalog import identity
from flatbench.attacks.stage import run_attack_stage
from flatbench.cache import Cache, notice, write_manifest
from flatbench import hparams as H
from flatbench.cells import Cell, attack_test_size, stable_hash
from flatbench.data.datasets import load_dataset
from flatbench.interpret.stage import run_interpret_stage
from flatbench.registry import ATTACKS, METHODS, MODELS
from flatbench.settings import cell_hp, stage_threads
from flatbench.tracking import Tracker
from flatbench.training.stage import run_evaluate_stage, run_train_stage

# Stage bodies that need torch import it when they run (flatbench.models, flatbench.training):
# planning, --dry-run and reports stay torch-free.

# Bump to invalidate every cached result after a semantic change (2: CNN padding fix; 3: keys
# hold the data fingerprint, the attack resources' identities and options, the thread count;
# 4: keys hold the resolved values of every declared hyper-parameter, see flatbench.hparams).
STAGE_VERSION = 4

# Round k > 0 reads these; `rounds` (which round is final) and `attack_train_n` (in the attack
# stage's own key) do not change what round k computes.
ROUND_STEP_KEYS = ("round_epochs", "round_lr", "adv_examples")


@dataclass
class Context:
    cache: Cache
    tracker: Tracker
    data_dir: str | None = None
    grid: str = ""
    device: str = "cpu"


@functools.lru_cache(maxsize=64)
def data_fingerprint(dataset: str, data_dir: str | None) -> str:
    """Content hash of a dataset's splits (part of every key of a stage that reads data)."""
    return load_dataset(dataset, data_dir).fingerprint()




def bind_data(cell: Cell, data_dir: str | None) -> Cell:
    return dataclasses.replace(cell, data_dir=data_dir)








def _load1() -> float | None:
    """The 1-minute load average (what a stage's seconds depend on besides its work), if known."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


class Stage:
    kind = "stage"

    def deps(self) -> list["Stage"]:
        return []

    @property
    def needs(self) -> dict:
        """Resources an executor reserves for this stage (Ray: num_cpus / num_gpus)."""
        return {"cpu": 1, "gpu": 1 if MODELS.spec(self.owner().model).gpu else 0}

    def owner(self) -> Cell:
        """The cell this stage belongs to."""
        for attr in ("cell", "model", "attack"):
            v = getattr(self, attr, None)
            if isinstance(v, Cell):
                return v
            if isinstance(v, Stage):
                return v.owner()
        raise AttributeError(f"{self.label()} has no cell")  # pragma: no cover

    def spec(self) -> dict:  # pragma: no cover
        raise NotImplementedError

    @cached_property
    def key(self) -> str:
        return stable_hash({"kind": self.kind, "v": STAGE_VERSION, "spec": self.spec(),
                            "deps": [d.key for d in self.deps()]})

    def tags(self) -> dict:
        return {"stage": self.kind}

    def label(self) -> str:
        return self.kind

    def execute(self, ctx: Context, out: Path, inputs: list[Path]) -> tuple[dict, list[str], dict]:
        """Write outputs into `out`; return (metrics, deviations, extra manifest fields)."""
        raise NotImplementedError  # pragma: no cover

    def run(self, ctx: Context) -> dict:
        """Run if not cached; return the manifest. Inputs are checked (sizes against their
        manifests) before they are read; a bad one is reported, moved aside and recomputed.
        Computed once however many processes share the cache: the stage's own computation holds
        its key's lock (Cache.lock), so a process that meets it being computed waits, then reuses
        the result. The lock is taken after the dependencies are resolved (each under its own
        lock), never held across them."""
        cache = ctx.cache
        m = cache.load(self.kind, self.key, self.label())
        if m is not None:
            return m
        deps = self.deps()
        manifests = [self._input(ctx, d) for d in deps]
        inputs = [cache.dir(d.kind, d.key) for d in deps]
        deviations_in = [x for dm in manifests for x in dm.get("deviations", [])]
        with cache.lock(self.kind, self.key, self.label()) as held:
            m = cache.load(self.kind, self.key, self.label())
            if m is not None:  # committed by another process while we resolved inputs or waited
                pid = (held.waited_for or {}).get("pid")
                notice(f"{self.label()}: computed by {f'pid {pid}' if pid else 'another process'} meanwhile; "
                       "reusing it")
                return m
            estimate = self.estimate()  # before it runs: the manifest keeps it beside its seconds
            load = _load1()
            t0 = time.time()
            spec = self.spec()
            import torch  # here, not at import: planning and reports stay torch-free

            prev_threads = torch.get_num_threads()
            torch.set_num_threads(stage_threads(self.owner().hp))
            try:
                return self._run(ctx, cache, spec, inputs, deviations_in, t0, estimate, load)
            finally:
                torch.set_num_threads(prev_threads)

    def _input(self, ctx: Context, dep: "Stage") -> dict:
        """A dependency's manifest, after checking its outputs; recomputed when missing or bad."""
        cache = ctx.cache
        m = cache.load(dep.kind, dep.key, dep.label())
        if m is not None:
            problem = cache.check(dep.kind, dep.key, manifest=m)
            if problem is None:
                return m
            cache.report_bad(dep.kind, dep.key, problem, dep.label())
        return dep.run(ctx)

    def estimate(self) -> float | None:
        """`--dry-run`'s estimate of this stage in seconds (flatbench.estimate); None if it cannot
        be made (an estimate never stops a stage)."""
        from flatbench.estimate import estimate_seconds

        try:
            return round(estimate_seconds(self), 3)
        except Exception:  # noqa: BLE001
            return None

    def _run(self, ctx, cache, spec, inputs, deviations_in, t0, estimate=None, load=None) -> dict:
        # The result is committed first; MLflow logs it afterwards, outside the critical path (a
        # failure there is one warning line, and the next run that meets the stage catches up).
        with cache.writing(self.kind, self.key) as tmp:
            metrics, deviations, extra = self.execute(ctx, tmp, inputs)
            secs = time.time() - t0
            metrics = {**metrics, "seconds": round(secs, 3)}
            write_manifest(tmp, self.kind, self.key, spec, metrics, deviations_in + deviations, secs,
                           {**extra, "tags": self.tags(), "label": self.label(),
                            "deps": [d.key for d in self.deps()], "estimate_seconds": estimate,
                            "load1": [load, _load1()]})  # the machine's 1-min load average, start and end
        m = cache.manifest(self.kind, self.key)
        ctx.tracker.log_stage(self, m, ctx.grid, cache.dir(self.kind, self.key))
        return m


class TrainStage(Stage):
    """Round 0 trains from scratch on D; round k>0 fine-tunes round k-1 on D ∪ D'_k, where D'_k
    are the adversarial examples found by attacking round k-1's model on the training set."""

    kind = "train"

    def __init__(self, cell: Cell, round: int = 0):
        self.cell, self.round = cell, round
        self.method = METHODS.get(cell.method)

    def deps(self):
        if self.round == 0:
            return []
        prev = TrainStage(self.cell, self.round - 1)
        return [prev, AttackStage.for_training(prev)]

    def spec(self) -> dict:
        """Everything that decides this round's model: the components' names and the resolved
        values of every hyper-parameter they declare (flatbench.hparams)."""
        c, hp = self.cell, cell_hp(self.cell)
        # adv's round 0 is base's model (same objective, same data): the spec says so
        first = METHODS.get(getattr(self.method, "ROUND0", c.method))
        s = {"model": c.model, "dataset": c.dataset, "seed": c.seed,
             "data": data_fingerprint(c.dataset, c.data_dir), "threads": stage_threads(hp),
             "round0_of": first.NAME, "model_hp": H.pick(hp, H.model_hp(c.model)),
             "train_hp": H.pick(hp, H.train_hp()), "method_hp": H.pick(hp, H.method_hp(first))}
        if self.round > 0:
            steps = {k: v for k, v in H.rounds_hp().items() if k in ROUND_STEP_KEYS}
            s.update(round=self.round, method=c.method, attack=c.train_attack, round_hp=H.pick(hp, steps),
                     method_round_hp=H.pick(hp, H.method_hp(self.method, rounds=True)))
        return s

    def tags(self):
        return {"stage": "train", "round": str(self.round), **self.cell.tags()}

    def label(self):
        return f"train[{self.cell.id} r{self.round}]"

    def execute(self, ctx, out, inputs):
        return run_train_stage(self, ctx, out, inputs)

def final_train_stage(cell: Cell) -> TrainStage:
    return TrainStage(cell, cell_hp(cell).rounds if METHODS.get(cell.method).ADVERSARIAL else 0)


class EvaluateStage(Stage):
    """Clean accuracy of a trained model on the test (and dev) split: Table 2."""

    kind = "evaluate"

    def __init__(self, model: TrainStage):
        self.model = model

    def deps(self):
        return [self.model]

    def spec(self):
        c = self.model.cell
        return {"splits": ["dev", "test"], "data": data_fingerprint(c.dataset, c.data_dir),
                "threads": stage_threads(c.hp)}

    def tags(self):
        return {"stage": "evaluate", **self.model.cell.tags()}

    def label(self):
        return f"evaluate[{self.model.cell.id}]"

    def execute(self, ctx, out, inputs):
        return run_evaluate_stage(self, ctx, out, inputs)

class AttackStage(Stage):
    """Attack a trained model on a split with a recipe; records.jsonl holds one line per example."""

    kind = "attack"

    def __init__(self, model: TrainStage, split: str, recipe: str, n: int | None, seed: int,
                 budget: int | None = None):
        self.model, self.split, self.recipe, self.n, self.seed, self.budget = model, split, recipe, n, seed, budget

    @classmethod
    def for_training(cls, model: TrainStage) -> "AttackStage":
        hp = cell_hp(model.cell)
        return cls(model, "train", model.cell.train_attack, hp.attack_train_n, model.cell.seed, hp.query_budget)

    @classmethod
    def for_test(cls, model: TrainStage, recipe: str, split: str = "test") -> "AttackStage":
        """The evaluation attack (``split``: "test", or "dev" for the strength calibration).
        ``attack_test_n`` per recipe (e.g. {pwws = 500, textfooler = 200}) must name ``recipe``:
        a recipe it misses is an error, never "the whole split"."""
        hp = cell_hp(model.cell)
        n = attack_test_size(hp.attack_test_n, recipe, model.cell.id, split)
        return cls(model, split, recipe, n, model.cell.seed, hp.query_budget)

    def deps(self):
        return [self.model]

    def options(self) -> dict:
        hp = cell_hp(self.model.cell)
        opts = resolve_options({k: hp[k] for k in OPTIONS})
        if self.split != "train" and hp.get("eval_attack_bounds"):
            opts["attack_bounds"] = hp["eval_attack_bounds"]
        if opts["attack_bounds"] == "matched":
            # the concrete strength-matched bound enters the key: a new table means new stages
            from flatbench.analysis.strength import matched_entry, matched_note

            entry = matched_entry(self.model.cell.dataset, self.recipe)
            if entry is not None:
                opts["matched_cos"], opts["matched_note"] = float(entry["cos"]), matched_note(entry)
        return opts

    def spec(self):
        c, opts = self.model.cell, self.options()
        return {"split": self.split, "recipe": self.recipe, "n": self.n, "seed": self.seed,
                "budget": self.budget, "train_n": cell_hp(c).train_n if self.split == "train" else None,
                "data": data_fingerprint(c.dataset, c.data_dir), "threads": stage_threads(c.hp),
                "options": opts,
                "resources": {r: identity(r, opts) for r in ATTACKS.get(self.recipe).RESOURCES}}

    def tags(self):
        return {"stage": "attack", "split": self.split, "recipe": self.recipe, **self.model.cell.tags(),
                "round": str(self.model.round)}

    def label(self):
        return f"attack[{self.model.cell.id} r{self.model.round} {self.split} {self.recipe}]"

    def execute(self, ctx, out, inputs):
        return run_attack_stage(self, ctx, out, inputs[0])


class InterpretStage(Stage):
    kind = "interpret"

    def __init__(self, attack: AttackStage, hp: dict):
        self.attack, self.hp = attack, hp

    def deps(self):
        return [self.attack.model, self.attack]

    def spec(self):
        return {**H.pick(self.hp, H.interpret_hp()), "threads": stage_threads(self.hp)}

    def tags(self):
        return {"stage": "interpret", "recipe": self.attack.recipe, **self.attack.model.cell.tags()}

    def label(self):
        return f"interpret[{self.attack.model.cell.id} {self.attack.recipe}]"

    def execute(self, ctx, out, inputs):
        return run_interpret_stage(self, ctx, out, inputs)


class PhiPairsStage(Stage):
    """The phi gap |phi(w) - phi(w')| of round k's training pairs before (round k-1) and after
    (round k) training: what FLAT's L_imp pulls down (flatbench.analysis.phi_pairs)."""

    kind = "phi_pairs"

    def __init__(self, model: TrainStage):
        self.model = model  # round k >= 1

    def deps(self):
        prev = TrainStage(self.model.cell, self.model.round - 1)
        return [prev, AttackStage.for_training(prev), self.model]

    def spec(self):
        return {"v": 1, "threads": stage_threads(self.model.cell.hp)}

    def tags(self):
        return {"stage": "phi_pairs", "round": str(self.model.round), **self.model.cell.tags()}

    def label(self):
        return f"phi_pairs[{self.model.cell.id} r{self.model.round}]"

    def execute(self, ctx, out, inputs):
        from flatbench.analysis.phi_pairs import run_phi_pairs_stage

        return run_phi_pairs_stage(self, ctx, out, inputs)


def with_dependencies(stages) -> list[Stage]:
    """The stages and everything they depend on, dependencies first, each once."""
    ordered: dict[str, Stage] = {}

    def add(stage: Stage):
        for d in stage.deps():
            add(d)
        ordered.setdefault(f"{stage.kind}/{stage.key}", stage)

    for s in stages:
        add(s)
    return list(ordered.values())


def plan(grid, data_dir: str | None = None) -> tuple[list[Stage], dict]:
    """All stages a grid needs, dependencies first, each once; and per-cell targets.
    ``data_dir``: the resolved local data directory (None: the hub), for data fingerprints."""
    targets: dict[Cell, dict] = {}
    m = grid.measure
    for cell in grid.cells:
        cell = bind_data(cell, data_dir)
        final = final_train_stage(cell)
        t = {"train": final}
        if m.get("clean", True):
            t["evaluate"] = EvaluateStage(final)
        for a in grid.eval_attacks(cell):
            t[f"attack:{a}"] = AttackStage.for_test(final, a, m.get("eval_split", "test"))
            if m.get("interpret"):
                t[f"interpret:{a}"] = InterpretStage(t[f"attack:{a}"], cell_hp(cell))
        if m.get("phi_pairs") and final.round > 0 and MODELS.spec(cell.model).word_level:
            # every adversarial round of a masked word model (adv has no masks: nothing to measure)
            if METHODS.get(cell.method).USES_MASK:
                for k in range(1, final.round + 1):
                    t[f"phi_pairs:{k}"] = PhiPairsStage(TrainStage(cell, k))
        targets[cell] = t
    return with_dependencies(s for t in targets.values() for s in t.values()), targets
