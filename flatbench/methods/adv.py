"""adv: traditional adversarial training, the paper's Eq. (5): cross-entropy on D ∪ D'."""

from flatbench.training.objectives import cross_entropy

NAME = "adv"
USES_MASK = False
ADVERSARIAL = True


def batch_loss(bundle, batch, hp):
    logits = bundle.model(batch.ids)
    return cross_entropy(logits, batch.y), {}
