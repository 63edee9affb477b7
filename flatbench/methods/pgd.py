"""pgd: PGD-K adversarial training in the word-embedding space (Madry et al., "Towards Deep Learning
Models Resistant to Adversarial Attacks", ICLR 2018), as TextDefender adapts it to text (Li et al.,
"Searching for an Effective Defender", EMNLP 2021; trainer/pgd.py, trainer/gradient.py).

Each step: delta starts uniform in [-1, 1] on the real (non-padding) tokens, scaled to an L2 norm
of about ``pgd_init_mag``; K = ``pgd_steps`` times, delta moves by ``pgd_lr`` along its
(per-example L2-normalised) loss gradient and is projected back to the L2 ball of ``pgd_max_norm``
(0: no projection); the model is then trained on the cross-entropy of the final point x + delta
*only* ("for PGD-K, clean batch is not used when training", TextDefender). Unlike FreeLB (which
averages the parameter gradients of all K points), the K inner steps here only search: their
parameter gradients are discarded. No attack rounds, no masks. The model stays in training mode
during the search, as in TextDefender.

Defaults (TextDefender, `EmbeddingLevelGradientTrainer.add_args`, shared with its FreeLB):
``pgd_steps`` 5, ``pgd_lr`` 0.03, ``pgd_init_mag`` 0.05, ``pgd_max_norm`` 0 (unbounded), L2 norm.
Madry et al. give no text setting. Our word models keep their GloVe rows frozen (the perturbation
acts on the embedding outputs, not on the table), as FreeLB does here.
"""

from __future__ import annotations

from flatbench.hparams import P, resolve

NAME = "pgd"
USES_MASK = False
ADVERSARIAL = False  # trains on D only; its adversary lives in the embedding space
HP = {
    "pgd_steps": P(5, "int", "PGD-K: ascent steps K per batch (TextDefender: 5)", lo=1),
    "pgd_lr": P(0.03, "float", "PGD-K: step size of delta (TextDefender adv_learning_rate: 0.03)", lo=0, open_lo=True),
    "pgd_init_mag": P(0.05, "float", "PGD-K: initial L2 magnitude of delta (TextDefender: 0.05)", lo=0),
    "pgd_max_norm": P(0.0, "float", "PGD-K: L2 bound of delta, 0: none (TextDefender: 0)", lo=0),
}


def adversarial_delta(bundle, batch, hp):
    """(delta, keep): the PGD-K perturbation of the batch's word embeddings (detached) and where
    its real tokens are."""
    import torch

    from flatbench.training.objectives import cross_entropy
    from flatbench.training.perturb import ascend, init_delta, real_tokens

    hp = resolve(hp, HP)
    model = bundle.model
    keep = real_tokens(model, batch.ids)
    emb = model.embedding(batch.ids).detach()
    delta = init_delta(emb, keep, hp.pgd_init_mag)
    for _ in range(hp.pgd_steps):
        delta.requires_grad_()
        loss = cross_entropy(model.encode(emb + delta, keep), batch.y)
        (g,) = torch.autograd.grad(loss, delta)
        delta = ascend(delta, g, keep, hp.pgd_lr, hp.pgd_max_norm)
    return delta.detach(), keep


def batch_loss(bundle, batch, hp):
    from flatbench.training.objectives import cross_entropy

    delta, keep = adversarial_delta(bundle, batch, hp)
    # the embedding is recomputed with its graph, so a trainable table (transformers) learns too
    emb = bundle.model.embedding(batch.ids)
    loss = cross_entropy(bundle.model.encode(emb + delta, keep), batch.y)
    return loss, {"pgd_delta_norm": float(delta.flatten(1).norm(dim=1).mean())}
