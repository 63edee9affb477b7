import pytest

from flatbench.cells import Cell, load_grid
from flatbench.errors import ConfigError, UnknownNameError
from flatbench.registry import ATTACKS, METHODS, MODELS, grid_names


def test_names_follow_the_conventions():
    assert MODELS.names()[:4] == ["lstm", "cnn", "bert", "deberta"]
    assert METHODS.names()[:3] == ["base", "adv", "flat"]  # the paper's; defences beyond it follow (freelb)
    assert ATTACKS.names() == ["textfooler", "pwws", "gene", "iga", "pso", "clare", "bae"]
    assert {"smoke", "table2", "table3", "table4", "table5"} <= set(grid_names())


@pytest.mark.parametrize("kind,kw", [("model", {"models": "gpt"}), ("dataset", {"datasets": "mnist"}),
                                     ("method", {"methods": "fgsm"}), ("attack", {"attacks": "hotflip"})])
def test_unknown_filter_names_list_valid_ones(kind, kw):
    with pytest.raises(UnknownNameError, match=f"unknown {kind} .*; valid: "):
        load_grid("table2", **kw)


def test_unknown_grid():
    with pytest.raises(UnknownNameError, match="unknown grid 'table9'; valid: attack_validation, defences_cpu, smoke, strength_calibration, strength_curves, strength_curves_interp, table2"):
        load_grid("table9")


def test_filters_narrow_or_extend_the_axes():
    assert {c.model for c in load_grid("table5", models="cnn").cells} == {"cnn"}
    g = load_grid("table3", models="minilm,lstm", datasets="sst2", methods="base")
    assert [c.model for c in g.cells] == ["lstm", "minilm"]
    assert g.cells[1].hp["lr"] == 1e-5  # the grid's transformer settings apply to minilm


def test_filters_that_leave_nothing():
    with pytest.raises(ConfigError, match="no cell"):
        load_grid("table3", methods="adv", attacks="")


def test_table2_lists_every_paper_cell():
    g = load_grid("table2")
    # 4 models x 4 datasets x (base + 2 attacks x (adv, flat)) = 80 cells, as the paper's Table 2
    assert len(g.cells) == 80
    assert len({c.id for c in g.cells}) == 80
    c = next(c for c in g.cells if c.id == "lstm-trec-flat-textfooler-s13")
    # TREC's and SST2's LSTM/CNN settings come from the dev-only search (reports/tuning/README.md)
    assert (c.hp["lr"], c.hp["beta"], c.hp["gamma"], c.hp["batch_size"]) == (0.00212, 0.1, 0.001, 32)
    assert c.hp["round_lr"] == 0.0005 and c.hp["freeze_emb"] is False and c.hp["epochs"] == 15
    g_cnn = next(c for c in g.cells if c.id == "cnn-ag-base-s13")
    assert (g_cnn.hp["lr"], g_cnn.hp["batch_size"], g_cnn.hp["epochs"]) == (0.001, 64, 10)  # paper's defaults
    s = next(c for c in g.cells if c.id == "lstm-sst2-flat-textfooler-s13")
    assert (s.hp["lr"], s.hp["optimizer"], s.hp["hidden"], s.hp["beta"]) == (0.000872, "adamw", 200, 0.1)
    imdb = next(c for c in g.cells if c.dataset == "imdb")
    assert imdb.hp["max_len"] == 250
    bert = next(c for c in g.cells if c.model == "bert")
    assert bert.hp["lr"] == 1e-5 and bert.hp["optimizer"] == "adamw"


def test_table3_measures_base_with_both_attacks():
    g = load_grid("table3", models="cnn", datasets="trec")
    base = next(c for c in g.cells if c.method == "base")
    adv = next(c for c in g.cells if c.method == "adv" and c.train_attack == "pwws")
    assert g.eval_attacks(base) == ["textfooler", "pwws"] and g.eval_attacks(adv) == ["pwws"]
    assert load_grid("table3", models="cnn", datasets="trec", attacks="pwws").eval_attacks(base) == ["pwws"]


def test_cells_are_hashable_and_frozen():
    c = Cell("lstm", "sst2", "base", None, 1, (("lr", 0.1),))
    assert hash(c) == hash(Cell("lstm", "sst2", "base", None, 1, (("lr", 0.1),)))
    with pytest.raises(AttributeError):
        c.model = "cnn"


# --- one spec per registered component ------------------------------------------------------

