import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("FLATBENCH_DATA_DIR", ROOT.parent / "shared" / "data"))

# Tests never touch the network: hub loads must fail fast instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")




@pytest.fixture(scope="session")
def data_dir():
    if not DATA_DIR.is_dir():
        pytest.fail(f"test data not found at {DATA_DIR}; set FLATBENCH_DATA_DIR")
    return DATA_DIR


SMALL_HP = {"embedding": "glove50", "vocab_extra": 2000, "hidden": 50, "filters": 50, "widths": [3, 4, 5],
            "mask_hidden": 50, "max_len": 50, "batch_size": 64, "lr": 0.01, "epochs": 2, "dropout": 0.3}


@pytest.fixture(scope="session")
def trec(data_dir):
    from flatbench.data import load_dataset

    return load_dataset("trec", data_dir)


def train_model(name, dataset, hp, seed, mask=False):
    """A real `name` model trained on a real dataset's full training split with the base objective."""
    import flatbench.methods.base as base
    from flatbench.registry import MODELS
    from flatbench.training.loop import Example, train

    bundle = MODELS.get(name).build(dataset, hp, seed=seed, mask=mask)
    ex = [Example(t, int(y)) for t, y in zip(dataset.train.texts, dataset.train.labels)]
    train(bundle, base, ex, dataset.dev, hp, seed=seed)
    return bundle


def train_cnn(dataset, hp, seed, mask=False):
    """A real CNN trained on a real dataset's full training split with the base objective."""
    return train_model("cnn", dataset, hp, seed, mask)


@pytest.fixture(scope="session")
def trained_cnn(trec):
    """A real CNN trained briefly on real TREC (shared by tests that need a model)."""
    return train_cnn(trec, SMALL_HP, seed=1)


@pytest.fixture(scope="session")
def attack_model_dirs(trained_cnn, trec, tmp_path_factory):
    """Saved victims for the attack-search tests: the CNN above and an LSTM (seed 3), real TREC."""
    root = tmp_path_factory.mktemp("attack_models")
    dirs = {"cnn": root / "cnn", "lstm": root / "lstm"}
    for d in dirs.values():
        d.mkdir()
    trained_cnn.save(dirs["cnn"])
    train_model("lstm", trec, SMALL_HP, seed=3).save(dirs["lstm"])
    return dirs


def stock_attack_records(model_dirs, models, recipes, items, tmp_dir) -> dict:
    """{(model, recipe): records} from stock TextAttack (its `Attacker` and PyTorchModelWrapper,
    benchmarks/attack_once.py --mode stock), every (model, recipe) stage in one fresh process, so
    none of flatbench's in-process fast paths touch it."""
    import json
    import subprocess
    import sys

    f = Path(tmp_dir) / "items.json"
    f.write_text(json.dumps(items))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "attack_once.py"), "--mode", "stock",
                        "--recipe", ",".join(recipes), "--model-dir", ",".join(str(model_dirs[m]) for m in models),
                        "--items", str(f)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    recs = json.loads(r.stdout.strip().splitlines()[-1])["records"]
    n = len(items)
    return {s: recs[k * n:(k + 1) * n] for k, s in enumerate((m, rc) for m in models for rc in recipes)}


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: offline errors must be decided without the network."""
    import socket

    def refuse(*a, **k):
        raise AssertionError("offline failure must not try the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
