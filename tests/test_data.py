import json

import numpy as np
import pytest

from flatbench.data.datasets import load_dataset, read_jsonl, resolve_data_dir, seeded_dev_indices
from flatbench.data.text import Vocab, tokenize
from flatbench.errors import DataError, UnknownNameError

# Counts from ../shared/data/README.md (train minus the dev hold-out where dev is held out).
EXPECTED = {"sst2": (6920, 872, 1821, 2), "trec": (5000, 452, 500, 6), "ag": (8354, 440, 7600, 4)}


@pytest.mark.parametrize("name", ["sst2", "trec", "ag"])
def test_counts_match_the_data_readme(name, data_dir):
    ds = load_dataset(name, data_dir)
    tr, dv, te, c = EXPECTED[name]
    assert (len(ds.train), len(ds.dev), len(ds.test), ds.n_classes) == (tr, dv, te, c)
    assert ds.source == f"local:{(data_dir / ('ag_news' if name == 'ag' else name)).resolve()}"
    assert set(np.unique(ds.test.labels)) == set(range(c))


def test_imdb_gzip_and_dev_holdout(data_dir):
    ds = load_dataset("imdb", data_dir)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (20000, 5000, 25000)
    assert "<br />" not in " ".join(tokenize(ds.train.texts[0]))
    assert any("seeded hold-out" in d for d in ds.deviations)


def test_deviations_record_ag_subset_and_dev_splits(data_dir):
    ag = load_dataset("ag", data_dir)
    assert any("subset (8354 of the paper's 114000" in d for d in ag.deviations)
    assert load_dataset("sst2", data_dir).deviations == []  # official splits, full size
    trec = load_dataset("trec", data_dir)
    assert trec.stats()["avg_len"] == pytest.approx(10.2, abs=0.6)  # paper Table 1: L = 10


def test_hub_recomputation_of_dev_split_matches_the_file(data_dir):
    spec = json.loads((data_dir / "trec" / "dev_split.json").read_text())
    assert seeded_dev_indices(spec["n_train_rows"], spec["n_dev"], 2022) == spec["dev_indices"]


def test_resolution_order(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(data_dir))
    assert resolve_data_dir() == data_dir.resolve()
    assert resolve_data_dir(tmp_path) == tmp_path.resolve()  # --data-dir wins
    monkeypatch.setenv("FLATBENCH_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="not a directory"):
        resolve_data_dir()


def test_hub_offline_fails_with_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("FLATBENCH_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("flatbench.data.datasets._candidate_dirs", lambda: [])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from flatbench.errors import ResourceMissingError

    with pytest.raises(ResourceMissingError) as e:
        load_dataset("trec")
    assert "\n" not in str(e.value) and "--data-dir" in str(e.value)


def _write(tmp_path, lines, labels=None):
    d = tmp_path / "trec"
    d.mkdir(parents=True)
    (d / "labels.json").write_text(json.dumps(labels or {"0": "a", "1": "b"}))
    (d / "train.jsonl").write_text("\n".join(lines) + "\n")
    (d / "test.jsonl").write_text('{"text": "x", "label": 0}\n')
    (d / "dev.jsonl").write_text('{"text": "y", "label": 1}\n')
    return tmp_path


def test_malformed_line_names_file_and_line(tmp_path):
    root = _write(tmp_path, ['{"text": "ok", "label": 0}', '{"text": "broken", "label": 0'])
    with pytest.raises(DataError, match=r"train.jsonl:2: malformed"):
        from flatbench.data.datasets import _load_local, dataset_info

        _load_local(dataset_info("trec"), root)


def test_label_outside_labels_json(tmp_path):
    root = _write(tmp_path, ['{"text": "ok", "label": 7}'])
    p = root / "trec" / "train.jsonl"
    with pytest.raises(DataError, match=r"train.jsonl:1: label 7 is not in labels.json"):
        read_jsonl(p, 2)


def test_empty_split(tmp_path):
    root = _write(tmp_path, [""])
    with pytest.raises(DataError, match="empty split"):
        read_jsonl(root / "trec" / "train.jsonl", 2)


def test_unknown_dataset():
    with pytest.raises(UnknownNameError, match="valid: ag, imdb, sst2, trec"):
        load_dataset("mnist")


def test_tokenizer_splits_clitics_and_punctuation():
    assert tokenize("It's a Don't-miss, isn't it?") == ["it", "'s", "a", "do", "n't", "-", "miss", ",", "is",
                                                        "n't", "it", "?"]
    assert tokenize("a stirring , funny re-imagining") == ["a", "stirring", ",", "funny", "re-imagining"]
    assert tokenize("they wo n't sit") == ["they", "wo", "n't", "sit"]


def test_vocab_train_words_first_then_extra():
    v = Vocab.build(["b a a", "c"], extra=["z", "a"])
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "z"]
    ids = v.batch(["a q", "z"], max_len=5)
    assert ids.tolist() == [[2, 1], [5, 0]]