def test_every_registered_component_has_one_complete_spec():
    from flatbench import hparams as H
    from flatbench.registry import DATASETS, GPU_MODELS, display_names

    for name, s in MODELS.specs().items():
        assert s.display and s.hp and s.cost.train > 0 and s.cost.ig > 0 and s.cost.lime > 0
        assert H.model_hp(name) is s.hp and (name in GPU_MODELS) == s.gpu
        assert s.stands_for is None or s.stands_for in MODELS
    for reg in (METHODS, ATTACKS, DATASETS):
        assert all(s.display for s in reg.specs().values())
    assert all(ATTACKS.spec(a).sec_per_example > 0 for a in ATTACKS)
    names = display_names()
    assert (names["deberta"], names["flat"], names["textfooler"], names["sst2"]) == ("DeBERTa", "FLAT", "Textfooler", "SST2")
    with pytest.raises(UnknownNameError, match="unknown model 'gpt'"):
        H.model_hp("gpt")  # no silent empty declaration
    with pytest.raises(TypeError):  # a model without cost rates cannot be registered
        from flatbench.registry import ModelSpec

        ModelSpec(name="x", display="X", impl="m:X", hp={})


def test_the_typed_view_is_what_readers_use(monkeypatch):
    import pickle

    from flatbench.cells import _freeze
    from flatbench.settings import cell_hp
    from flatbench.stages import final_train_stage
    from flatbench.training import hp as training_hp

    g = load_grid("table3_cpu_quick", models="lstm", datasets="trec", methods="flat")
    hp = cell_hp(g.cells[0])
    assert isinstance(hp.rounds, int) and isinstance(hp.beta, float) and hp.beta == hp["beta"] == 0.1
    assert hp.max_len == 50  # the dataset's default, from its spec
    with pytest.raises(AttributeError, match="did you mean 'beta'"):
        hp.bata
    with pytest.raises(AttributeError):
        hp.rounds = 5
    assert hp.replace(rounds=5).rounds == 5 and hp.rounds == 1
    assert pickle.loads(pickle.dumps(hp)) == hp and pickle.loads(pickle.dumps(hp)).beta == 0.1
    # a declared default that changes reaches the readers (here: how many rounds a cell trains)
    cell = Cell("lstm", "trec", "flat", "pwws", 13, _freeze({"embedding": "glove50"}))
    assert final_train_stage(cell).round == 3
    monkeypatch.setitem(training_hp.ROUNDS, "rounds", training_hp.P(2, "int", lo=0))
    assert final_train_stage(cell).round == 2 and cell_hp(cell).rounds == 2


