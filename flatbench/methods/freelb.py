"""freelb: FreeLB adversarial training in the word-embedding space (Zhu et al., "FreeLB: Enhanced
Adversarial Training for Natural Language Understanding", ICLR 2020, Algorithm 1).

Each step runs K ascent steps on a perturbation delta of the (non-padding) word embeddings,
starting from a random delta of L2 norm about adv_init_mag; the model's gradient is the mean of
the K steps' gradients ("free" large batch), and delta moves by adv_lr along its normalised
gradient, projected to an L2 ball of adv_max_norm (0: unbounded). No attack rounds, no masks:
robustness comes from the embedding perturbation alone.

Defaults: TextDefender's (Li et al., "Searching for an Effective Defender", EMNLP 2021;
trainer/freelb.py): adv_steps 5, adv_learning_rate 0.03, adv_init_mag 0.05, adv_max_norm 0,
L2 norm. Deviation from the official code: the K losses' parameter gradients are summed by one
backward through the K graphs (torch.autograd.grad gives delta's gradient per step) instead of
K backward calls; the gradient is the same.
"""

from flatbench.hparams import P, resolve

NAME = "freelb"
USES_MASK = False
ADVERSARIAL = False  # trains on D only; its adversary lives in the embedding space
HP = {
    "adv_steps": P(5, "int", "FreeLB ascent steps K per batch (TextDefender: 5)", lo=1),
    "adv_lr": P(0.03, "float", "FreeLB step size of delta (TextDefender: 0.03)", lo=0, open_lo=True),
    "adv_init_mag": P(0.05, "float", "FreeLB initial L2 magnitude of delta (TextDefender: 0.05)", lo=0),
    "adv_max_norm": P(0.0, "float", "FreeLB L2 bound of delta, 0: none (TextDefender: 0)", lo=0),
}


def batch_loss(bundle, batch, hp):
    import torch  # here: planning imports this module torch-free

    from flatbench.training.objectives import cross_entropy
    from flatbench.training.perturb import ascend, init_delta, real_tokens

    hp = resolve(hp, HP)
    model = bundle.model
    k_steps = hp.adv_steps
    pad = real_tokens(model, batch.ids)
    emb = model.embedding(batch.ids)
    delta = init_delta(emb, pad, hp.adv_init_mag)
    total = emb.new_zeros(())
    for step in range(k_steps):
        delta.requires_grad_()
        loss = cross_entropy(model.encode(emb + delta, pad), batch.y) / k_steps
        total = total + loss
        if step == k_steps - 1:
            break
        (g,) = torch.autograd.grad(loss, delta, retain_graph=True)
        delta = ascend(delta, g, pad, hp.adv_lr, hp.adv_max_norm)
    return total, {"freelb_delta_norm": float(delta.detach().flatten(1).norm(dim=1).mean())}
