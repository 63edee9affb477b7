"""ascc: adversarial sparse convex combination (Dong, Luu, Ji & Liu, "Towards Robustness Against
Natural Language Word Substitutions", ICLR 2021).

The adversary lives in the convex hull of each word's substitution set S(w) = {w} ∪ N(w): a word
embedding is replaced by sum_j p_j v(s_j) with p = softmax(w_j) over S(w) (p_j >= 0, sum 1, zero
outside the set). Per batch, the hull weights w start Kaiming-normal and take ``ascc_steps`` Adam
steps (lr ``ascc_w_lr``, weight decay 2e-5) that maximise KL(f(x) || f(x_hat)) minus
``ascc_alpha`` times the mean entropy of p (the sparsity term pushes p toward the hull's
vertices, i.e. real substitutions), with the model in eval mode and f(x) fixed (no gradient).
The model is then trained on CE(f(x), y) + ``ascc_beta`` * KL(f(x) || f(x_hat)) (batch mean),
with x_hat from the final weights (detached). Inference is the plain model.

S(w): the attacks' own counter-fitted neighbour sets N(w) (`flatbench.attacks.synonyms`: the
TextFooler candidates, the 50 nearest neighbours with cos >= the cell's TextFooler bound), restricted to
words the model has one embedding row for (word models: its vocabulary; subword models: words
that are one piece); the set and the space are recorded with the model. The original uses Jia et
al.'s counterfitted_neighbors.json.

Defaults: the authors' code for LSTM/CNN (github.com/dongxinshuai/ASCC, opts.py and
train_imdb.sh): ``ascc_steps`` 10 (train_attack_iters), ``ascc_w_lr`` 10 (w_optm_lr),
``ascc_alpha`` 15 (train_attack_sparse_weight), ``ascc_beta`` 4 (weight_kl, with weight_clean 1);
the search's Adam weight decay 2e-5 and Kaiming-normal start (BaseModelAdv.get_adv_by_convex_syn).
For BERT the authors and TextDefender (trainer/ascc.py) use 5 steps, lr 1, alpha 10:
`--set ascc_steps=5 ascc_w_lr=1 ascc_alpha=10` for the transformer models.
"""

from __future__ import annotations

import weakref

from flatbench.attacks.synonyms import HP as SYNONYM_HP
from flatbench.hparams import P, resolve

NAME = "ascc"
USES_MASK = False
ADVERSARIAL = False  # no attack rounds: the adversary searches the convex hull every batch
HP = {
    "ascc_steps": P(10, "int", "ASCC: Adam steps on the hull weights per batch (authors' LSTM/CNN: 10)", lo=1),
    "ascc_w_lr": P(10.0, "float", "ASCC: Adam learning rate of the hull weights (authors' LSTM/CNN: 10)",
                   lo=0, open_lo=True),
    "ascc_alpha": P(15.0, "float", "ASCC: weight of the entropy (sparsity) term of the search (authors: 15)", lo=0),
    "ascc_beta": P(4.0, "float", "ASCC: weight of KL(clean || hull point) in the loss (authors: 4)", lo=0),
    **SYNONYM_HP,
}
W_WEIGHT_DECAY = 2e-5  # BaseModelAdv.get_adv_by_convex_syn: Adam(weight_decay=2e-5)

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def substitution_table(tokenizer, vocab_size: int, space):
    """(ids (V, K), valid (V, K)): row v lists v itself, then the ids of N(word(v)) the model has a
    row for; padding, specials and words without such neighbours have only themselves."""
    import torch

    from flatbench.attacks.synonyms import id_table

    sets = {w: (w, *ns) for w, ns in space.neighbours.items()}
    ids, counts = id_table(tokenizer, vocab_size, sets, "drop")
    return ids, torch.arange(ids.shape[1]).unsqueeze(0) < counts.unsqueeze(1)


def _table(bundle, hp):
    sig = (hp.synonym_min_cos, hp.synonym_k)
    hit = _TABLES.get(bundle.model)
    if hit is None or hit[0] != sig:
        from flatbench.attacks import synonyms

        space = synonyms.load(hp.synonym_min_cos, hp.synonym_k)
        ids, valid = substitution_table(bundle.tokenizer, bundle.model.embedding.num_embeddings, space)
        hit = _TABLES[bundle.model] = (sig, ids.to(bundle.device), valid.to(bundle.device))
        bundle.config["ascc_space"] = {**space.describe(), "rows_with_substitutes": int((valid.sum(1) > 1).sum())}
        line = space.deviation(NAME)
        if line not in bundle.deviations:
            bundle.deviations.append(line)
    return hit[1], hit[2]


def hull_point(bundle, batch, hp):
    """The adversarial point of the batch in the convex hulls: (p (B, L, K), substitute ids
    (B, L, K), valid (B, L, K), embedding x_hat (B, L, D) = sum_j p_j v(s_j)), p detached."""
    import torch
    import torch.nn.functional as F

    hp = resolve(hp, HP)
    model = bundle.model
    table, valid_tab = _table(bundle, hp)
    sub, valid = table[batch.ids], valid_tab[batch.ids]
    keep = batch.ids != getattr(model, "pad_id", 0)
    sub_emb = model.embedding(sub).detach()  # (B, L, K, D)
    was = model.training
    model.eval()
    with torch.no_grad():
        clean = F.softmax(model.encode(model.embedding(batch.ids), keep), -1)
    w = torch.empty(*sub.shape, 1, device=sub_emb.device, dtype=sub_emb.dtype)
    torch.nn.init.kaiming_normal_(w)
    w.requires_grad_()
    opt = torch.optim.Adam([w], lr=hp.ascc_w_lr, weight_decay=W_WEIGHT_DECAY)
    mask = valid.unsqueeze(-1)
    for _ in range(hp.ascc_steps):
        logits_w = torch.where(mask, w, torch.full_like(w, -500.0))
        p = F.softmax(logits_w, -2)
        x_hat = (p * sub_emb).sum(-2)
        adv = F.log_softmax(model.encode(x_hat, keep), -1)
        kl = F.kl_div(adv, clean, reduction="sum")
        entropy = (-(p * F.log_softmax(logits_w, -2)).sum(-2)).mean()
        loss = -kl + hp.ascc_alpha * entropy
        (g,) = torch.autograd.grad(loss, w)
        opt.zero_grad(set_to_none=True)
        w.grad = g
        opt.step()
    model.train(was)
    with torch.no_grad():
        p = F.softmax(torch.where(mask, w, torch.full_like(w, -500.0)), -2) * mask
    return p, sub, valid, keep


def batch_loss(bundle, batch, hp):
    import torch.nn.functional as F

    from flatbench.training.objectives import cross_entropy

    hp = resolve(hp, HP)
    p, sub, valid, keep = hull_point(bundle, batch, hp)
    model = bundle.model
    logits = model.encode(model.embedding(batch.ids), keep)
    x_hat = (p * model.embedding(sub)).sum(-2)
    adv = model.encode(x_hat, keep)
    kl = F.kl_div(F.log_softmax(adv, -1), F.softmax(logits, -1), reduction="batchmean")
    loss = cross_entropy(logits, batch.y) + hp.ascc_beta * kl
    swappable = keep & (valid.sum(-1) > 1)  # positions whose word has substitutes
    top = p.squeeze(-1).max(-1).values[swappable]  # near 1: the sparsity term keeps p near a vertex
    return loss, {"ascc_kl": float(kl.detach()), "ascc_max_p": float(top.mean()) if len(top) else 1.0}