def test_a_per_recipe_attack_test_n_that_misses_a_recipe_is_an_error(data_dir):
    import subprocess
    import sys

    from flatbench.stages import plan

    # table3_minilm sizes pwws and textfooler; attacking base with gene too was silently "all"
    with pytest.raises(ConfigError, match=r"grid table3_minilm: minilm-sst2-base-s13: attack_test_n = "
                                          r"\{pwws = 100, textfooler = 50\} has no size for 'gene'"):
        load_grid("table3_minilm", attacks="textfooler,pwws,gene")
    # and where an attack stage is made for a recipe outside the table (strength calibration, tools)
    from flatbench.stages import AttackStage, final_train_stage

    cell = load_grid("table3_minilm", methods="base").cells[0]
    with pytest.raises(ConfigError, match="has no size for 'gene', which this grid attacks on dev"):
        AttackStage.for_test(final_train_stage(cell), "gene", "dev")
    stages, _ = plan(load_grid("table3_minilm"), str(data_dir))
    assert sorted({s.n for s in stages if s.kind == "attack" and s.split == "test"}) == [50, 100]
    r = subprocess.run([sys.executable, "-m", "flatbench.cli", "run", "--grid", "smoke", "--set",
                        'attack_test_n={"textfooler": 5}', "--dry-run", "--data-dir", str(data_dir)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flatbench: error: grid smoke: cnn-trec-base-s13: attack_test_n = "
                                                   "{textfooler = 5} has no size for 'pwws'")


def test_a_per_recipe_attack_test_n_of_all_is_the_whole_split_and_nothing_else_is():
    from flatbench.cells import attack_test_size, validate_hp

    n = {"pwws": "all", "gene": 200}
    assert attack_test_size(n, "pwws", "w") is None and attack_test_size(n, "gene", "w") == 200
    validate_hp({"attack_test_n": n}, "w")
    for bad in ({"pwws": "most"}, {"pwws": 0}, "all"):  # "all" only inside a table: one integer or none
        with pytest.raises(ConfigError, match="attack_test_n"):
            validate_hp({"attack_test_n": bad}, "w")
    # table4_cpu attacks the whole SST2 test set with PWWS: the same stage as table3_cpu's
    t4 = load_grid("table4_cpu", models="cnn", methods="base", attacks="textfooler")
    t3 = load_grid("table3_cpu", models="cnn", datasets="sst2", methods="base", seeds="13")
    from flatbench.stages import AttackStage, final_train_stage

    assert AttackStage.for_test(final_train_stage(t4.cells[0]), "pwws").key == \
        AttackStage.for_test(final_train_stage(t3.cells[0]), "pwws").key


GRU_FILE = '''"""gru: a one-layer GRU over word vectors; the whole model in one file."""
import torch.nn as nn

from flatbench.models.base import TextClassifier
from flatbench.models.masks import VariationalWordMask
from flatbench.models.word import WordModelSpec


class GRUClassifier(TextClassifier):
    def __init__(self, emb, n_classes, max_len, hidden=128, dropout=0.3, mask_hidden=None, freeze_emb=True):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=freeze_emb, padding_idx=0)
        self.mask = VariationalWordMask(emb.shape[1], mask_hidden) if mask_hidden else None
        self.gru = nn.GRU(emb.shape[1], hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, n_classes)

    def encode(self, x, pad):
        lengths = pad.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.fc(self.drop(h[-1]))


GRU = WordModelSpec("gru", GRUClassifier, ("hidden", "dropout"))
'''


@pytest.fixture
def gru_registered(tmp_path, monkeypatch):
    """Adding a model: one file (GRU_FILE) and one registration (the ModelSpec below)."""
    from flatbench.declared import P
    from flatbench.registry import ModelCost, ModelSpec, model_decl

    (tmp_path / "gru_example.py").write_text(GRU_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    MODELS.register(ModelSpec(
        name="gru", display="GRU", impl="gru_example:GRU", word_level=True,
        hp={**model_decl.WORD, "hidden": P(128, "int", "GRU hidden size", lo=1),
            "dropout": P(0.3, "float", "dropout before the output layer", lo=0, hi=1, open_hi=True)},
        cost=ModelCost(train=1e-3, ig=0.1, lime=0.8)))
    yield MODELS.spec("gru")
    MODELS.unregister("gru")


def test_adding_a_model_is_one_file_plus_one_registration(gru_registered, data_dir, trec, tmp_path):
    from flatbench import hparams as H
    from flatbench.estimate import estimate_seconds
    from flatbench.models.bundle import ModelBundle
    from flatbench.report.paper import PRETTY
    from flatbench.stages import final_train_stage, plan
    from flatbench.training.loop import Example, accuracy, train

    g = load_grid("smoke", models="gru", methods="base,flat")  # every grid runs it with its settings
    stages, targets = plan(g, str(data_dir))
    trains = [s for s in stages if s.kind == "train"]
    assert trains and all(s.cell.model == "gru" for s in trains)
    assert trains[0].spec()["model_hp"]["hidden"] == 100  # smoke's value; its own default is 128
    assert all(estimate_seconds(s) > 0 and s.needs["gpu"] == 0 for s in stages)
    assert PRETTY["gru"] == "GRU" and "hidden" in H.all_declared()
    assert any(k.startswith("phi_pairs") for t in targets.values() for k in t) == bool(g.measure.get("phi_pairs"))
    # builds, trains and comes back from its saved files through the registry
    hp = {"embedding": "glove50", "hidden": 16, "epochs": 1, "max_len": 30}
    bundle = MODELS.get("gru").build(trec, hp, seed=0, mask=True)
    ex = [Example(t, int(y)) for t, y in zip(trec.train.texts[:500], trec.train.labels[:500])]
    train(bundle, METHODS.get("flat"), ex, trec.dev, hp, seed=0)
    bundle.save(tmp_path)
    back = ModelBundle.load(tmp_path)
    assert back.name == "gru" and accuracy(back, trec.test) == accuracy(bundle, trec.test)
    assert final_train_stage(g.cells[0]).key != final_train_stage(load_grid("smoke", models="lstm").cells[0]).key
