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


def train_cnn(dataset, hp, seed, mask=False):
    """A real CNN trained on a real dataset's full training split with the base objective."""
    import flatbench.methods.base as base
    from flatbench.registry import MODELS
    from flatbench.training.loop import Example, train

    bundle = MODELS.get("cnn").build(dataset, hp, seed=seed, mask=mask)
    ex = [Example(t, int(y)) for t, y in zip(dataset.train.texts, dataset.train.labels)]
    train(bundle, base, ex, dataset.dev, hp, seed=seed)
    return bundle


@pytest.fixture(scope="session")
def trained_cnn(trec):
    """A real CNN trained briefly on real TREC (shared by tests that need a model)."""
    return train_cnn(trec, SMALL_HP, seed=1)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: offline errors must be decided without the network."""
    import socket

    def refuse(*a, **k):
        raise AssertionError("offline failure must not try the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
