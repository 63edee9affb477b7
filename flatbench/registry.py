"""The registry: every dataset, model, method and attack recipe a cell can name is registered here
once, as a spec, and every other place reads that spec (names and their order, the paper's
spelling, the declared hyper-parameters, GPU or CPU, the cost rates behind `--dry-run`).

Adding a model is one file plus one registration: the file (e.g. ``flatbench/models/gru.py``)
holds the network and its builder (``build``/``restore``/``preflight``; a word model is its
``nn.Module`` plus ``WordModelSpec("gru", GRUClassifier, ("hidden", "dropout"))``), the
registration is one ``ModelSpec`` in ``MODELS`` below: name, paper spelling, the builder's lazy
reference, its declared hyper-parameters (e.g. ``{**model_decl.WORD, "hidden": P(128, "int",
"GRU hidden size", lo=1)}``), GPU or CPU and cost rates. A method is one file in
``flatbench/methods`` (its ``HP``/``ROUND_HP`` beside its loss) plus one ``MethodSpec``; a recipe
one file in ``flatbench/attacks/recipes`` plus one ``RecipeSpec``.

Implementations are named by lazy ``"module:attr"`` references and declarations are plain data,
so naming, validating, planning and reports never import torch (nor numpy): this module imports
only the standard library and torch-free declaration modules. Unknown names fail listing the
valid ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

from flatbench.declared import P  # noqa: F401 - for declarations written in a registration
from flatbench.errors import UnknownNameError
from flatbench.models import hp as model_decl


def load_ref(ref: str):
    """The object a ``"module:attr"`` (or ``"module"``) reference names."""
    mod, _, attr = ref.partition(":")
    obj = importlib.import_module(mod)
    return getattr(obj, attr) if attr else obj


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What every registered component has: its name (lower case, in code and files), the
    paper's spelling (rendered tables only) and its implementation (lazy reference)."""

    name: str
    display: str
    impl: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelCost:
    """Order-of-magnitude costs (`--dry-run`). ``train``: seconds per training example and epoch;
    ``attack``: an attacked example's cost against this victim relative to an LSTM/CNN; ``ig``:
    seconds per explained pair (IG, 50 steps); ``lime``: seconds per pair per 1,000 LIME samples.
    ``forward``: seconds per evaluated text; ``load``: seconds per stage to load the model. CPU
    models: refitted on this project's 2-core machine's cached stages (one torch thread); GPU
    models: measured on one H200 (flatbench.estimate.GPU_BASIS)."""

    train: float
    ig: float
    lime: float
    attack: float = 1.0
    forward: float | None = None  # seconds per evaluated text (None: a third of a training step)
    load: float = 0.0  # seconds a stage spends loading the model (GPU models)

    def __post_init__(self):
        if self.forward is None:
            object.__setattr__(self, "forward", self.train / 3)


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Spec):
    hp: dict  # its declared hyper-parameters, name -> P (flatbench.models.hp, or written here)
    cost: ModelCost
    gpu: bool = False  # an executor reserves a GPU for its stages (Ray: num_gpus)
    word_level: bool = False  # whole-word vocabulary over word vectors (phi is a function of the word)
    stands_for: str | None = None  # not in the paper: shown beside this paper model's rows


@dataclass(frozen=True, kw_only=True)
class MethodSpec(Spec):
    """A training method; its module declares ``HP`` (every round), ``ROUND_HP`` (rounds > 0),
    ``ADVERSARIAL``, ``USES_MASK`` and ``batch_loss``."""

    train_factor: float = 1.0  # cost of a training step against base's (`--dry-run`)
    evaluate_factor: float = 1.0  # cost of evaluating the method's model against base's (`--dry-run`)
    attack_factor: float = 1.0  # cost of attacking the method's model against base's (`--dry-run`)
    lime_factor: float = 1.0  # cost of LIME on the method's model against base's (`--dry-run`)


