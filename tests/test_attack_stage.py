"""The attack layer end to end on a real trained CNN and real TREC sentences (PWWS, offline)."""

import json
import subprocess
import sys

import pytest

from flatbench.attack_resources.catalog import ensure_nltk_env

ensure_nltk_env()


@pytest.fixture(scope="module")
def model_dir(trained_cnn, tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    trained_cnn.save(d)
    return d


@pytest.fixture(scope="module")
def items(trec):
    idx = list(range(0, 120, 10))  # 12 real test questions
    return [(i, trec.test.texts[i], int(trec.test.labels[i])) for i in idx]


@pytest.fixture(scope="module")
def pwws_records(model_dir, items, tmp_path_factory):
    from flatbench.attacks.runner import run_attack

    part = tmp_path_factory.mktemp("partial")
    return run_attack(model_dir, "pwws", items, part, workers=1, progress=False)


def test_records_are_consistent_with_the_model_and_the_texts(pwws_records, trained_cnn, items):
    from textattack.shared import AttackedText

    recs, stats = pwws_records
    assert [r["idx"] for r in recs] == [i for i, _, _ in items]
    statuses = {r["status"] for r in recs}
    assert "succeeded" in statuses  # PWWS breaks a briefly trained CNN on some TREC questions
    for r in recs:
        assert r["original"] == dict((i, t) for i, t, _ in items)[r["idx"]]
        pred_orig = int(trained_cnn.predict([r["original"]])[0])
        assert r["orig_pred"] == pred_orig
        if r["status"] == "skipped":
            assert pred_orig != r["label"] and r["replaced"] == []
            continue
        assert pred_orig == r["label"]
        pred_adv = int(trained_cnn.predict([r["adversarial"]])[0])  # recomputed, not trusted
        assert r["adv_pred"] == pred_adv
        if r["status"] == "succeeded":
            assert pred_adv != r["label"] and r["replaced"]
            ow, aw = AttackedText(r["original"]).words, AttackedText(r["adversarial"]).words
            for pos, o, s in r["replaced"]:
                assert o != s and ow[pos] == o and aw[pos] == s
            assert r["perturbed_pct"] == pytest.approx(100 * len(r["replaced"]) / len(ow))
        else:
            assert pred_adv == r["label"] and r["replaced"] == []
    # PWWS's synonyms: memoised, and read from WordNet's lines (attack_resources.wordnet_synonyms)
    assert stats["forward_seconds"] > 0 and "WordSwapWordNet._get_replacement_words: lemma names read " \
        "directly (attack_resources.wordnet_synonyms)" in stats["memoised"]


def test_summary_follows_textattack_definitions(pwws_records):
    from flatbench.attacks.runner import summarize

    recs, _ = pwws_records
    s = summarize(recs)
    n = len(recs)
    assert s["after_attack_acc"] == s["failed"] / n
    assert s["clean_acc"] == (n - s["skipped"]) / n
    assert s["success_rate"] == s["succeeded"] / (s["succeeded"] + s["failed"])


def test_resume_reuses_finished_examples(model_dir, items, pwws_records, tmp_path):
    from flatbench.attacks.runner import run_attack

    first, _ = run_attack(model_dir, "pwws", items[:5], tmp_path, workers=1, progress=False)
    # a killed worker leaves a cut last line: it must be ignored and that example redone
    f = next(tmp_path.glob("records.*.jsonl"))
    f.write_text(f.read_text() + '{"idx": 999, "orig')
    recs, stats = run_attack(model_dir, "pwws", items, tmp_path, workers=1, progress=False)
    assert stats["resumed"] == 5
    assert recs[:5] == first
    assert [r["status"] for r in recs] == [r["status"] for r in pwws_records[0]]
    assert stats["deviations"] == pwws_records[1]["deviations"]


def test_two_worker_processes_give_the_same_records(model_dir, items, pwws_records, tmp_path):
    from flatbench.attacks.runner import run_attack

    from flatbench.attacks import runner

    recs, stats = run_attack(model_dir, "pwws", items, tmp_path / "a", workers=2, progress=False)
    assert stats["workers"] == 2
    assert recs == pwws_records[0]
    pool = runner._pool(1)  # shard 0 ran here, shard 1 in the standing pool of one worker
    again, _ = run_attack(model_dir, "pwws", items, tmp_path / "b", workers=2, progress=False)
    assert again == pwws_records[0] and runner._pool(1) is pool  # the next stage reuses the pool


_TWO_STAGES = """
import json, sys
from pathlib import Path
from flatbench.attacks import runner
items = json.loads(sys.argv[2])
if __name__ == "__main__":
    for k in range(2):
        runner.run_attack(sys.argv[1], "pwws", items, Path(sys.argv[3]) / str(k), workers=2, progress=False)
        if k == 0:
            first = list(runner._POOLS.values())
    print(json.dumps({"same_pool": list(runner._POOLS.values()) == first and len(first) == 1,
                      "attacks_built": len(runner._ATTACKS)}))
"""


def test_a_fresh_process_keeps_its_worker_pool_across_stages(model_dir, items, tmp_path):
    """Imports set environment variables (TextAttack sets TOKENIZERS_PARALLELISM, ...): they must
    not make the second stage of a fresh process spawn its workers again."""
    script = tmp_path / "two_stages.py"
    script.write_text(_TWO_STAGES)
    r = subprocess.run([sys.executable, str(script), str(model_dir), json.dumps(items[:4]), str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"same_pool": True, "attacks_built": 1}


def test_a_later_stage_reuses_the_built_attack_with_its_own_model(model_dir, items, pwws_records, trec,
                                                                 tmp_path):
    """Stages in one process share the built attack (and its memoised look-ups) but never the
    model outputs: a second model attacked after the first gives exactly the records it gets
    in a fresh process-state, and stock TextAttack's (no memoisation)."""
    from conftest import SMALL_HP, train_cnn

    from flatbench.attacks import runner

    other = tmp_path / "other"
    other.mkdir()
    train_cnn(trec, SMALL_HP, seed=2).save(other)
    assert any(k[0] == "pwws" for k in runner._ATTACKS)  # built by the first model's stage
    reused, _ = runner.run_attack(other, "pwws", items, tmp_path / "p1", workers=1, progress=False)
    runner._ATTACKS.clear()
    fresh, _ = runner.run_attack(other, "pwws", items, tmp_path / "p2", workers=1, progress=False)
    stock, _ = runner.run_attack(other, "pwws", items, tmp_path / "p3", workers=1, progress=False, accel=False)
    assert reused == fresh == stock
    assert reused != pwws_records[0]  # the second model is attacked, not the first one's outputs


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "flatbench.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_attack_cli_trains_then_attacks_then_reuses(tmp_path, data_dir):
    args = ["attack", "--model", "cnn", "--dataset", "trec", "--recipe", "pwws", "--n", "8",
            "--set", "epochs=1", "--set", "vocab_extra=500", "--data-dir", str(data_dir), "--no-mlflow"]
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "examples 8:" in r.stdout and "after-attack accuracy" in r.stdout
    assert "2 stages, 0 cached, 2 to run" in r.stderr
    man = next((tmp_path / "runs" / "attack").glob("*/manifest.json"))
    m = json.loads(man.read_text())
    assert m["metrics"]["n"] == 8 and m["spec"]["recipe"] == "pwws"
    lines = (man.parent / "records.jsonl").read_text().splitlines()
    assert len(lines) == 8
    r2 = _cli(*args, cwd=tmp_path)
    assert "2 stages, 2 cached, 0 to run" in r2.stderr and r2.stdout == r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--recipe", "hotflip"], "unknown attack 'hotflip'"),
    (["--recipe", "pwws", "--n", "0"], "the example selection is empty"),
    (["--recipe", "bae"], "bae"),
])
def test_attack_cli_errors_are_one_line(tmp_path, data_dir, args, msg):
    r = _cli("attack", "--model", "cnn", "--dataset", "trec", "--set", "epochs=1", "--set", "vocab_extra=500",
             "--data-dir", str(data_dir), "--no-mlflow", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("flatbench: error:") and msg in last and "Traceback" not in r.stderr
    assert not list((tmp_path / "runs").rglob("attack/*/manifest.json")) if (tmp_path / "runs").exists() else True


def test_stochastic_attack_is_seeded_per_example_whatever_the_workers(model_dir, items, tmp_path):
    """IGA draws from random/numpy: each example is seeded from (stage seed, example index), so
    1 and 2 workers (different shards, different orders) give identical records."""
    from flatbench.attacks.runner import example_seed, run_attack

    few = items[:6]
    opts = {"attack_bounds": "original"}  # the loose bound leaves IGA many random choices
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, _ = run_attack(model_dir, "iga", few, tmp_path / "one", workers=1, progress=False,
                        options=opts, seed=13, threads=1)
    two, st = run_attack(model_dir, "iga", few, tmp_path / "two", workers=2, progress=False,
                         options=opts, seed=13, threads=1)
    assert st["workers"] == 2
    strip = lambda rs: [{k: v for k, v in r.items()} for r in rs]  # noqa: E731
    assert strip(one) == strip(two)
    assert any(r["status"] == "succeeded" for r in one)
    assert example_seed(13, 5) == example_seed(13, 5) != example_seed(14, 5)


def test_fast_words_from_text_equals_textattacks_on_every_dataset_text(data_dir):
    """The runner's faster copy of TextAttack's word splitter gives the same words on every text
    of the four datasets, on swapped-in words with punctuation, and with ignored words."""
    ensure_nltk_env()
    import textattack.shared.utils.strings as ts

    from flatbench.attacks.runner import _fast_words_from_text
    from flatbench.data.datasets import load_dataset

    original = getattr(ts.words_from_text, "__wrapped_original__", ts.words_from_text)
    fast = _fast_words_from_text(original)
    assert fast is not None
    texts = []
    for name in ("sst2", "trec", "imdb", "ag"):
        ds = load_dataset(name)
        for split in (ds.train, ds.dev, ds.test):
            texts += list(split.texts)
    texts += ["'quoted' -dash- _under_ *star* @at@ don't e-mail", "naïve café ｍode ×", "中文 text",
              "", "   ", "--- '' **", "l'amour -- x@y.com 3.5% (yes)"]
    assert len(texts) > 20_000
    bad = [t for t in texts if fast(t) != original(t)]
    assert not bad, bad[:3]
    ignore = ("the", "a")
    assert all(fast(t, ignore) == original(t, list(ignore)) for t in texts[:2000])
