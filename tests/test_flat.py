"""The paper's method: variational word masks, L_imp with gradients, FLAT -> adv equivalence."""

import torch

import flatbench.methods.adv as adv
import flatbench.methods.flat as flat
from flatbench.models.masks import VariationalWordMask
from flatbench.registry import MODELS
from flatbench.training.loop import Example, make_batches
from flatbench.training.objectives import importance_loss

from conftest import SMALL_HP


def _bundle(trec, name="lstm", mask=True, seed=3):
    return MODELS.get(name).build(trec, SMALL_HP, seed=seed, mask=mask)


def test_phi_in_open_unit_interval_and_global(trec):
    b = _bundle(trec)
    tok = b.tokenizer
    ids = tok.batch(["what is the capital of france ?", "the capital , the city , the capital"])
    b.model.eval()
    out = b.model.forward_full(ids)
    phi = out.phi
    assert ((phi > 0) & (phi < 1)).all()
    the = tok.vocab.stoi["the"]
    # the same word has the same phi at every position and in every context
    vals = phi[ids == the]
    assert len(vals) == 4 and torch.allclose(vals, vals[0].expand_as(vals))
    assert torch.allclose(b.model.word_phi(torch.tensor([the])), vals[:1])


def test_training_samples_binary_masks_inference_uses_phi(trec):
    m = VariationalWordMask(8, 16)
    emb = torch.randn(2, 5, 8)
    pad = torch.ones(2, 5, dtype=torch.bool)
    m.train()
    x, phi, ent = m(emb, emb, pad)
    ratio = (x / emb)[..., 0]
    assert set(torch.unique(ratio.round(decimals=5)).tolist()) <= {0.0, 1.0}  # W in {0, 1}
    m.eval()
    x2, phi2, _ = m(emb, emb, pad)
    assert torch.allclose(x2, emb * phi2.unsqueeze(-1))
    # entropy of Bernoulli(phi) averaged over real words, <= log 2
    assert (ent > 0).all() and (ent <= torch.log(torch.tensor(2.0)) + 1e-6).all()
    pad[1, 3:] = False
    _, phi3, ent3 = m(emb, emb, pad)
    h = -(phi3 * phi3.log() + (1 - phi3) * (1 - phi3).log())
    assert torch.allclose(ent3[1], h[1, :3].mean(), atol=1e-5)


def test_l_imp_has_gradients_into_the_mask_network(trec):
    b = _bundle(trec, "cnn")
    phi_o, phi_s, idx, n = b.pair_phi([[("capital", "city"), ("france", "paris")], [("what", "which")]])
    assert phi_o.shape == (3,) and n == 2
    loss = importance_loss(phi_o, phi_s, idx, n)
    assert loss.item() > 0
    loss.backward()
    grads = [p.grad for p in b.model.mask.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum().item() for g in grads) > 0
    # the classifier itself gets no gradient from L_imp
    assert b.model.fc.weight.grad is None


def test_l_imp_value_is_mean_over_pairs_of_summed_distances():
    phi_o = torch.tensor([0.9, 0.5, 0.2])
    phi_s = torch.tensor([0.4, 0.5, 0.6])
    assert importance_loss(phi_o, phi_s, torch.tensor([0, 0, 1]), 2).item() == torch.tensor((0.5 + 0.0 + 0.4) / 2).item()


def test_flat_with_masks_fixed_at_one_and_gamma_zero_is_adv(trec):
    """The paper's Connection paragraph: FLAT degrades to adversarial training."""
    a = _bundle(trec, "lstm", mask=False)
    f = _bundle(trec, "lstm", mask=True)
    f.model.load_state_dict(a.model.state_dict(), strict=False)
    f.model.mask.fixed_ones = True
    ex = [Example(t, int(y)) for t, y in zip(trec.train.texts[:64], trec.train.labels[:64])]
    ex += [Example("what is the city of france ?", 4, [("capital", "city")])]
    import random

    batch = next(make_batches(a, ex, 128, random.Random(0)))
    hp = {"beta": 0.1, "gamma": 0.0}
    for m in (a.model, f.model):
        m.train()
    torch.manual_seed(0)
    la, _ = adv.batch_loss(a, batch, hp)
    torch.manual_seed(0)
    lf, _ = flat.batch_loss(f, batch, hp)
    assert torch.equal(la, lf)
    la.backward()
    lf.backward()
    assert torch.equal(a.model.fc.weight.grad, f.model.fc.weight.grad)
    assert torch.equal(a.model.lstm.weight_hh_l0.grad, f.model.lstm.weight_hh_l0.grad)


def test_flat_loss_adds_gamma_l_imp_and_beta_entropy(trec):
    b = _bundle(trec, "cnn")
    b.model.eval()  # deterministic masks (phi) so the terms can be separated
    ex = [Example("what is the capital of france ?", 4, [("capital", "city")])]
    import random

    batch = next(make_batches(b, ex, 8, random.Random(0)))
    l0, logs0 = flat.batch_loss(b, batch, {"beta": 0.0, "gamma": 0.0})
    l1, logs1 = flat.batch_loss(b, batch, {"beta": 0.0, "gamma": 10.0})
    l2, _ = flat.batch_loss(b, batch, {"beta": 1.0, "gamma": 0.0})
    assert torch.isclose(l1 - l0, torch.tensor(10.0 * logs1["l_imp"]), atol=1e-5)
    assert torch.isclose(l0 - l2, torch.tensor(logs0["entropy"]), atol=1e-5)


def test_cnn_logits_do_not_depend_on_batch_padding(trained_cnn):
    b = trained_cnn
    texts = ["what is it ?", "who wrote the long novel about the war and peace in russia in 1869 ?"]
    alone = b.logits(texts[:1])
    together = b.logits(texts)
    assert abs(alone[0] - together[0]).max() < 1e-5
