"""flat: the paper's Eq. (1)-(4).

Loss = E_{D ∪ D'}[CE(f(W*x), y) - beta * H(W|x)] + gamma * L_imp, with W sampled by
Gumbel-softmax from the variational word masks, and L_imp = sum |phi_{x_i} - phi_{x'_i}| over the
replaced positions of each (x, x') pair in the batch. phi is global (a function of the word),
so L_imp is computed from the replaced/substitute words themselves and keeps its gradient into
the mask network (the official code's BERT L_imp was built with torch.tensor(list): no gradient).
"""

from flatbench.hparams import P, resolve

NAME = "flat"
USES_MASK = True
ADVERSARIAL = True
HP = {"beta": P(0.1, "float", "weight of the mask entropy H(W|x) (paper: 0.1)", lo=0),
      "masks_fixed": P(False, "bool", "ablation: masks fixed at 1 (no word masking)")}
ROUND_HP = {"gamma": P(0.001, "float", "weight of L_imp, adversarial rounds only (paper: 0.001)", lo=0)}


def batch_loss(bundle, batch, hp):
    from flatbench.training.objectives import importance_loss, masked_prediction_loss  # torch: only when training (plans stay torch-free)

    hp = resolve(hp, {**HP, **ROUND_HP})
    beta, gamma = hp.beta, hp.gamma
    out = bundle.model.forward_full(batch.ids)
    loss = masked_prediction_loss(out.logits, batch.y, out.entropy, beta)
    logs = {"entropy": float(out.entropy.detach().mean())}
    if gamma and batch.pair_words:
        phi_o, phi_s, idx, n = bundle.pair_phi(batch.pair_words)
        l_imp = importance_loss(phi_o, phi_s, idx, n)
        loss = loss + gamma * l_imp
        logs["l_imp"] = float(l_imp.detach())
    return loss, logs
