"""Subword models: tiny real BERT/DeBERTa classes on real SST2 rows, MiniLM from the wheel."""

import dataclasses
import math

import pytest
import torch

from flatbench.errors import ResourceMissingError

N_TRAIN, N_DEV = 300, 64
HP = {"tiny": True, "max_len": 40, "mask_hidden": 16, "batch_size": 32, "lr": 1e-3, "epochs": 1,
      "optimizer": "adamw", "beta": 0.1, "gamma": 0.1}


@pytest.fixture(scope="module")
def sst2(data_dir):
    from flatbench.data import load_dataset

    ds = load_dataset("sst2", data_dir)
    return dataclasses.replace(ds, train=ds.train.subset(range(N_TRAIN)), dev=ds.dev.subset(range(N_DEV)))


def _examples(ds, adversarial: bool):
    from flatbench.training.loop import Example

    ex = [Example(t, int(y)) for t, y in zip(ds.train.texts, ds.train.labels)]
    if adversarial:  # hand-made (x', pairs): "good" -> "great" in texts that contain "good"
        for t, y in zip(ds.train.texts, ds.train.labels):
            if " good " in f" {t} ":
                ex.append(Example(f" {t} ".replace(" good ", " great ").strip(), int(y), [("good", "great")]))
        assert len(ex) > len(ds.train)
    return ex


@pytest.fixture(scope="module", params=["bert", "deberta"])
def flat_bundle(request, sst2):
    """A tiny masked model of the real class trained one epoch with FLAT's objective."""
    import flatbench.methods.flat as flat
    from flatbench.models.transformers import BERT, DEBERTA
    from flatbench.training.loop import train

    spec = {"bert": BERT, "deberta": DEBERTA}[request.param]
    bundle = spec.build(sst2, HP, seed=3, mask=True)
    hist = train(bundle, flat, _examples(sst2, True), sst2.dev, HP, seed=3)
    assert all(math.isfinite(v) for v in hist["epoch_loss"])
    assert "l_imp" in hist["extra"][0]
    return bundle


@pytest.mark.parametrize("name", ["bert", "deberta"])
def test_tiny_base_trains(name, sst2):
    import flatbench.methods.base as base
    from flatbench.models.transformers import BERT, DEBERTA, SubwordTokenizer, TransformerClassifier
    from flatbench.training.loop import train

    spec = {"bert": BERT, "deberta": DEBERTA}[name]
    bundle = spec.build(sst2, HP, seed=1, mask=False)
    assert isinstance(bundle.tokenizer, SubwordTokenizer) and bundle.tokenizer.kind == "subword"
    assert isinstance(bundle.model, TransformerClassifier) and bundle.model.mask is None
    assert bundle.model.embedding is bundle.model.net.get_input_embeddings()
    assert any("tiny randomly initialised" in d for d in bundle.deviations)
    from flatbench.registry import GPU_MODELS

    assert spec.name in GPU_MODELS
    hist = train(bundle, base, _examples(sst2, False), sst2.dev, HP, seed=1)
    assert all(math.isfinite(v) for v in hist["epoch_loss"])
    assert 0.0 <= hist["best_dev_acc"] <= 1.0


def test_tokenizer_protocol(flat_bundle):
    tok = flat_bundle.tokenizer
    ids = tok.batch(["a good movie", "good", "x " * 200])
    assert ids.dtype == torch.long and ids.shape == (3, tok.max_len)  # padded to the longest, truncated
    short = tok.batch(["a good movie", "good"])
    assert short.shape[1] < tok.max_len and (short[1] == tok.pad_id).any()
    words, pos2word = tok.align("a good movie , good fun")
    assert words == ["a", "good", "movie", ",", "good", "fun"]
    assert pos2word[0] == -1 and pos2word[-1] == -1 and len(pos2word) == len(tok.tokens("a good movie , good fun"))
    good = [p for p, w in enumerate(pos2word) if w >= 0 and words[w] == "good"]
    row = tok.batch(["a good movie , good fun"])[0].tolist()
    assert [row[p] for p in good[:1]] == tok.piece_ids("good")[:1]


def test_save_load_roundtrip(flat_bundle, tmp_path, sst2):
    from flatbench.models.bundle import ModelBundle

    flat_bundle.save(tmp_path)
    loaded = ModelBundle.load(tmp_path)
    texts = sst2.dev.texts[:16]
    assert (loaded.logits(texts) == flat_bundle.logits(texts)).all()
    assert loaded.deviations == flat_bundle.deviations
    assert loaded.tokenizer.batch(texts).equal(flat_bundle.tokenizer.batch(texts))


