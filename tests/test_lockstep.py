"""Lockstep search across examples (flatbench/attacks/lockstep.py) against stock TextAttack.

Real TREC test questions, tiny CNN and LSTM trained on real TREC, PWWS and TextFooler. The
oracle is stock `textattack.Attacker` with TextAttack's PyTorchModelWrapper, run in a fresh
process (benchmarks/attack_once.py --mode stock), so none of flatbench's in-process fast paths
touch it. Every record must be equal, field by field (status, adversarial text, query count,
predictions, replaced words): one differing example fails the test.
"""

import json

import pytest

from flatbench.attack_resources.catalog import ensure_nltk_env

ensure_nltk_env()

RECIPES = ("pwws", "textfooler")
MODELS = ("cnn", "lstm")


@pytest.fixture(scope="module")
def model_dirs(attack_model_dirs):
    return attack_model_dirs


@pytest.fixture(scope="module")
def items(trec):
    idx = list(range(3, 500, 21))  # 24 real test questions
    return [(i, trec.test.texts[i], int(trec.test.labels[i])) for i in idx]


@pytest.fixture(scope="module")
def stock(model_dirs, items, tmp_path_factory):
    """{(model, recipe): records} from stock TextAttack, all four stages in one fresh process."""
    from conftest import stock_attack_records

    return stock_attack_records(model_dirs, MODELS, RECIPES, items, tmp_path_factory.mktemp("items"))


def _lockstep(monkeypatch, k="8", tol=None):
    monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP", k)
    if tol is not None:
        monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP_TOL", tol)


def _differ(a, b):
    return [x["idx"] for x, y in zip(a, b) if x != y]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("recipe", RECIPES)
def test_lockstep_records_equal_stock(model, recipe, model_dirs, items, stock, tmp_path, monkeypatch):
    from flatbench.attacks.runner import run_attack

    _lockstep(monkeypatch)
    recs, stats = run_attack(model_dirs[model], recipe, items, tmp_path / "p", workers=1, progress=False)
    ref = stock[(model, recipe)]
    assert len(recs) == len(ref) == len(items)
    assert _differ(recs, ref) == [], "lockstep changed an example's outcome"
    assert {r["status"] for r in ref} - {"skipped"}  # the attack did something
    lock = stats["lockstep"]
    assert lock["gathered_calls"] > 0 and lock["max_inflight"] == 8
    # many examples' texts in one call: more texts per gathered call than any one example sends
    assert lock["unique_texts"] / lock["gathered_calls"] > 8


def test_kill_and_resume_keeps_finished_examples_and_gives_the_same_records(model_dirs, items, stock,
                                                                          tmp_path, monkeypatch):
    """An attack cut after 10 examples (as a kill would) keeps their records; the resumed
    stage attacks only the rest and returns stock's records."""
    from flatbench.attacks import runner

    _lockstep(monkeypatch)
    real, seen = runner.result_record, []

    def cut(*a, **k):
        if len(seen) == 10:
            raise KeyboardInterrupt
        seen.append(1)
        return real(*a, **k)

    monkeypatch.setattr(runner, "result_record", cut)
    with pytest.raises(KeyboardInterrupt):
        runner.run_attack(model_dirs["cnn"], "textfooler", items, tmp_path / "p", workers=1, progress=False)
    monkeypatch.setattr(runner, "result_record", real)
    kept = [json.loads(x) for p in (tmp_path / "p").glob("records.*.jsonl") for x in p.read_text().splitlines()]
    assert len(kept) == 10
    recs, stats = runner.run_attack(model_dirs["cnn"], "textfooler", items, tmp_path / "p", workers=1,
                                    progress=False)
    assert stats["resumed"] == 10
    assert _differ(recs, stock[("cnn", "textfooler")]) == []


def test_lockstep_in_the_worker_pool(model_dirs, items, stock, tmp_path, monkeypatch):
    """Two workers (shard 0 here, shard 1 in the spawned pool, which inherits the switch), each
    running its shard in lockstep: stock's records."""
    from flatbench.attacks.runner import run_attack

    _lockstep(monkeypatch, "4")
    recs, stats = run_attack(model_dirs["lstm"], "pwws", items, tmp_path / "p", workers=2, progress=False)
    assert stats["workers"] == 2 and stats["lockstep"]["gathered_calls"] > 0
    assert _differ(recs, stock[("lstm", "pwws")]) == []


def test_switch_off_is_the_one_at_a_time_loop(model_dirs, items, stock, tmp_path, monkeypatch):
    from flatbench.attacks.runner import run_attack

    _lockstep(monkeypatch, "0")
    recs, stats = run_attack(model_dirs["cnn"], "pwws", items[:8], tmp_path / "p", workers=1, progress=False)
    assert stats["lockstep"] == {}
    assert _differ(recs, stock[("cnn", "pwws")][:8]) == []


def test_the_guard_flags_near_ties_and_accepts_clear_orderings():
    import torch

    from flatbench.attacks.lockstep import _Guard

    g = _Guard(0, 1e-5)
    assert g.ok(["a", "b"], torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
    assert g.ok(["c"], torch.tensor([[3.0, -1.0]]))
    # the score of an earlier text, to within the tolerance: a near-tie with the history
    assert not _Guard(0, 1e-5).ok(["a", "b"], torch.tensor([[1.0, 0.0], [1.0 + 1e-7, 0.0]]))
    h = _Guard(0, 1e-5)
    assert h.ok(["a"], torch.tensor([[1.0, 0.0]]))
    assert not h.ok(["b"], torch.tensor([[1.0 + 1e-7, 0.0]]))
    # the same text twice in one request is one value (stock reads it back from its cache)
    assert _Guard(0, 1e-5).ok(["a", "a"], torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    # the top two classes within the tolerance: the prediction itself is a near-tie
    assert not _Guard(1, 1e-5).ok(["a"], torch.tensor([[0.5, 0.5 + 1e-7, -3.0]]))
    # not a classifier's rows: never trusted
    assert not _Guard(0, 1e-5).ok(["a"], [0.3])


def test_the_switch_is_read_from_the_environment(monkeypatch):
    from flatbench.attacks.lockstep import INFLIGHT, lockstep_inflight, lockstep_tol
    from flatbench.errors import ConfigError

    for v, want in (("0", 0), ("off", 0), ("on", INFLIGHT), ("32", 32)):
        monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP", v)
        assert lockstep_inflight() == want
    monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP", "many")
    with pytest.raises(ConfigError):
        lockstep_inflight()
    monkeypatch.setenv("FLATBENCH_ATTACK_LOCKSTEP_TOL", "-1")
    with pytest.raises(ConfigError):
        lockstep_tol()
