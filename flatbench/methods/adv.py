"""adv: traditional adversarial training, the paper's Eq. (5): cross-entropy on D ∪ D'."""

NAME = "adv"
USES_MASK = False
ADVERSARIAL = True
ROUND0 = "base"  # round 0 trains on D with cross-entropy: the same model as base


def batch_loss(bundle, batch, hp):
    from flatbench.training.objectives import cross_entropy  # torch: only when training (plans stay torch-free)

    logits = bundle.model(batch.ids)
    return cross_entropy(logits, batch.y), {}
