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
    with pytest.raises(UnknownNameError, match="unknown grid 'table9'; valid: attack_validation, smoke, strength_calibration, strength_curves, strength_curves_interp, table2"):
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
