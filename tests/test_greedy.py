"""The array-level greedy search (flatbench/attacks/greedy.py) against stock TextAttack.

Real TREC questions (test and training split), tiny CNN and LSTM trained on real TREC, PWWS and
TextFooler. Two oracles:
  * stock `textattack.Attacker` with TextAttack's own PyTorchModelWrapper in a fresh process
    (benchmarks/attack_once.py --mode stock): no flatbench fast path touches it;
  * stock `Attack.attack` on the same built attack, example by example, in this process: for
    what the first cannot reach (a query budget, a second model on the same sentences, whose
    search starts from the first's kept substitutes).
Every record must be equal field by field (status, adversarial text, query count, predictions,
replaced words).
"""

import pytest

from flatbench.attack_resources.catalog import ensure_nltk_env

ensure_nltk_env()

RECIPES = ("pwws", "textfooler")
MODELS = ("cnn", "lstm")


@pytest.fixture(scope="module")
def model_dirs(attack_model_dirs, trec, tmp_path_factory):
    from conftest import SMALL_HP, train_cnn

    cnn2 = tmp_path_factory.mktemp("models") / "cnn2"  # a second victim of the same kind
    cnn2.mkdir()
    train_cnn(trec, SMALL_HP, seed=2).save(cnn2)
    return {**attack_model_dirs, "cnn2": cnn2}


@pytest.fixture(scope="module")
def items(trec):
    test = [(i, trec.test.texts[i], int(trec.test.labels[i])) for i in range(5, 500, 17)]  # 30
    train = [(10_000 + i, trec.train.texts[i], int(trec.train.labels[i])) for i in range(7, 5000, 250)]  # 20
    return test + train


@pytest.fixture(scope="module")
def stock(model_dirs, items, tmp_path_factory):
    """{(model, recipe): records} from stock TextAttack, all four stages in one fresh process."""
    from conftest import stock_attack_records

    return stock_attack_records(model_dirs, MODELS, RECIPES, items, tmp_path_factory.mktemp("items"))


def _differ(a, b):
    return [x["idx"] for x, y in zip(a, b) if x != y]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("recipe", RECIPES)
def test_greedy_records_equal_stock_attacker(model, recipe, model_dirs, items, stock, tmp_path, monkeypatch):
    from flatbench.attacks.runner import run_attack

    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH", raising=False)
    monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP", "0")
    recs, stats = run_attack(model_dirs[model], recipe, items, tmp_path / "p", workers=1, progress=False)
    assert stats["search"] == "greedy" and stats["stock_fallbacks"] == 0
    ref = stock[(model, recipe)]
    assert len(recs) == len(ref) == len(items)
    assert _differ(recs, ref) == [], "the greedy search changed an example's outcome"
    st = [r["status"] for r in ref]
    assert st.count("succeeded") >= 3 and st.count("failed") + st.count("succeeded") >= 20  # it searched
    assert sum(r["queries"] for r in ref) > 5 * len(items)


def _stock_and_greedy(attack, items):
    import textattack

    from flatbench.attacks.greedy import GreedySearch
    from flatbench.attacks.runner import result_record

    g = GreedySearch.plan(attack)
    assert g is not None
    out = []
    for idx, text, label in items:
        a = result_record(attack.attack(textattack.shared.AttackedText(text), label), idx, label)
        b = result_record(g.attack_example(text, label), idx, label)
        out.append((a, b))
    return out, g


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_second_model_and_a_query_budget_decide_as_stock(recipe, model_dirs, items, monkeypatch):
    """The substitutes kept from the first model's search serve the second model's exactly; a
    query budget cuts requests where stock cuts them (and its records then show it)."""
    from flatbench.attacks.runner import _attack_for
    from flatbench.attacks.wrapper import BundleWrapper
    from flatbench.models.bundle import ModelBundle

    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH", raising=False)
    for budget in (None, 25):
        kept = None
        for m in ("cnn", "cnn2"):
            attack = _attack_for(recipe, BundleWrapper(ModelBundle.load(model_dirs[m])), None, budget, True)[0]
            pairs, g = _stock_and_greedy(attack, items)
            assert [b for a, b in pairs if a != b] == []
            # TextFooler's embedding distance and POS are decided once per (sentence, index)
            assert [type(c).__name__ for c in g.static] == (
                ["WordEmbeddingDistance", "SpacyPartOfSpeech"] if recipe == "textfooler" else [])
            if kept is not None and g.static:  # the second model starts from the first's kept substitutes
                assert len(g.survivors) >= kept > 0
            kept = len(g.survivors)
            assert g.fallbacks == 0
        if budget:
            assert max(a["queries"] for a, _ in pairs) <= budget
            assert any(a["queries"] == budget for a, _ in pairs)  # the budget was reached


def test_an_example_it_cannot_decide_goes_to_stock(model_dirs, items, monkeypatch):
    from flatbench.attacks import greedy
    from flatbench.attacks.runner import _attack_for
    from flatbench.attacks.wrapper import BundleWrapper
    from flatbench.models.bundle import ModelBundle

    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH", raising=False)
    attack = _attack_for("textfooler", BundleWrapper(ModelBundle.load(model_dirs["lstm"])), None, None, True)[0]
    g = greedy.GreedySearch.plan(attack)
    real = g._transformations

    def refuse(current, original, i):
        if "?" in original.text and i == 1:
            raise greedy.Fallback("test")
        return real(current, original, i)

    monkeypatch.setattr(g, "_transformations", refuse)
    before = g.fallbacks
    pairs, _ = _stock_and_greedy(attack, items[:12])
    assert [b for a, b in pairs if a != b] == []
    assert g.fallbacks > before


def test_the_switch_turns_it_off_and_other_searches_keep_stocks(model_dirs, items, tmp_path, monkeypatch):
    from flatbench.attacks.greedy import GreedySearch
    from flatbench.attacks.runner import _attack_for, run_attack
    from flatbench.attacks.wrapper import BundleWrapper
    from flatbench.models.bundle import ModelBundle

    monkeypatch.setenv("FLATBENCH_ATTACK_SEARCH", "stock")
    _, stats = run_attack(model_dirs["cnn"], "pwws", items[:3], tmp_path / "p", workers=1, progress=False)
    assert stats["search"] == "stock"
    monkeypatch.delenv("FLATBENCH_ATTACK_SEARCH")
    # Gene: a population search this module does not reproduce
    attack = _attack_for("gene", BundleWrapper(ModelBundle.load(model_dirs["cnn"])), None, None, True)[0]
    assert GreedySearch.plan(attack) is None