@dataclass(frozen=True, kw_only=True)
class RecipeSpec(Spec):
    """An attack recipe; its module declares ``RESOURCES`` and ``build``. Every recipe reads the
    attack options declared in `flatbench.attacks.recipes._common` (``HP``)."""

    sec_per_example: float  # per attacked example of SST2's length against an LSTM/CNN
    len_exp: float = 1.3  # cost ~ (length / 19) ** len_exp below SST2's length, linear above
    # cost ~ 1 + bound_slope * (0.95 - cos) for a word-embedding bound at cos (looser: more
    # candidates, more queries); 0 for recipes without one (flatbench.estimate)
    bound_slope: float = 0.0
    # the share of an attack's time spent in the victim's forward passes against an LSTM/CNN
    # (benchmarks/README.md: PWWS 52-65 %, TextFooler 13 % on SST2): only that part scales with a
    # costlier victim (ModelCost.attack); 1.0 (all of it) where not measured
    forward_share: float = 1.0


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(Spec):
    folder: str  # folder name in the local data directory
    hub_id: str  # Hugging Face hub dataset
    hub_text: tuple[str, ...]  # hub columns joined into the text
    hub_label: str
    max_len: int  # tokens for word models (authors' README: 50; IMDB 250)
    paper: dict = field(default_factory=dict)  # Table 1: classes, avg_len, train, dev, test
    dev_seed: int = 2022
    attack_train_n: int | None = None  # paper: all for SST2/TREC, 10K random for IMDB/AG


class Registry:
    """Specs of one kind, in registration order (the paper's order; additions follow)."""

    def __init__(self, kind: str, specs):
        self.kind = kind
        self._specs = {s.name: s for s in specs}
        self._entries: dict = {}  # name -> loaded implementation

    def __contains__(self, name) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def spec(self, name: str):
        if name not in self._specs:
            raise UnknownNameError(self.kind, name, self._specs)
        return self._specs[name]

    def specs(self) -> dict:
        return dict(self._specs)

    def get(self, name: str):
        """The implementation (imported on first use); a spec without one is its own (datasets:
        the generic loader reads the spec)."""
        if name not in self._entries:
            spec = self.spec(name)
            self._entries[name] = spec if spec.impl is None else load_ref(spec.impl)
        return self._entries[name]

    def register(self, spec) -> None:
        """Add (or replace) a spec; for extensions and tests. The package's own registrations
        are the lists below."""
        self._specs[spec.name] = spec
        self._entries.pop(spec.name, None)

    def unregister(self, name: str) -> None:
        self._specs.pop(name, None)
        self._entries.pop(name, None)


# --------------------------------------------------------------------------------- datasets
DATASETS = Registry("dataset", [
    DatasetSpec(name="sst2", display="SST2", folder="sst2", hub_id="SetFit/sst2", hub_text=("text",),
                hub_label="label", max_len=50, paper=dict(classes=2, avg_len=19, train=6920, dev=872, test=1821)),
    DatasetSpec(name="imdb", display="IMDB", folder="imdb", hub_id="stanfordnlp/imdb", hub_text=("text",),
                hub_label="label", max_len=250,
                paper=dict(classes=2, avg_len=268, train=20000, dev=5000, test=25000), attack_train_n=10000),
    DatasetSpec(name="ag", display="AG", folder="ag_news", hub_id="fancyzhx/ag_news", hub_text=("text",),
                hub_label="label", max_len=50,
                paper=dict(classes=4, avg_len=32, train=114000, dev=6000, test=7600), attack_train_n=10000),
    DatasetSpec(name="trec", display="TREC", folder="trec", hub_id="CogComp/trec", hub_text=("text",),
                hub_label="coarse_label", max_len=50, paper=dict(classes=6, avg_len=10, train=5000, dev=452, test=500)),
])
DATASET_NAMES = tuple(DATASETS.names())