def test_phi_global_and_specials(flat_bundle):
    tok, model = flat_bundle.tokenizer, flat_bundle.model
    model.eval()
    text = "a good cast , but a good plot is missing"  # mid-sentence both times (byte-level BPE)
    ids = tok.batch([text])
    out = model.forward_full(ids)
    _, pos2word = tok.align(text)
    gid = tok.piece_ids("good")[0]
    pos = (ids[0] == gid).nonzero().flatten().tolist()
    assert len(pos) == 2
    assert out.phi[0, pos[0]] == out.phi[0, pos[1]]
    specials = [p for p, w in enumerate(pos2word) if w < 0]
    assert (out.phi[0, specials] == 1).all()
    assert ((out.phi[0] > 0) & (out.phi[0] <= 1)).all()
    assert torch.isfinite(out.entropy).all()


def test_word_level_importance_loss_has_gradients(flat_bundle):
    from flatbench.training.objectives import importance_loss

    model = flat_bundle.model
    model.train()
    model.zero_grad(set_to_none=True)
    phi_o, phi_s, idx, n = flat_bundle.pair_phi([[("good", "nice")]])
    loss = importance_loss(phi_o, phi_s, idx, n)
    assert loss.item() > 0
    loss.backward()
    grads = [p.grad for p in model.mask.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    model.zero_grad(set_to_none=True)


def test_offline_bert_fails_fast(monkeypatch, no_network, sst2):
    from flatbench.models.transformers import BERT

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # failing fast = deciding with no connection (no_network)
    with pytest.raises(ResourceMissingError) as err:
        BERT.build(sst2, {"max_len": 50}, seed=0, mask=False)
    msg = str(err.value)
    assert "\n" not in msg and "bert-base-uncased" in msg and "pretrained=" in msg


def test_minilm_from_wheel(sst2):
    from flatbench.models.transformers import MINILM

    bundle = MINILM.build(sst2, {"max_len": 50}, seed=0, mask=False)
    from flatbench.registry import GPU_MODELS

    assert MINILM.name not in GPU_MODELS
    assert any("not in the paper" in d for d in bundle.deviations)
    assert bundle.model.net.config.hidden_size == 384 and bundle.tokenizer.pad_id == 0
    logits = bundle.logits(["a wonderful , moving film", "a dull , lifeless mess", "the"])
    assert logits.shape == (3, 2)
    assert abs(logits[0] - logits[1]).max() > 1e-4 and abs(logits[0] - logits[2]).max() > 1e-4


def test_integrated_gradients_on_word_piece_embedding(flat_bundle):
    from captum.attr import LayerIntegratedGradients

    tok, model = flat_bundle.tokenizer, flat_bundle.model
    model.eval()
    ids = tok.batch(["a good cast , but a dull plot"])
    phi = model.forward_full(ids).phi.detach()
    lig = LayerIntegratedGradients(model, model.embedding)
    base = torch.full_like(ids, tok.pad_id)
    attr = lig.attribute(ids, baselines=base, target=1, n_steps=4)
    assert attr.shape == (*ids.shape, model.embedding.weight.shape[1]) and torch.isfinite(attr).all()
    assert float(attr.abs().sum()) > 0
    assert torch.equal(model.forward_full(ids).phi.detach(), phi)  # the hook left phi alone


def test_tiny_bert_and_deberta_go_through_every_stage(tmp_path, data_dir):
    """train r0 -> attack the training set -> FLAT round 1 on D + D' -> evaluate -> attack the test
    set -> IG/LIME consistency, through the CLI, for both real model classes (tiny configs)."""
    import json

    from test_cli import flatbench

    sets = {"tiny": "true", "rounds": 1, "epochs": 4, "round_epochs": 1, "lr": 0.002, "round_lr": 0.001,
            "train_n": 800, "attack_train_n": 30, "attack_test_n": 20, "lime_pairs": 2, "lime_samples": 50,
            "max_len": 32}
    args = ["run", "--grid", "table3", "--models", "bert,deberta", "--datasets", "trec", "--methods", "flat",
            "--attacks", "pwws", "--no-mlflow", "--data-dir", str(data_dir)]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    r = flatbench(*args, cwd=tmp_path, env={"FLATBENCH_ATTACK_WORKERS": "1", "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "12 stages, 0 cached, 12 to run" in r.stderr
    man = {}
    for f in (tmp_path / "runs").rglob("manifest.json"):
        m = json.loads(f.read_text())
        man[m["label"]] = m["metrics"]
    assert len(man) == 12
    for model in ("bert", "deberta"):
        cell = f"{model}-trec-flat-pwws-s13"
        r1 = man[f"train[{cell} r1]"]
        assert r1["adv_attacked"] == 30 and r1["adv_added"] >= 1  # D' is real adversarial text
        assert r1["train_examples"] == 800 + r1["adv_added"]
        assert 0.0 <= man[f"evaluate[{cell}]"]["test_acc"] <= 1.0
        it = man[f"interpret[{cell} pwws]"]
        assert it["n_pairs"] >= 1 and it["lime_pairs_explained"] >= 1
        assert -1.0 <= it["ig_kendall_tau"] <= 1.0 and 0.0 <= it["ig_topk_5"] <= 1.0
    assert "| PWWS     | BERT    | FLAT     | TREC      |" in r.stdout
    assert "| PWWS     | DeBERTa | FLAT     | TREC      |" in r.stdout