# ----------------------------------------------------------------------------------- models
# Costs (flatbench.estimate; `--dry-run`). LSTM/CNN: their SST2 rates refitted 2026-12-04 by
# benchmarks/calibrate_estimates.py on the cached stages of this 2-core machine (the same numbers
# as estimate.CPU_RATES, which also holds TREC's; IMDB/AG are scaled from these by length).
# BERT/DeBERTa: measured on one H200 (estimate.GPU_BASIS; random-init base shapes, SST2, max_len
# 128): train = s per row and epoch (BERT ~780 rows/s; DeBERTa 31 s - ~12 s load per 6,920 rows),
# forward = 1 / texts per s (3,100-3,400; 2,100-2,800), ig = 2 texts / (36-46; 21-26) texts per s,
# lime = 0.86-1.06 s per pair (BERT; DeBERTa x its forward ratio 1.33), load = model load per stage,
# attack = the victim's forward cost against an LSTM/CNN's in an attack: a recipe's cost against
# this victim is its LSTM/CNN rate x (1 + (attack - 1) x the recipe's forward_share), so PWWS's
# 0.081 s (BERT) / 0.15-0.24 s (DeBERTa) per SST2 example against the LSTM/CNN's 0.016 s
# (estimate.ATTACK_RATES, session-9 refit; forward share 0.6) gives 7.77 / 19.6, and TextFooler,
# whose time is mostly the encoder and candidates (13 % forward), costs 0.11 s (BERT). MiniLM:
# measured 2026-12-01 at PWWS 12x and TextFooler 3x the LSTM/CNN cost of then, i.e. 18.3 and 16.4
# by this formula (it holds); its factor keeps its absolute PWWS cost (~0.9 s per SST2 example).
MODELS = Registry("model", [
    ModelSpec(name="lstm", display="LSTM", impl="flatbench.models.word:LSTM", hp=model_decl.LSTM,
              word_level=True, cost=ModelCost(train=0.000651, forward=9.75e-05, ig=0.0364, lime=0.142)),
    ModelSpec(name="cnn", display="CNN", impl="flatbench.models.word:CNN", hp=model_decl.CNN,
              word_level=True, cost=ModelCost(train=0.000378, forward=6.26e-05, ig=0.00812, lime=0.0783)),
    ModelSpec(name="bert", display="BERT", impl="flatbench.models.transformers:BERT", hp=model_decl.TRANSFORMER,
              gpu=True, cost=ModelCost(train=1.28e-3, forward=3.1e-4, ig=0.049, lime=0.96, attack=7.77, load=12.0)),
    ModelSpec(name="deberta", display="DeBERTa", impl="flatbench.models.transformers:DEBERTA",
              hp=model_decl.TRANSFORMER, gpu=True, cost=ModelCost(train=2.75e-3, forward=4.1e-4, ig=0.085, lime=1.27,
                                                                  attack=19.6, load=12.0)),
    # not in the paper: a pretrained BERT-family encoder from a PyPI wheel, the offline CPU stand-in
    ModelSpec(name="minilm", display="MiniLM", impl="flatbench.models.transformers:MINILM", hp=model_decl.MINILM,
              stands_for="bert", cost=ModelCost(train=0.25, attack=93.0, ig=5.0, lime=70.0)),
])
# What an executor reserves for a model's stages (Ray: num_gpus); MiniLM is the CPU stand-in.
GPU_MODELS = frozenset(n for n, s in MODELS.specs().items() if s.gpu)

# ---------------------------------------------------------------------------------- methods
METHODS = Registry("method", [
    MethodSpec(name="base", display="base", impl="flatbench.methods.base"),
    # adv/FLAT: a stage's seconds per row-epoch against base's, refitted 2026-12-04 (session 9,
    # benchmarks/calibrate_estimates.py --paper-procedure; adv's round 0 is base's model, so its
    # factor prices its rounds only: loading the previous round, the augmented set, dev evaluation
    # and checkpoints over 5 epochs; FLAT's includes its masks and L_imp)
    MethodSpec(name="adv", display="adv", impl="flatbench.methods.adv", train_factor=1.87),
    MethodSpec(name="flat", display="FLAT", impl="flatbench.methods.flat", train_factor=2.24),
    # Defences beyond the paper. Cost factors against base's estimate of the same stage, fitted
    # 2026-12-04 on every cached stage of defences_cpu (seed 13; 4 training, 4 evaluate, 8 attack
    # and 8 interpret stages per method; medians, ranges in brackets, 2 cores at load 3-7):
    # FreeLB (K = 5 ascent steps) trains at 2.2x [1.2-3.6]; PGD-K at 1.8x [0.9-3.7]; ASCC at 8.9x
    # [6.9-10.8] (a micro-benchmark on 64 TREC questions had said 4, 5.5 and 15). SAFER's smoothed
    # model is a vote over 100 substitutions per prediction: training 1.9x [0.45-3.4], evaluation
    # 48x [30-98], attacks 4.4x [1.7-9.3; TREC 1.7-3.9, SST2 4.8-9.3: the votes' substitution work
    # and the queries grow with length] and LIME 86x its LIME part [56-264; TREC 56-72, SST2
    # 100-264] (LIME explains the smoothed model; IG the base classifier, at base's rate). Attacks
    # and IG of the other three stay at base's rates (0.35-1.55x, memoisation and load dominate).
    # These are ratios to base's estimate at the load the defences ran at (the pre-session-9 rates
    # were fitted on stages at that load), so they stand against the session-9 rates too.
    MethodSpec(name="freelb", display="FreeLB", impl="flatbench.methods.freelb", train_factor=2.2),
    MethodSpec(name="safer", display="SAFER", impl="flatbench.methods.safer", train_factor=1.9,
               evaluate_factor=48.0, attack_factor=4.4, lime_factor=86.0),
    MethodSpec(name="ascc", display="ASCC", impl="flatbench.methods.ascc", train_factor=8.9),
    MethodSpec(name="pgd", display="PGD-K", impl="flatbench.methods.pgd", train_factor=1.8),
])

# ---------------------------------------------------------------------------------- recipes
# Per attacked example of SST2's length (19 words) against an LSTM/CNN, TextAttack 0.3.11 through
# our runner, scaled by (a dataset's average length / 19) ** len_exp (flatbench.estimate; SST2/TREC
# themselves use estimate.ATTACK_RATES). TextFooler and PWWS refitted 2026-12-04 (session 9) by
# benchmarks/calibrate_estimates.py --paper-procedure on this machine's cached attack stages at the
# paper's procedure (SST2 rate at cos 0.95; len_exp from TREC's rate against SST2's on paired dev
# attacks: TREC/SST2 = 0.41 TextFooler, 0.61 PWWS; TextFooler's cost grows by bound_slope per unit
# of 0.95 - cos: the strength-matched cos 0.75 (SST2) costs 1.61x cos 0.95, cos 0.90 (TREC) 1.15x).
# Gene 0.59 s (CNN), IGA 0.62-0.67 s (LSTM) measured 2026-12-02 (and within 0.84-1.21x of the
# 2026-12-04 table4_cpu stages, at load 3-7); pso/clare/bae cannot run offline and are guesses. (The
# quiet, one-process reading of 2026-12-02: TextFooler 0.030-0.033 s on SST2 at cos 0.95, PWWS
# 0.014-0.018 s; the refit prices 2 grid processes sharing the 2 cores.)
ATTACKS = Registry("attack", [
    RecipeSpec(name="textfooler", display="Textfooler", impl="flatbench.attacks.recipes.textfooler",
               sec_per_example=0.0591, len_exp=1.38, bound_slope=3.04,
               forward_share=0.13),
    RecipeSpec(name="pwws", display="PWWS", impl="flatbench.attacks.recipes.pwws", sec_per_example=0.016,
               len_exp=0.77, forward_share=0.6),
    RecipeSpec(name="gene", display="Gene", impl="flatbench.attacks.recipes.gene", sec_per_example=1.0),
    RecipeSpec(name="iga", display="IGA", impl="flatbench.attacks.recipes.iga", sec_per_example=0.7),
    RecipeSpec(name="pso", display="PSO", impl="flatbench.attacks.recipes.pso", sec_per_example=10.0),
    RecipeSpec(name="clare", display="Clare", impl="flatbench.attacks.recipes.clare", sec_per_example=10.0),
    RecipeSpec(name="bae", display="BAE", impl="flatbench.attacks.recipes.bae", sec_per_example=3.0),
])


class DisplayNames(Mapping):
    """name -> the paper's spelling, for every registered model, method, recipe and dataset; a live
    view (a spec registered later is spelled too)."""

    def _all(self) -> dict[str, str]:
        return {n: s.display for reg in (MODELS, METHODS, ATTACKS, DATASETS) for n, s in reg.specs().items()}

    def __getitem__(self, name: str) -> str:
        for reg in (MODELS, METHODS, ATTACKS, DATASETS):
            if name in reg:
                return reg.spec(name).display
        raise KeyError(name)

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def display_names() -> DisplayNames:
    return DisplayNames()


def grid_names() -> list[str]:
    files = resources.files("flatbench") / "grids"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def datasets() -> Registry:
    return DATASETS
